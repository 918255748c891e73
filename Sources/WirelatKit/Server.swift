import WirelatCore
import WirelatIO

public struct ServerConfiguration: Sendable {
    public var bind: String = "::"
    public var port: UInt16 = 5555
    public var thinkTimeNanoseconds: UInt64 = 0
    public var writeDirectory: String?
    public var maxPayloadLength: UInt32 = 16 << 20
    public var maxDurationNanoseconds: UInt64 = 24 * 3600 * 1_000_000_000
    public var maxConnections = 10_000
    /// A connection that has not sent a complete test request by then is closed.
    public var handshakeTimeoutNanoseconds: UInt64 = 10_000_000_000
    /// A test connection silent for this long is closed.
    public var idleTimeoutNanoseconds: UInt64 = 300_000_000_000
    /// Exit after this many tests have finished (nil: serve until interrupted).
    public var maxTests: Int?

    public init() {}
}

/// What the server counted, for its final line and for tests.
public struct ServerCounters: Sendable {
    public var accepted = 0
    public var testsFinished = 0
    /// Tests still running when the server was stopped (``Server/stop()``).
    public var testsInterrupted = 0
    public var refused = 0
    public var protocolErrors = 0
    public var timeouts = 0
    public var resets = 0
    public var acceptErrors = 0
    /// Connections closed (or reset) by the client before it sent a byte: port checks such
    /// as `wirelat probe connect`, nmap or a load balancer's health check. Counted, not logged.
    public var closedBeforeRequest = 0
}

/// oratcptest's server: one epoll loop serving every client's test.
public final class Server {
    public let configuration: ServerConfiguration
    public private(set) var counters = ServerCounters()
    public private(set) var boundAddress: SocketAddress?

    private let loop: EventLoop
    private let log: (String) -> Void
    private var listener: TCPSocket?
    private var connections: [CInt: ServerConnection] = [:]
    private var tests: [TestKey: TestAggregate] = [:]
    private var readBuffer: UnsafeMutableRawBufferPointer
    private var acceptPaused = false
    /// Runs `--write-dir`'s fsyncs, so one connection's disk never holds up the others.
    private var diskPool: BlockingCallPool?
    /// Worker threads for fsync; each connection has at most one fsync running at a time.
    static let diskThreads = 4
    /// A connection with this many messages waiting for their fsync is not read from
    /// until some complete.
    static let maximumPendingDiskSyncs = 64
    /// After telling a client why its test ended, how long the server waits for it to close.
    static let lingerAfterErrorNanoseconds: UInt64 = 10_000_000_000

    public init(configuration: ServerConfiguration, loop: EventLoop, log: @escaping (String) -> Void) {
        self.configuration = configuration
        self.loop = loop
        self.log = log
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit {
        for fd in connections.keys { loop.deregister(fd) }
        readBuffer.deallocate()
    }

    public var openConnections: Int { connections.count }

    /// Ends every connection, for a server told to stop (SIGTERM, Ctrl-C) once its loop
    /// has returned: each test still running is logged as a finished one is, marked
    /// `interrupted`, and counted in `testsInterrupted`; a client that reads error messages
    /// is told `the server was stopped` first (one attempt to send it, as the process is
    /// about to exit). Connections with no test yet are closed without a line.
    public func stop() {
        for fd in connections.keys.sorted() {
            guard let c = connections[fd] else { continue }
            if c.request?.acceptsErrors == true && !c.finished && !c.stopReasonSent {
                c.stopReasonSent = true
                c.queue(ControlMessage.error("the server was stopped").encoded())
                try? c.flush()
            }
            // A test already over (its summary or its error sent) keeps its own outcome.
            let outcome: Outcome = c.stopReason.map { .failed($0) } ?? (c.finished && !c.summaryDue ? .finished : .interrupted)
            close(fd, outcome: outcome)
        }
        if let listener {
            loop.deregister(listener.rawValue)
            listener.close()
            self.listener = nil
        }
    }

    /// Binds, listens and registers with the loop. `::` falls back to 0.0.0.0
    /// where IPv6 is unavailable.
    public func start() throws(ServerError) {
        let address: SocketAddress
        do {
            address = try SocketAddress.resolve(host: configuration.bind, port: configuration.port, passive: true)
        } catch {
            throw .usage("--bind \(configuration.bind): \(error.reason)")
        }
        var socket: TCPSocket
        do {
            socket = try TCPSocket.listen(on: address)
        } catch let e where e.errno == Errno.addressFamilyNotSupported && address.isIPv6 {
            do {
                socket = try TCPSocket.listen(on: try SocketAddress.resolve(host: "0.0.0.0", port: configuration.port, passive: true))
            } catch {
                throw .system("cannot listen on port \(configuration.port): \(error)")
            }
        } catch {
            let hint = error.errno == Errno.addressInUse ? " (another process is listening there)" : ""
            throw .system("cannot listen on \(address): \(error)\(hint)")
        }
        if configuration.writeDirectory != nil {
            do {
                diskPool = try BlockingCallPool(threads: Self.diskThreads, loop: loop)
            } catch {
                throw .system("cannot start the disk-write threads: \(error)")
            }
        }
        listener = socket
        boundAddress = socket.localAddress
        do {
            try loop.register(socket.rawValue, interest: .readable) { [unowned self] _ in self.acceptAll() }
        } catch {
            throw .system("\(error)")
        }
    }

    private func acceptAll() {
        guard let listener else { return }
        for _ in 0..<64 {
            let result: IOResult<TCPSocket>
            do {
                result = try listener.accept()
            } catch {
                counters.acceptErrors += 1
                if error.errno == Errno.tooManyOpenFiles || error.errno == Errno.tooManyOpenFilesInSystem {
                    log("accept: \(error); pausing accepts for 100 ms")
                    pauseAccepting()
                }
                return
            }
            guard case .processed(let socket) = result else { return }
            counters.accepted += 1
            adopt(socket)
        }
    }

    private func pauseAccepting() {
        guard let listener, !acceptPaused else { return }
        acceptPaused = true
        loop.deregister(listener.rawValue)
        loop.schedule(after: 100_000_000) { [weak self] in
            guard let self, let listener = self.listener else { return }
            self.acceptPaused = false
            try? self.loop.register(listener.rawValue, interest: .readable) { [unowned self] _ in self.acceptAll() }
        }
    }

    private func adopt(_ socket: TCPSocket) {
        let connection = ServerConnection(socket: socket, peer: socket.peerAddress?.description ?? "?")
        let fd = socket.rawValue
        try? socket.setNoDelay()
        if connections.count >= configuration.maxConnections {
            counters.refused += 1
            connection.sendBestEffort(ControlMessage.refused("server is at its limit of \(configuration.maxConnections) connections").encoded())
            log("\(connection.peer): refused, at the limit of \(configuration.maxConnections) connections")
            return
        }
        connections[fd] = connection
        do {
            try loop.register(fd, interest: [.readable, .peerClosed]) { [unowned self] events in self.handle(fd, events) }
        } catch {
            connections[fd] = nil
            log("\(connection.peer): \(error)")
            return
        }
        connection.deadline = loop.schedule(after: configuration.handshakeTimeoutNanoseconds) { [weak self] in
            self?.close(fd, outcome: .timeout("no test request within \(formatDuration(.nanoseconds(Int64(self?.configuration.handshakeTimeoutNanoseconds ?? 0))))"))
        }
    }

    private func handle(_ fd: CInt, _ events: IOEvents) {
        guard let c = connections[fd] else { return }
        if events.contains(.writable) {
            flush(c)
            guard connections[fd] != nil else { return }
        }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) || events.contains(.peerClosed) {
            if !c.readPaused { readFrom(c) }
        }
    }

    private func readFrom(_ c: ServerConnection) {
        let fd = c.socket.rawValue
        let result: IOResult<Int>
        do {
            result = try c.socket.read(into: readBuffer)
        } catch {
            close(fd, outcome: c.stopReason.map { .failed($0) } ?? (error.isConnectionLoss ? .reset : .failed("\(error)")))
            return
        }
        guard case .processed(let n) = result else { return }
        if n == 0 {
            close(fd, outcome: c.stopReason.map { .failed($0) } ?? (c.finished ? .finished : .vanished))
            return
        }
        // A test the server ended: what the client sent before it read why is dropped.
        if c.stopReason != nil { return }
        let bytes = UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])
        c.lastActivity = monotonicNanoseconds()
        if c.request == nil {
            handshake(c, bytes)
        } else {
            serve(c, bytes)
        }
        guard connections[fd] != nil else { return }
        flush(c)
    }

    private func handshake(_ c: ServerConnection, _ bytes: UnsafeRawBufferPointer) {
        let fd = c.socket.rawValue
        c.handshakeBytes.append(contentsOf: bytes)
        let decoded: (message: ControlMessage, consumed: Int)?
        do {
            decoded = try c.handshakeBytes.withUnsafeBytes { b in Result { () throws(ProtocolError) in try ControlMessage.decode(b) } }.get()
        } catch {
            counters.protocolErrors += 1
            c.sendBestEffort(ControlMessage.refused(error.description).encoded())
            close(fd, outcome: .protocolError(error.description))
            return
        }
        guard let (message, consumed) = decoded else {
            if c.handshakeBytes.count > WireProtocol.controlHeaderSize + WireProtocol.maxControlBody {
                close(fd, outcome: .protocolError("oversized test request"))
            }
            return
        }
        guard case .request(let request) = message else {
            counters.protocolErrors += 1
            c.sendBestEffort(ControlMessage.refused("expected a test request").encoded())
            close(fd, outcome: .protocolError("expected a test request, got another control message"))
            return
        }
        if let reason = refusal(for: request) {
            counters.refused += 1
            c.sendBestEffort(ControlMessage.refused(reason).encoded())
            close(fd, outcome: .refused(reason))
            return
        }
        if let timer = c.deadline { loop.cancel(timer) }
        c.request = request
        c.parser = RequestStreamParser(payloadLength: request.payloadLength)
        c.startedAt = monotonicNanoseconds()
        if request.wantsDiskWrite {
            do {
                c.diskFile = try openDiskFile(request)
                c.fsync = LatencyRecorder()
            } catch {
                c.sendBestEffort(ControlMessage.refused(error.description).encoded())
                close(fd, outcome: .failed(error.description))
                return
            }
        }
        let key = TestKey(host: c.peerHost, testID: request.testID)
        tests[key, default: TestAggregate(request: request, peer: c.peerHost)].open += 1
        c.testKey = key
        c.queue(ControlMessage.ready(ServerReady(
            thinkTimeNanoseconds: configuration.thinkTimeNanoseconds,
            diskWrite: c.diskFile != nil,
            maxPayloadLength: configuration.maxPayloadLength)).encoded())
        scheduleIdleCheck(c)
        let rest = c.handshakeBytes.count - consumed
        let leftover = Array(c.handshakeBytes[consumed...])
        c.handshakeBytes = []
        if rest > 0 { leftover.withUnsafeBytes { serve(c, $0) } }
    }

    private func refusal(for r: TestRequest) -> String? {
        if r.payloadLength > configuration.maxPayloadLength {
            return "length \(r.payloadLength) exceeds this server's maximum of \(configuration.maxPayloadLength) bytes"
        }
        if r.durationNanoseconds > configuration.maxDurationNanoseconds {
            return "duration \(formatDuration(nanoseconds: r.durationNanoseconds)) exceeds this server's maximum of \(formatDuration(nanoseconds: configuration.maxDurationNanoseconds))"
        }
        if r.connectionCount == 0 || r.connectionIndex >= r.connectionCount {
            return "connection \(r.connectionIndex) of \(r.connectionCount) is not a valid connection number"
        }
        if r.wantsDiskWrite && configuration.writeDirectory == nil {
            return "disk write requested but this server has no --write-dir"
        }
        if r.mode == .async && r.ackEvery == 0 {
            return "async mode needs an acknowledgement interval of at least 1 message"
        }
        return nil
    }

    private func openDiskFile(_ r: TestRequest) throws(ServerError) -> TestDataFile {
        let dir = configuration.writeDirectory ?? "."
        let path = "\(dir)/wirelat-\(String(r.testID, radix: 16))-\(r.connectionIndex).dat"
        do {
            return try TestDataFile(creating: path)
        } catch {
            throw .system("cannot open \(path) for writing: \(error)")
        }
    }

    private func serve(_ c: ServerConnection, _ bytes: UnsafeRawBufferPointer) {
        guard var parser = c.parser, let request = c.request else { return }
        let fd = c.socket.rawValue
        var ended = false
        var diskError: SystemError?
        do {
            try parser.consume(bytes, onPayload: { chunk in
                if let disk = c.diskFile, diskError == nil {
                    do throws(SystemError) {
                        try disk.write(chunk)
                    } catch {
                        diskError = error
                    }
                }
            }, onMessage: { header in
                // A message not wholly written is never fsynced nor answered.
                guard diskError == nil else { return }
                if header.kind == .end {
                    ended = true
                    return
                }
                let answer = request.mode == .sync || header.ackRequested
                if c.diskFile != nil {
                    c.diskQueue.append(PendingDiskSync(sequence: header.sequence, reply: answer))
                } else if answer {
                    self.reply(c, sequence: header.sequence)
                }
            })
        } catch {
            c.parser = parser
            counters.protocolErrors += 1
            close(fd, outcome: .protocolError(error.description))
            return
        }
        c.parser = parser
        startDiskSync(c)
        if let diskError {
            endTest(c, reason: Self.diskFailure(diskError))
            return
        }
        if ended {
            c.finished = true
            c.summaryDue = true
            sendSummaryIfDue(c)
        }
    }

    private func reply(_ c: ServerConnection, sequence: UInt32) {
        let think = configuration.thinkTimeNanoseconds
        guard think > 0 else {
            c.queueReply(sequence)
            return
        }
        c.pendingThinkReplies += 1
        let fd = c.socket.rawValue
        loop.schedule(after: think) { [weak self, weak c] in
            guard let self, let c, self.connections[fd] === c else { return }
            c.pendingThinkReplies -= 1
            c.queueReply(sequence)
            self.sendSummaryIfDue(c)
            self.flush(c)
        }
    }

    /// What a client is told when its data file cannot be written or synced.
    static func diskFailure(_ error: SystemError) -> String {
        error.errno == Errno.noSpace
            ? "the server's disk is full: \(error.reason)"
            : "the server cannot write to its disk: \(error)"
    }

    /// Ends a test the server cannot go on with (its disk failed). A client that reads
    /// error messages first gets the replies due for the messages already written, then
    /// `reason` in place of the next reply, and the server waits for it to close: closing
    /// with its requests unread would reset the connection, and a reset can discard the
    /// reason before the client reads it. Other clients are disconnected at once.
    private func endTest(_ c: ServerConnection, reason: String) {
        let fd = c.socket.rawValue
        guard c.request?.acceptsErrors == true else {
            close(fd, outcome: .failed(reason))
            return
        }
        guard c.stopReason == nil else { return }
        c.stopReason = reason
        c.summaryDue = false
        if let timer = c.deadline { loop.cancel(timer) }
        c.deadline = loop.schedule(after: Self.lingerAfterErrorNanoseconds) { [weak self] in
            self?.close(fd, outcome: .failed(reason))
        }
        sendSummaryIfDue(c)
        flush(c)
    }

    /// Sends the test summary once the client has ended the test and every reply and
    /// fsync it waits for is done, so its counts cover every message; or, for a test the
    /// server ended, the reason once those replies have gone.
    private func sendSummaryIfDue(_ c: ServerConnection) {
        if let reason = c.stopReason {
            guard !c.stopReasonSent, c.pendingThinkReplies == 0, c.pendingDiskSyncs == 0 else { return }
            c.stopReasonSent = true
            c.queue(ControlMessage.error(reason).encoded())
            return
        }
        guard c.summaryDue, c.pendingThinkReplies == 0, c.pendingDiskSyncs == 0, let parser = c.parser else { return }
        c.summaryDue = false
        let summary = c.fsync?.summary() ?? .empty
        c.queue(ControlMessage.summary(TestSummary(
            messages: parser.messages, payloadBytes: parser.payloadBytes, fsyncs: summary.count,
            fsyncMeanNanoseconds: UInt64(summary.mean), fsyncP99Nanoseconds: summary.p99,
            fsyncMaxNanoseconds: summary.max)).encoded())
    }

    /// Hands the connection's oldest message waiting for its fsync to the disk threads,
    /// unless one of its fsyncs is already running: a message is durable, and answered,
    /// only after every earlier one. The payload was written on the loop (it goes to the
    /// page cache); the fsync, which waits for the device, runs on a worker thread.
    private func startDiskSync(_ c: ServerConnection) {
        guard !c.diskSyncRunning, c.diskQueueHead < c.diskQueue.count, let disk = c.diskFile, let diskPool else { return }
        c.diskSyncRunning = true
        let fd = c.socket.rawValue
        diskPool.submit(disk.fsyncCall) { [weak self] outcome in
            // The completion holds `disk`, so its descriptor stays open while fsync runs.
            withExtendedLifetime(disk) {}
            guard let self, self.connections[fd] === c else { return }
            self.diskSynced(c, outcome)
        }
    }

    private func diskSynced(_ c: ServerConnection, _ outcome: BlockingCallResult) {
        c.diskSyncRunning = false
        c.fsync?.record(outcome.nanoseconds)
        if outcome.failed {
            // Nothing written after a failed fsync is known to be durable: none of it is answered.
            c.diskQueue.removeAll()
            c.diskQueueHead = 0
            endTest(c, reason: Self.diskFailure(SystemError(call: "fsync", errno: outcome.errno)))
            return
        }
        let done = c.diskQueue[c.diskQueueHead]
        c.diskQueueHead += 1
        if c.diskQueueHead == c.diskQueue.count {
            c.diskQueue.removeAll(keepingCapacity: true)
            c.diskQueueHead = 0
        }
        if done.reply { reply(c, sequence: done.sequence) }
        startDiskSync(c)
        sendSummaryIfDue(c)
        flush(c)
    }

    private func flush(_ c: ServerConnection) {
        let fd = c.socket.rawValue
        do {
            try c.flush()
        } catch {
            close(fd, outcome: error.isConnectionLoss ? .reset : .failed("\(error)"))
            return
        }
        let wantWrite = c.hasPendingOutput
        let pauseRead = c.pendingOutputBytes > 1 << 20 || c.pendingDiskSyncs >= Self.maximumPendingDiskSyncs
        if wantWrite != c.watchingWrite || pauseRead != c.readPaused {
            c.watchingWrite = wantWrite
            c.readPaused = pauseRead
            var interest: IOEvents = [.peerClosed]
            if !pauseRead { interest.insert(.readable) }
            if wantWrite { interest.insert(.writable) }
            try? loop.modify(fd, interest: interest)
        }
    }

    private func scheduleIdleCheck(_ c: ServerConnection) {
        let fd = c.socket.rawValue
        let idle = configuration.idleTimeoutNanoseconds
        c.deadline = loop.schedule(at: c.lastActivity &+ idle) { [weak self, weak c] in
            guard let self, let c, self.connections[fd] === c else { return }
            if monotonicNanoseconds() &- c.lastActivity >= idle {
                self.close(fd, outcome: .timeout("idle for \(formatDuration(.nanoseconds(Int64(idle))))"))
            } else {
                self.scheduleIdleCheck(c)
            }
        }
    }

    enum Outcome {
        case finished, vanished, reset, timeout(String), refused(String), protocolError(String), failed(String)
        /// The server was stopped while the test ran.
        case interrupted

        var text: String {
            switch self {
            case .finished: return "finished"
            case .vanished: return "client closed the connection mid-test"
            case .reset: return "connection reset by the client"
            case .timeout(let why): return "timed out: \(why)"
            case .refused(let why): return "refused: \(why)"
            case .protocolError(let why): return "protocol error: \(why)"
            case .failed(let why): return "failed: \(why)"
            case .interrupted: return "interrupted: the server was stopped"
            }
        }
    }

    private func close(_ fd: CInt, outcome: Outcome) {
        guard let c = connections.removeValue(forKey: fd) else { return }
        loop.deregister(fd)
        c.socket.close()
        c.diskFile?.remove()
        if let timer = c.deadline { loop.cancel(timer) }
        let beforeFirstByte = c.request == nil && c.handshakeBytes.isEmpty
        switch outcome {
        case .vanished where beforeFirstByte, .reset where beforeFirstByte:
            counters.closedBeforeRequest += 1
            return
        case .timeout: counters.timeouts += 1
        case .reset: counters.resets += 1
        default: break
        }
        guard let key = c.testKey, var test = tests[key] else {
            switch outcome {
            case .finished, .interrupted: break
            default: log("\(c.peer): \(outcome.text)")
            }
            return
        }
        test.open -= 1
        test.closed += 1
        test.messages += c.parser?.messages ?? 0
        test.payloadBytes += c.parser?.payloadBytes ?? 0
        test.diskBytes += c.diskFile?.bytesWritten ?? 0
        if let fsync = c.fsync {
            if test.fsync == nil { test.fsync = fsync } else { test.fsync?.merge(fsync) }
        }
        test.seconds = max(test.seconds, Double(monotonicNanoseconds() &- c.startedAt) / 1e9)
        switch outcome {
        case .finished: break
        case .interrupted: test.interrupted = true
        default: test.problems.append("\(c.peer): \(outcome.text)")
        }
        if test.open > 0 {
            tests[key] = test
            return
        }
        tests[key] = nil
        if test.interrupted {
            counters.testsInterrupted += 1
        } else {
            counters.testsFinished += 1
        }
        log(test.logLine())
        if let max = configuration.maxTests, counters.testsFinished >= max { loop.stop() }
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case usage(String)
    case system(String)

    public var description: String {
        switch self {
        case .usage(let s), .system(let s): return s
        }
    }
}

struct TestKey: Hashable {
    let host: String
    let testID: UInt64
}

struct TestAggregate {
    let request: TestRequest
    let peer: String
    var open = 0
    var closed = 0
    var messages: UInt64 = 0
    var payloadBytes: UInt64 = 0
    /// Payload bytes written to the connections' data files (`--write`).
    var diskBytes: UInt64 = 0
    var seconds = 0.0
    /// Merged from the connections' recorders; nil unless the test wrote to disk.
    var fsync: LatencyRecorder?
    var problems: [String] = []
    /// The server was stopped while the test ran.
    var interrupted = false

    init(request: TestRequest, peer: String) {
        self.request = request
        self.peer = peer
    }

    func logLine() -> String {
        let r = request
        var line = "test from \(peer): \(r.mode.rawValue) length=\(r.payloadLength) connections=\(r.connectionCount)"
        let rate = seconds > 0 ? Double(messages) / seconds : 0
        line += " messages=\(messages) payload_bytes=\(payloadBytes) seconds=\(formatFixed(seconds, 3)) messages_per_s=\(formatFixed(rate, 1))"
        line += request.wantsDiskWrite ? " disk_write=yes disk_bytes=\(diskBytes)" : " disk_write=no"
        if let fsync, fsync.count > 0 {
            let s = fsync.summary()
            line += " fsync_ms avg=\(formatMilliseconds(s.mean)) p99=\(formatMilliseconds(Double(s.p99))) max=\(formatMilliseconds(Double(s.max)))"
        }
        let outcomes = problems + (interrupted ? ["interrupted"] : [])
        line += outcomes.isEmpty ? " outcome=finished" : " outcome=" + outcomes.joined(separator: "; ")
        return line
    }
}

/// A message whose payload is written and whose fsync is to come; `reply` when the
/// client waits for an answer to it.
struct PendingDiskSync {
    var sequence: UInt32
    var reply: Bool
}

/// One client connection's state on the server.
final class ServerConnection {
    let socket: TCPSocket
    let peer: String
    var peerHost: String { socket.peerAddress?.host ?? peer }
    var handshakeBytes: [UInt8] = []
    var request: TestRequest?
    var parser: RequestStreamParser?
    var testKey: TestKey?
    /// The `--write` test's data file, removed when the connection closes.
    var diskFile: TestDataFile?
    /// fsync times, for `--write` tests only: the histogram behind it is about 260 KiB,
    /// so it is made when such a test starts, not for every connection accepted.
    var fsync: LatencyRecorder?
    var deadline: TimerID?
    var lastActivity = monotonicNanoseconds()
    var startedAt: UInt64 = 0
    var finished = false
    var pendingThinkReplies = 0
    /// Messages written to `diskFile` and waiting for their fsync, oldest at `diskQueueHead`.
    var diskQueue: [PendingDiskSync] = []
    var diskQueueHead = 0
    var diskSyncRunning = false
    var pendingDiskSyncs: Int { diskQueue.count - diskQueueHead }
    /// The client ended the test; the summary goes out when nothing is pending.
    var summaryDue = false
    /// The server ended the test for this reason (see `Server.endTest`); sent once
    /// nothing is pending, then the client is expected to close.
    var stopReason: String?
    var stopReasonSent = false
    var watchingWrite = false
    var readPaused = false

    private var output = PendingOutput(reservingCapacity: 256)

    init(socket: TCPSocket, peer: String) {
        self.socket = socket
        self.peer = peer
    }

    var hasPendingOutput: Bool { output.isPending }
    var pendingOutputBytes: Int { output.count }

    func queue(_ bytes: [UInt8]) { output.append(contentsOf: bytes) }

    @inline(__always)
    func queueReply(_ sequence: UInt32) {
        output.append(UInt8(sequence >> 24))
        output.append(UInt8(truncatingIfNeeded: sequence >> 16))
        output.append(UInt8(truncatingIfNeeded: sequence >> 8))
        output.append(UInt8(truncatingIfNeeded: sequence))
    }

    /// Writes what is queued until done or the socket would block.
    func flush() throws(SystemError) { try output.flush(to: socket) }

    /// One attempt to send a refusal before the connection is closed.
    func sendBestEffort(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = try? socket.write($0) }
    }
}
