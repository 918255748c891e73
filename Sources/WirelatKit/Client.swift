import WirelatCore
import WirelatIO

/// What the client tells its caller while a test runs.
public struct ClientEvents {
    public var ready: (ServerReady) -> Void = { _ in }
    public var interval: (IntervalReport) -> Void = { _ in }
    public init() {}
}

/// oratcptest's client: sync request/response or async streaming over N
/// connections on one epoll loop, timing every round trip.
public final class Client {
    public let settings: ClientSettings
    private let loop: EventLoop
    private let events: ClientEvents
    private var target: SocketAddress?
    private var connections: [ClientConnection] = []

    enum Phase { case connecting, running, ending, done }
    private var phase = Phase.connecting
    private var failure: String?
    private var interrupted = false

    /// With --rate: latency from each request's intended send time (app clock).
    private var total = LatencyRecorder()
    private var current = LatencyRecorder()
    private var wireTotal = LatencyRecorder()
    private var wireCurrent = LatencyRecorder()
    private var appTotal = LatencyRecorder()
    private var appCurrent = LatencyRecorder()
    /// Why the wire clock is not taken, when it is not.
    private var wireMissing: String?
    /// Every round trip on both clocks, kept only for `--samples`.
    public private(set) var samples: [ClientSample] = []
    private var intervals: [IntervalReport] = []
    private var totalPayloadBytes: UInt64 = 0
    private var currentPayloadBytes: UInt64 = 0
    private var currentRoundtrips: UInt64 = 0
    private var totalRoundtrips: UInt64 = 0
    private var startTime: UInt64 = 0
    private var intervalStart: UInt64 = 0
    private var lastCompletion: UInt64 = 0
    /// When the test stopped asking: its duration elapsed, Ctrl-C, or a failure mid-test.
    /// Rates are over start → the later of this and the last completed exchange, so a
    /// `--delay` longer than the last gap still counts as test time.
    private var testEnd: UInt64 = 0
    /// When the server last sent anything; after the test ends the client waits for
    /// as long as the server keeps answering.
    private var lastHeard: UInt64 = 0
    private var readyCount = 0
    private var doneCount = 0
    private var serverReady: ServerReady?
    private var serverSide = ServerSideReport()
    private var kernelFallbacks: UInt64 = 0
    private var timers: [TimerID] = []
    private let readBuffer: UnsafeMutableRawBufferPointer
    private let ratePeriod: UInt64
    /// One sync connection with nothing to pace it: after the handshake its
    /// socket blocks in `read` for the reply, as an application's would, instead
    /// of going through epoll_wait: two system calls per round trip, not three.
    private let direct: Bool
    private static let directWaitNanoseconds: UInt64 = 20_000_000

    public init(settings: ClientSettings, loop: EventLoop, events: ClientEvents = ClientEvents()) {
        self.settings = settings
        self.loop = loop
        self.events = events
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
        if let rate = settings.rate {
            ratePeriod = UInt64(Double(settings.connections) / rate * 1e9)
        } else {
            ratePeriod = 0
        }
        direct = settings.mode == .sync && settings.connections == 1 && settings.rate == nil && settings.delayNanoseconds == 0
    }

    deinit {
        for c in connections where c.registered { loop.deregister(c.socket.rawValue) }
        payload?.deallocate()
        readBuffer.deallocate()
    }

    /// Runs the whole test and returns its report; `report.error` says what failed.
    public func run() -> ClientReport {
        do {
            try start()
            // A failure while connecting may already have ended the test.
            if phase != .done { try loop.run() }
        } catch {
            fail("\(error)")
        }
        return report()
    }

    /// Ends the test early (Ctrl-C): what was measured so far is kept. Called again
    /// (a second Ctrl-C) while the replies still due are awaited, it stops waiting for
    /// them; the report of what was measured is still made.
    public func interrupt() {
        switch phase {
        case .connecting:
            interrupted = true
            fail("interrupted before the test started")
        case .running:
            interrupted = true
            beginEnding()
        case .ending:
            interrupted = true
            abandonedReplies = connections.reduce(0) { $0 + $1.expectedReplies }
            complete()
        case .done:
            break
        }
    }

    /// Replies still due when a second interrupt ended the wait for them.
    private var abandonedReplies = 0

    private func start() throws(ClientError) {
        do {
            candidates = try SocketAddress.resolveAll(host: settings.host, port: settings.port)
        } catch {
            throw .failed(error.description)
        }
        testID = UInt64.random(in: 1...UInt64.max)
        payload = Self.payload(length: settings.length, seed: testID)
        try connectAll(candidate: 0)
    }

    /// The host's addresses in getaddrinfo's order (RFC 6724); the test runs on the first
    /// that accepts every connection, as ssh and curl try them.
    private var candidates: [SocketAddress] = []
    private var candidateIndex = 0
    /// "address: reason" for each address that could not be connected.
    private var connectFailures: [String] = []
    private var testID: UInt64 = 0
    /// The request payload, filled once per test (see `payload(length:seed:)`); freed when the test begins.
    private var payload: UnsafeMutableRawBufferPointer?

    /// Opens every connection to `candidates[candidate]`.
    private func connectAll(candidate: Int) throws(ClientError) {
        candidateIndex = candidate
        let target = candidates[candidate]
        self.target = target
        let connectTimeout = settings.timeoutNanoseconds > 0 ? settings.timeoutNanoseconds : 10_000_000_000
        let attempt = connectFailures.count
        timers.append(loop.schedule(after: connectTimeout) { [weak self] in
            guard let self, self.phase == .connecting, self.connectFailures.count == attempt else { return }
            let connected = self.connections.filter { $0.state != .connecting }.count
            let why = "no answer within \(formatDuration(.nanoseconds(Int64(connectTimeout))))"
            if connected == 0 {
                self.connectFailed(why)
            } else {
                self.fail("no answer from \(target) within \(formatDuration(.nanoseconds(Int64(connectTimeout)))) (connected \(connected) of \(self.settings.connections), ready \(self.readyCount))")
            }
        })
        for i in 0..<settings.connections {
            let c: ClientConnection
            do {
                let socket = try TCPSocket(family: target.family)
                if let size = settings.socketBuffer { try socket.setBufferSizes(size) }
                try socket.setNoDelay()
                c = ClientConnection(index: i, socket: socket, settings: settings, payload: UnsafeRawBufferPointer(payload!))
                c.hello = ControlMessage.request(TestRequest(
                    mode: settings.mode, wantsDiskWrite: settings.wantsDiskWrite, payloadLength: UInt32(settings.length),
                    durationNanoseconds: settings.durationNanoseconds, testID: testID,
                    connectionIndex: UInt16(i), connectionCount: UInt16(settings.connections),
                    ackEvery: settings.mode == .async ? settings.asyncAckEvery : 0, acceptsErrors: true)).encoded()
                connections.append(c)
                let fd = socket.rawValue
                try loop.register(fd, interest: [.writable]) { [unowned self, unowned c] ev in self.handle(c, ev) }
                c.registered = true
                if try socket.startConnect(to: target) { connected(c) }
            } catch {
                if error.errno == Errno.tooManyOpenFiles {
                    throw .failed("too many open files for \(settings.connections) connections (raise the limit with ulimit -n)")
                }
                connectFailed(error.description.replacing("connect: ", with: ""))
                return
            }
            if phase != .connecting || candidateIndex != candidate { return }
        }
    }

    /// The address being tried refused or did not answer: the next one is tried, or,
    /// when none is left, the test fails naming every address and why.
    private func connectFailed(_ why: String) {
        guard phase == .connecting, let target else { return }
        connectFailures.append("\(target): \(why)")
        for c in connections { close(c) }
        connections.removeAll()
        for t in timers { loop.cancel(t) }
        timers.removeAll()
        readyCount = 0
        guard candidateIndex + 1 < candidates.count else {
            fail("cannot connect to \(connectFailures.count == 1 ? connectFailures[0] : "\(settings.host) at any of its addresses: " + connectFailures.joined(separator: "; "))")
            return
        }
        do {
            try connectAll(candidate: candidateIndex + 1)
        } catch {
            fail(error.description)
        }
    }

    /// `length` bytes of pseudo-random payload (incompressible, as oratcptest's RANDOM
    /// content), made once per test and copied into every connection's request.
    /// xoshiro256** fills 16 MiB in milliseconds, where the system generator (getrandom)
    /// took over 6 s: long enough for the server's handshake timeout to expire.
    static func payload(length: Int, seed: UInt64) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 16)
        var rng = SeededRandom(seed: seed)
        var i = 0
        while i + 8 <= length {
            buffer.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < length {
            let last = rng.next()
            for k in i..<length { buffer[k] = UInt8(truncatingIfNeeded: last >> (8 * UInt64(k - i))) }
        }
        return buffer
    }

    private func handle(_ c: ClientConnection, _ ev: IOEvents) {
        if c.state == .connecting {
            if let e = c.socket.pendingError() {
                connectFailed(e.description.replacing("connect: ", with: ""))
                return
            }
            if ev.contains(.writable) || ev.contains(.hangup) { connected(c) }
            return
        }
        // With timestamps on, EPOLLERR also means a TX timestamp in the error queue. A
        // socket error is left for the read to report, after what the server sent before
        // it (its error message) has been read.
        if ev.contains(.error) && c.kernelTimestamps { c.collectTransmitTimestamp() }
        if ev.contains(.writable) { continueSending(c) }
        if ev.contains(.readable) || ev.contains(.hangup) || ev.contains(.error) {
            readFrom(c)
        }
        if direct { runDirect(c) }
    }

    /// Round trips back to back on a blocking socket, until a timer is due,
    /// a signal arrives, the reply is slow to come, or the test ends.
    private func runDirect(_ c: ClientConnection) {
        let deadline = loop.nextDeadline
        while phase == .running && c.state == .awaitingReply && c.sendLength == 0 && !loop.interruptPending {
            if !readFrom(c) { return }
            if monotonicNanoseconds() >= deadline { return }
        }
    }

    private func connected(_ c: ClientConnection) {
        if settings.takesWireClock {
            // SOF_TIMESTAMPING_OPT_ID needs an established TCP connection. A kernel that
            // refuses leaves the app clock, and the report says why the wire one is missing.
            do {
                try c.socket.enableReceiveTimestamps()
                c.kernelTimestamps = true
            } catch {
                wireMissing = "no kernel timestamps: \(error)"
            }
        }
        c.state = .awaitingReady
        c.pending = c.hello
        c.pendingOffset = 0
        continueSending(c)
    }

    // MARK: Sending

    /// Writes what is pending; when done, moves the connection on.
    private func continueSending(_ c: ClientConnection) {
        if !c.pending.isEmpty {
            do {
                if try !c.writePending() {
                    watch(c, write: true)
                    return
                }
            } catch {
                lost(c, error)
                return
            }
            if c.state == .endSent || c.state == .awaitingReady {
                watch(c, write: false)
                return
            }
        }
        if c.sendOffset < c.sendLength && c.sendLength > 0 {
            guard flushRequest(c) else { return }
        }
        if settings.mode == .async && phase == .running && c.state == .streaming {
            pumpAsync(c)
        } else if settings.mode == .async && phase == .ending && c.state == .streaming {
            sendEnd(c)
        } else {
            watch(c, write: false)
        }
    }

    private func watch(_ c: ClientConnection, write: Bool) {
        guard c.watchingWrite != write || c.state == .awaitingReady && !c.readWatched else { return }
        c.watchingWrite = write
        c.readWatched = true
        var interest: IOEvents = [.readable]
        if write { interest.insert(.writable) }
        try? loop.modify(c.socket.rawValue, interest: interest)
    }

    private func sendRequest(_ c: ClientConnection, intended: UInt64) {
        guard phase == .running, c.state == .idle else { return }
        c.prepareRequest(ackRequested: true)
        c.stampThisRequest = c.kernelTimestamps && c.sequence % settings.wireEvery == 0
        c.intendedStart = intended
        c.state = .awaitingReply
        c.sendStart = monotonicNanoseconds()
        if c.intendedStart == 0 { c.intendedStart = c.sendStart }
        _ = flushRequest(c)
    }

    /// Writes the rest of the request under way; true once all of it has gone,
    /// false when the socket would block (writability is then watched) or failed.
    private func flushRequest(_ c: ClientConnection) -> Bool {
        do {
            if try !c.writeRequest() {
                watch(c, write: true)
                return false
            }
        } catch {
            lost(c, error)
            return false
        }
        requestWritten(c)
        return true
    }

    private func requestWritten(_ c: ClientConnection) {
        c.sendLength = 0
        c.sendOffset = 0
        if c.watchingWrite && settings.mode == .sync { watch(c, write: false) }
        if settings.mode == .async {
            c.messagesSent += 1
            c.asyncPayloadBytes += UInt64(settings.length)
            currentPayloadBytes += UInt64(settings.length)
            totalPayloadBytes += UInt64(settings.length)
            currentRoundtrips += 1
            totalRoundtrips += 1
            if c.lastAckRequested { c.outstanding.append((c.sequence, c.sendStart)) }
            c.sequence &+= 1
        }
    }

    private func pumpAsync(_ c: ClientConnection) {
        // A request still half written goes first; writability resumes it.
        if c.sendLength > 0 { return }
        for _ in 0..<64 {
            guard phase == .running, c.state == .streaming, c.outstanding.count < 8 else {
                watch(c, write: false)
                return
            }
            let every = settings.asyncAckEvery
            c.prepareRequest(ackRequested: (c.sequence &+ 1) % every == 0)
            c.sendStart = monotonicNanoseconds()
            guard flushRequest(c) else { return }
        }
        watch(c, write: true)
    }

    private func sendEnd(_ c: ClientConnection) {
        guard c.state == .idle || c.state == .streaming else { return }
        if let t = c.timer { loop.cancel(t); c.timer = nil }
        c.state = .endSent
        c.pending = c.endMessage()
        c.pendingOffset = 0
        continueSending(c)
    }

    // MARK: Receiving

    /// Reads and handles what arrived; false when nothing did.
    @discardableResult
    private func readFrom(_ c: ClientConnection) -> Bool {
        let result: IOResult<Int>
        do {
            result = try c.read(into: readBuffer)
        } catch {
            lost(c, error)
            return false
        }
        guard case .processed(let n) = result else { return false }
        if n == 0 {
            lost(c, nil)
            return false
        }
        let now = monotonicNanoseconds()
        lastHeard = now
        var i = 0
        let bytes = UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])
        while i < n {
            if c.state == .closed { return false }
            if c.expectedReplies > 0 && !c.serverErrorFollows {
                let k = min(n - i, c.replies.bytesNeeded)
                var completed: UInt32?
                c.replies.consume(UnsafeRawBufferPointer(rebasing: bytes[i..<i + k])) { completed = $0 }
                i += k
                guard let seq = completed else { continue }
                if seq == WireProtocol.magic && !c.isDue(seq) {
                    // The server's error message, in place of a reply (docs/PROTOCOL.md).
                    c.serverErrorFollows = true
                    c.control = [0x57, 0x4C, 0x41, 0x54]
                } else {
                    reply(c, sequence: seq, at: now)
                }
            } else if c.state == .awaitingReady || c.state == .endSent || c.serverErrorFollows
                        || ((c.state == .streaming || c.state == .idle) && bytes[i] == 0x57) {
                c.serverErrorFollows = c.serverErrorFollows || c.state == .streaming || c.state == .idle
                c.control.append(contentsOf: bytes[i...])
                i = n
                controlMessage(c)
            } else {
                protocolFailure(c, "\(n - i) unexpected bytes from the server")
                return false
            }
        }
        return true
    }

    private func controlMessage(_ c: ClientConnection) {
        let decoded: (message: ControlMessage, consumed: Int)?
        do {
            decoded = try c.control.withUnsafeBytes { b in Result { () throws(ProtocolError) in try ControlMessage.decode(b) } }.get()
        } catch {
            protocolFailure(c, "the server's answer is not wirelat's protocol (\(error.description)); is a wirelat server listening on port \(settings.port)?")
            return
        }
        guard let (message, consumed) = decoded else { return }
        c.control.removeFirst(consumed)
        switch (message, c.state) {
        case (.ready(let ready), .awaitingReady):
            serverReady = ready
            if direct {
                do {
                    try c.socket.setBlocking(timeoutNanoseconds: Self.directWaitNanoseconds)
                } catch {
                    fail("\(error)")
                    return
                }
            }
            c.state = settings.mode == .sync ? .idle : .streaming
            readyCount += 1
            if readyCount == settings.connections { begin() }
        case (.refused(let reason), _):
            fail("the server refused the test: \(reason)")
        case (.error(let reason), _):
            fail("\(reason) (connection \(c.index + 1), after \(totalRoundtrips) round trips)")
        case (.summary(let s), .endSent):
            serverSide.summaries = (serverSide.summaries ?? 0) + 1
            serverSide.messages += s.messages
            serverSide.payloadBytes += s.payloadBytes
            if s.fsyncs > 0 {
                let n = serverSide.fsyncs + s.fsyncs
                serverSide.fsyncMeanNanoseconds = (serverSide.fsyncMeanNanoseconds * serverSide.fsyncs + s.fsyncMeanNanoseconds * s.fsyncs) / n
                serverSide.fsyncs = n
                serverSide.fsyncP99Nanoseconds = max(serverSide.fsyncP99Nanoseconds, s.fsyncP99Nanoseconds)
                serverSide.fsyncMaxNanoseconds = max(serverSide.fsyncMaxNanoseconds, s.fsyncMaxNanoseconds)
            }
            finish(c)
        default:
            protocolFailure(c, "unexpected control message from the server")
        }
    }

    private func reply(_ c: ClientConnection, sequence: UInt32, at now: UInt64) {
        if settings.mode == .async {
            guard let first = c.outstanding.first, first.sequence == sequence else {
                protocolFailure(c, "acknowledgement \(sequence) does not match the request it should answer")
                return
            }
            c.outstanding.removeFirst()
            record(app: now &- first.sentAt, wire: nil, intended: nil, at: now, roundtrip: false)
            if c.state == .endSent && c.outstanding.isEmpty { return }
            if phase == .running { pumpAsync(c) }
            return
        }
        guard c.state == .awaitingReply, sequence == c.sequence else {
            protocolFailure(c, "reply \(sequence) where \(c.sequence) was expected")
            return
        }
        let app = now &- c.sendStart
        var wire: UInt64?
        let received = c.lastRxTimestamp
        if c.kernelTimestamps && c.stampThisRequest {
            if c.lastTxTimestamp == 0 { c.collectTransmitTimestamp() }
            if received > 0, c.lastTxTimestamp > 0, received > c.lastTxTimestamp {
                wire = UInt64(received - c.lastTxTimestamp)
            } else {
                kernelFallbacks += 1
            }
            c.lastTxTimestamp = 0
            c.lastRxTimestamp = 0
        }
        record(app: app, wire: wire, intended: ratePeriod > 0 ? now &- c.intendedStart : nil, at: now, roundtrip: true)
        if settings.keepSamples {
            samples.append(ClientSample(timeNanoseconds: received > 0 ? received : realtimeNanoseconds(),
                                        wireRttNanoseconds: wire, appRttNanoseconds: app))
        }
        c.sequence &+= 1
        c.state = .idle
        if let t = c.timer { loop.cancel(t); c.timer = nil }
        next(c, now: now)
    }

    private func next(_ c: ClientConnection, now: UInt64) {
        if phase != .running {
            sendEnd(c)
            return
        }
        if ratePeriod > 0 {
            let intended = c.intendedStart &+ ratePeriod
            if intended <= now {
                sendRequest(c, intended: intended)
            } else {
                c.timer = loop.schedule(at: intended) { [weak self, unowned c] in
                    c.timer = nil
                    self?.sendRequest(c, intended: intended)
                }
            }
        } else if settings.delayNanoseconds > 0 {
            c.timer = loop.schedule(after: settings.delayNanoseconds) { [weak self, unowned c] in
                c.timer = nil
                self?.sendRequest(c, intended: 0)
            }
        } else {
            sendRequest(c, intended: 0)
        }
    }

    /// With --timeout, one timer checks every connection a few times per
    /// timeout period, rather than one timer per request.
    private func watchReplyTimeouts() {
        let timeout = settings.timeoutNanoseconds
        guard timeout > 0 else { return }
        let tick = max(1_000_000, min(timeout / 4, 100_000_000))
        timers.append(loop.schedule(after: tick) { [weak self] in
            guard let self, self.phase == .running || self.phase == .ending else { return }
            let now = monotonicNanoseconds()
            for c in self.connections where c.state == .awaitingReply && now &- c.sendStart > timeout {
                self.fail("no reply from the server within \(formatDuration(.nanoseconds(Int64(timeout)))) (connection \(c.index + 1), request \(c.sequence))")
                return
            }
            self.watchReplyTimeouts()
        })
    }

    @inline(__always)
    private func record(app: UInt64, wire: UInt64?, intended: UInt64?, at now: UInt64, roundtrip: Bool) {
        appTotal.record(app)
        appCurrent.record(app)
        if let wire {
            wireTotal.record(wire)
            wireCurrent.record(wire)
        }
        if let intended {
            total.record(intended)
            current.record(intended)
        }
        lastCompletion = now
        if roundtrip {
            totalRoundtrips += 1
            currentRoundtrips += 1
            totalPayloadBytes += UInt64(settings.length)
            currentPayloadBytes += UInt64(settings.length)
        }
    }

    // MARK: Phases

    private func begin() {
        payload?.deallocate()
        payload = nil
        for t in timers { loop.cancel(t) }
        timers.removeAll()
        phase = .running
        events.ready(serverReady ?? ServerReady(thinkTimeNanoseconds: 0, diskWrite: false, maxPayloadLength: 0))
        startTime = monotonicNanoseconds()
        intervalStart = startTime
        lastCompletion = startTime
        timers.append(loop.schedule(at: startTime &+ settings.durationNanoseconds) { [weak self] in self?.beginEnding() })
        scheduleInterval(at: startTime &+ settings.intervalNanoseconds)
        for c in connections {
            if settings.mode == .sync {
                let offset = ratePeriod > 0 ? ratePeriod / UInt64(settings.connections) * UInt64(c.index) : 0
                if offset == 0 {
                    sendRequest(c, intended: startTime)
                    if direct { runDirect(c) }
                } else {
                    c.timer = loop.schedule(at: startTime &+ offset) { [weak self, unowned c] in
                        c.timer = nil
                        self?.sendRequest(c, intended: (self?.startTime ?? 0) &+ offset)
                    }
                }
            } else {
                pumpAsync(c)
            }
        }
        watchReplyTimeouts()
    }

    private func scheduleInterval(at deadline: UInt64) {
        timers.append(loop.schedule(at: deadline) { [weak self] in
            guard let self, self.phase == .running else { return }
            self.closeInterval(at: monotonicNanoseconds())
            self.scheduleInterval(at: deadline &+ self.settings.intervalNanoseconds)
        })
    }

    private func closeInterval(at now: UInt64) {
        let span = Double(now &- intervalStart) / 1e9
        let primary = ratePeriod > 0 ? current : wireClockTaken ? wireCurrent : appCurrent
        var report = IntervalReport(
            startSeconds: Double(intervalStart &- startTime) / 1e9,
            endSeconds: Double(now &- startTime) / 1e9,
            samples: primary.count,
            roundtripsPerSecond: span > 0 ? Double(currentRoundtrips) / span : 0,
            throughputBytesPerSecond: span > 0 ? Double(currentPayloadBytes) / span : 0,
            rttNanoseconds: primary.summary())
        if wireClockTaken { report.wireRttNanoseconds = wireCurrent.summary() }
        report.appRttNanoseconds = appCurrent.summary()
        intervals.append(report)
        events.interval(report)
        current.reset()
        wireCurrent.reset()
        appCurrent.reset()
        currentRoundtrips = 0
        currentPayloadBytes = 0
        intervalStart = now
    }

    private func beginEnding() {
        guard phase == .running else { return }
        phase = .ending
        testEnd = monotonicNanoseconds()
        for c in connections {
            switch c.state {
            case .idle: sendEnd(c)
            case .streaming: if c.sendLength == 0 { sendEnd(c) }
            default: break
            }
        }
        let grace = max(settings.timeoutNanoseconds, 5_000_000_000) &+ (serverReady?.thinkTimeNanoseconds ?? 0)
        let now = monotonicNanoseconds()
        lastHeard = max(lastHeard, now)
        watchDrain(grace: grace, from: now, for: max(Self.longestDrainNanoseconds, grace))
    }

    /// The longest wait, after the test ends, for a server that keeps answering: one
    /// writing and fsyncing a deep async backlog to a slow disk, say.
    static let longestDrainNanoseconds: UInt64 = 60_000_000_000

    /// Fails the test when the server has sent nothing for `grace`, or `longest` after `ended`.
    private func watchDrain(grace: UInt64, from ended: UInt64, for longest: UInt64) {
        let limit = ended &+ longest
        timers.append(loop.schedule(at: min(lastHeard &+ grace, limit)) { [weak self] in
            guard let self, self.phase == .ending else { return }
            let now = monotonicNanoseconds()
            let waiting = self.connections.filter { $0.state != .closed }.count
            let connections = "\(waiting) connection\(waiting == 1 ? "" : "s")"
            if now >= limit {
                self.fail("\(connections) did not finish within \(formatDuration(.nanoseconds(Int64(longest)))) after the test ended, though the server was still answering")
            } else if now &- self.lastHeard >= grace {
                self.fail("\(connections) did not finish: nothing from the server for \(formatDuration(.nanoseconds(Int64(grace)))) after the test ended")
            } else {
                self.watchDrain(grace: grace, from: ended, for: longest)
            }
        })
    }

    private func finish(_ c: ClientConnection) {
        close(c)
        doneCount += 1
        if doneCount == connections.count { complete() }
    }

    private func complete() {
        guard phase != .done else { return }
        if phase == .running { testEnd = monotonicNanoseconds() }
        if phase == .running || phase == .ending {
            let now = lastCompletion
            if appCurrent.count > 0 && Double(now &- intervalStart) >= Double(settings.intervalNanoseconds) * 0.1 {
                closeInterval(at: now)
            }
        }
        phase = .done
        for t in timers { loop.cancel(t) }
        for c in connections where c.state != .closed { close(c) }
        loop.stop()
    }

    private func close(_ c: ClientConnection) {
        if c.registered {
            loop.deregister(c.socket.rawValue)
            c.registered = false
        }
        if let t = c.timer { loop.cancel(t); c.timer = nil }
        if c.index == 0 && c.socket.rawValue >= 0 {
            sendBuffer = c.socket.bufferSizes
        }
        c.socket.close()
        c.state = .closed
    }

    private var sendBuffer: (send: Int, receive: Int)?

    /// True once any connection has kernel timestamps on: `rtt_ns` is then the wire clock.
    public var wireClockTaken: Bool { connections.contains { $0.kernelTimestamps } }

    /// Why no round trip has a wire time when nothing more specific was recorded.
    private var wireMissingReason: String {
        if settings.mode == .async {
            return "async mode: requests are streamed and acknowledged in batches, so an acknowledgement has no request TX → reply RX pair of its own"
        }
        if !settings.takesWireClock { return "--timestamps monotonic: the application's clock only" }
        if totalRoundtrips == 0 { return "no round trip completed" }
        return "no reply came with both kernel timestamps (TX of the request, RX of the reply)"
    }

    /// The histograms behind the report, for `--hgrm`: wire and app, where measured.
    public func distributions() -> [(clock: String, recorder: LatencyRecorder)] {
        var out: [(clock: String, recorder: LatencyRecorder)] = []
        if wireTotal.count > 0 { out.append((RoundTripClock.wire.rawValue, wireTotal)) }
        out.append((RoundTripClock.app.rawValue, appTotal))
        return out
    }

    private func lost(_ c: ClientConnection, _ error: SystemError?) {
        if c.state == .connecting {
            connectFailed(error.map { $0.description.replacing("connect: ", with: "") } ?? "connection closed")
            return
        }
        if phase == .connecting && c.state == .awaitingReady && error != nil {
            fail("cannot connect to \(target.map { "\($0)" } ?? settings.host): \(error.map { "\($0)" } ?? "connection closed")")
            return
        }
        if phase == .connecting {
            fail("the server closed the connection before the test started; is a wirelat server listening on \(target.map { "\($0)" } ?? "")?")
            return
        }
        let what = error.map { $0.isConnectionLoss ? "connection reset by the server" : "\($0)" } ?? "the server closed the connection"
        fail("\(what) mid-test (connection \(c.index + 1), after \(settings.exchanges(totalRoundtrips)))")
    }

    private func protocolFailure(_ c: ClientConnection, _ why: String) {
        fail(why)
    }

    private func fail(_ why: String) {
        if failure == nil { failure = why }
        complete()
    }

    // MARK: Report

    private func report() -> ClientReport {
        let stopped = max(lastCompletion, testEnd)
        let end = stopped > startTime ? stopped : monotonicNanoseconds()
        let seconds = startTime > 0 ? Double(end &- startTime) / 1e9 : 0
        let clock: RoundTripClock = ratePeriod == 0 && wireTotal.count > 0 ? .wire : .app
        let summary = ratePeriod > 0 ? total.summary() : clock == .wire ? wireTotal.summary() : appTotal.summary()
        var r = ClientReport(
            method: settings.method, target: target?.description ?? "\(settings.host):\(settings.port)",
            mode: settings.mode, length: settings.length, connections: settings.connections,
            samples: appTotal.count, rttNanoseconds: summary,
            roundtripsPerSecond: seconds > 0 ? Double(totalRoundtrips) / seconds : 0,
            throughputBytesPerSecond: seconds > 0 ? Double(totalPayloadBytes) / seconds : 0,
            intervals: intervals, requestBytes: settings.requestBytes,
            replyBytes: WireProtocol.replySize, clock: clock,
            durationSeconds: seconds, completed: failure == nil)
        r.error = failure
        r.interrupted = interrupted
        if abandonedReplies > 0 { r.repliesAbandoned = abandonedReplies }
        r.socketSendBuffer = sendBuffer?.send
        r.socketReceiveBuffer = sendBuffer?.receive
        r.appRttNanoseconds = appTotal.summary()
        if wireTotal.count > 0 {
            r.wireRttNanoseconds = wireTotal.summary()
        } else {
            r.wireClockMissing = wireMissing ?? wireMissingReason
        }
        if ratePeriod > 0 {
            r.rateTarget = settings.rate
            r.serviceTimeNanoseconds = r.wireRttNanoseconds ?? r.appRttNanoseconds
        }
        if wireClockTaken {
            r.kernelTimestampFallbacks = kernelFallbacks
            r.wireEvery = settings.wireEvery
        }
        if let ready = serverReady {
            serverSide.thinkTimeNanoseconds = ready.thinkTimeNanoseconds
            serverSide.diskWrite = ready.diskWrite
            serverSide.summaries = serverSide.summaries ?? 0
            r.server = serverSide
        }
        return r
    }
}

public enum ClientError: Error, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self { case .failed(let s): return s }
    }
}

/// One connection's state in a client test.
final class ClientConnection {
    enum State { case connecting, awaitingReady, idle, awaitingReply, streaming, endSent, closed }

    let index: Int
    let socket: TCPSocket
    let payloadLength: Int
    /// SO_TIMESTAMPING is on: reads take the RX timestamp, and each request's TX timestamp
    /// is read from the error queue by its OPT_ID key.
    var kernelTimestamps = false
    /// Bytes written since timestamping was enabled, wrapping: the OPT_ID key of the
    /// last byte written is this minus 1.
    var timestampedBytes: UInt32 = 0
    /// The request being written asks for its TX timestamp (every `--wire-every`th does).
    var stampThisRequest = false
    var state = State.connecting
    var registered = false
    var watchingWrite = true
    var readWatched = false
    var hello: [UInt8] = []
    var pending: [UInt8] = []
    var pendingOffset = 0
    var control: [UInt8] = []
    var replies = ReplyStreamParser()
    var sequence: UInt32 = 0
    var sendStart: UInt64 = 0
    var intendedStart: UInt64 = 0
    var timer: TimerID?
    var outstanding: [(sequence: UInt32, sentAt: UInt64)] = []
    var messagesSent: UInt64 = 0
    var asyncPayloadBytes: UInt64 = 0
    var lastAckRequested = false
    var lastTxTimestamp: Int64 = 0
    var lastRxTimestamp: Int64 = 0
    /// The server's error message is arriving where a reply was due.
    var serverErrorFollows = false

    /// The request being written: header + payload, and how much has gone.
    let request: UnsafeMutableRawBufferPointer
    var sendLength = 0
    var sendOffset = 0
    private let control256: UnsafeMutableRawBufferPointer

    init(index: Int, socket: TCPSocket, settings: ClientSettings, payload: UnsafeRawBufferPointer) {
        self.index = index
        self.socket = socket
        payloadLength = settings.length
        request = .allocate(byteCount: WireProtocol.messageHeaderSize + settings.length, alignment: 16)
        control256 = .allocate(byteCount: 512, alignment: 16)
        UnsafeMutableRawBufferPointer(rebasing: request[WireProtocol.messageHeaderSize...]).copyMemory(from: payload)
    }

    deinit {
        request.deallocate()
        control256.deallocate()
    }

    /// True when `sequence` is the reply (or acknowledgement) this connection waits for next.
    func isDue(_ sequence: UInt32) -> Bool {
        state == .awaitingReply ? sequence == self.sequence : outstanding.first?.sequence == sequence
    }

    var expectedReplies: Int {
        switch state {
        case .awaitingReply: return 1
        case .streaming, .endSent: return outstanding.count
        default: return 0
        }
    }

    func prepareRequest(ackRequested: Bool) {
        MessageHeader(kind: .data, ackRequested: ackRequested, sequence: sequence, payloadLength: UInt32(payloadLength))
            .write(to: request)
        lastAckRequested = ackRequested
        sendLength = request.count
        sendOffset = 0
    }

    func endMessage() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: WireProtocol.messageHeaderSize)
        bytes.withUnsafeMutableBytes { MessageHeader(kind: .end, sequence: sequence, payloadLength: 0).write(to: $0) }
        return bytes
    }

    /// Writes the rest of the request; true when all of it has gone.
    @inline(__always)
    func writeRequest() throws(SystemError) -> Bool {
        while sendOffset < sendLength {
            let rest = UnsafeRawBufferPointer(rebasing: request[sendOffset..<sendLength])
            // Every write of a timed request asks for a stamp: the one of its last byte is kept.
            let result = try stampThisRequest ? socket.writeRequestingTransmitTimestamp(rest) : socket.write(rest)
            guard case .processed(let n) = result else { return false }
            sendOffset += n
            timestampedBytes &+= UInt32(truncatingIfNeeded: n)
        }
        return true
    }

    /// Writes the pending control bytes; true when all have gone.
    func writePending() throws(SystemError) -> Bool {
        while pendingOffset < pending.count {
            let result = try pending.withUnsafeBytes { b in
                Result { () throws(SystemError) in try socket.write(UnsafeRawBufferPointer(rebasing: b[pendingOffset...])) }
            }.get()
            guard case .processed(let n) = result else { return false }
            pendingOffset += n
            timestampedBytes &+= UInt32(truncatingIfNeeded: n)
        }
        pending = []
        pendingOffset = 0
        return true
    }

    /// Reads, taking the kernel's RX timestamp when asked for.
    @inline(__always)
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        guard kernelTimestamps else { return try socket.read(into: buffer) }
        switch try socket.readTimestamped(into: buffer, control: control256) {
        case .wouldBlock:
            return .wouldBlock
        case .processed(let (n, timestamp)):
            if n > 0 && timestamp > 0 { lastRxTimestamp = timestamp }
            return .processed(n)
        }
    }

    /// Reads the error queue (SOF_TIMESTAMPING_TX_SOFTWARE): while a request waits for its
    /// reply, up to the TX timestamp of its last byte, kept in `lastTxTimestamp`; otherwise
    /// (the hello, the end message) all of it, dropped.
    func collectTransmitTimestamp() {
        if state == .awaitingReply && stampThisRequest && sendLength == 0 {
            if let ts = socket.transmitTimestamp(key: timestampedBytes &- 1, control: control256) { lastTxTimestamp = ts }
        } else {
            _ = socket.drainTransmitTimestamps(control: control256)
        }
    }
}
