import WirelatCore
import WirelatIO

/// Drives any ``AppDialogue`` over a TCP socket and times each request → answer on both
/// clocks: wire, kernel software timestamps (TX of the request's last segment at the
/// device → RX of the answer's first segment, SO_TIMESTAMPING), and app, CLOCK_MONOTONIC
/// from just before the send call to the return of the read that completed the answer.
/// The TCP handshake of every connection is timed apart, as `probe connect` times it
/// (wire: TCP_INFO tcpi_rtt; app: connect() → writable), and never enters the answers'
/// round trips. Everything one probe does (connect, opening, request, answer) is bounded
/// by its timeout: a server sending a byte a minute never holds a probe longer.
///
/// In `.session` mode the connection is kept and reopened, counted, when the server
/// closed it (an idle close seen before the request, `Connection: close`, an end of
/// stream) or a timeout left it in an unknown state. In `.perConnection` mode each probe
/// connects, opens, exchanges once and closes with a FIN.
///
/// One thread uses a prober at a time; the dialogue is a Sendable value, so a caller that
/// runs probes on several threads makes one prober per thread from the same dialogue.
public final class AppProtocolProber<Dialogue: AppDialogue>: Prober {
    public var method: ProbeMethod { dialogue.method }
    public var socketKind: String { "stream" }
    public let dialogue: Dialogue
    public let address: SocketAddress

    /// Every connection opened, in order, with its handshake's clocks.
    public private(set) var connections: [AppConnectSample] = []
    /// The one line that makes further probes pointless (a wrong protocol, nothing
    /// listening, an opening the server refused); nil while all is well. `wirelat probe`
    /// stops there; a long-running caller may keep probing.
    public private(set) var failure: String?
    /// Called when a connection is opened (or fails), before the probe's own reply.
    public var onConnect: ((AppConnectSample) -> Void)?

    var socket: TCPSocket?
    var timestamps = false
    var reconnectReason: String?
    let control: UnsafeMutableRawBufferPointer
    let readBuffer: UnsafeMutableRawBufferPointer

    /// The bytes one read may take; parsers bound what they keep.
    public static var readBufferBytes: Int { 65_536 }

    public convenience init(target: ProbeTarget, port: UInt16, dialogue: Dialogue) {
        self.init(address: target.address.withPort(port), dialogue: dialogue)
    }

    /// From Sendable parts only (a resolved address and the dialogue), so a long-running
    /// caller can keep them and make a prober on the thread that runs it.
    public init(address: SocketAddress, dialogue: Dialogue) {
        self.dialogue = dialogue
        self.address = address
        control = .allocate(byteCount: 512, alignment: 16)
        readBuffer = .allocate(byteCount: Self.readBufferBytes, alignment: 16)
    }

    deinit {
        control.deallocate()
        readBuffer.deallocate()
    }

    /// Where the port stands in one-line messages: `port 6379 answered …`.
    var portText: String { "\(address.host) port \(address.port)" }

    public func probe(index: Int, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeStep {
        let deadline = monotonicNanoseconds() &+ timeoutNanoseconds
        var reply = ProbeReply(seq: index, outcome: .timeout)
        reply.timeNanoseconds = realtimeNanoseconds()
        if socket != nil { checkIdle() }
        var connectedAt: UInt64?
        if socket == nil {
            switch connect(index: index, deadline: deadline, stop: stop) {
            case .interrupted: return .interrupted
            case .failed(let outcome, let detail):
                reply.outcome = outcome
                reply.detail = detail
                return .reply(reply)
            case .connected(let at): connectedAt = at
            }
        }
        guard let socket else { return .reply(reply) }
        reply.localPort = socket.localAddress.map { Int($0.port) }
        reply.sourcePort = Int(address.port)

        let request = dialogue.request(index: index)
        if timestamps { _ = socket.drainTransmitTimestamps(control: control) }
        reply.timeNanoseconds = realtimeNanoseconds()
        let start: UInt64
        if request.isEmpty {
            // The server speaks first: its answer is timed from the end of the handshake.
            start = connectedAt ?? monotonicNanoseconds()
        } else {
            start = monotonicNanoseconds()
            guard start < deadline, socket.writeAll(request, timeoutNanoseconds: deadline - start, stop: stop) else {
                drop(reason: "the request could not be sent")
                reply.outcome = .closed
                reply.detail = "the request could not be sent: the connection was closed or reset"
                return .reply(reply)
            }
        }

        var parser = dialogue.parser(index: index)
        var firstReceive: Int64 = 0
        var received = 0
        var endOfStream = false
        while true {
            let now = monotonicNanoseconds()
            guard now < deadline else {
                drop(reason: "the previous request timed out")
                reply.detail = received > 0 ? "\(received) byte\(received == 1 ? "" : "s") of an answer, never completed" : nil
                return .reply(reply)
            }
            switch socket.wait(writable: false, timeoutNanoseconds: deadline - now, stop: stop) {
            case .stopped: return .interrupted
            case .timedOut: continue
            case .failed, .ready: break
            }
            let n: Int
            let returned: UInt64
            do {
                if timestamps {
                    guard case .processed(let r) = try socket.readTimestamped(into: readBuffer, control: control) else { continue }
                    returned = monotonicNanoseconds()
                    n = r.count
                    if n > 0 && firstReceive == 0 && r.timestamp > 0 { firstReceive = r.timestamp }
                } else {
                    guard case .processed(let r) = try socket.read(into: readBuffer) else { continue }
                    returned = monotonicNanoseconds()
                    n = r
                }
            } catch {
                drop(reason: "the connection was reset")
                reply.outcome = .closed
                reply.detail = "the connection was reset (\(errnoText(error.errno)))"
                return .reply(reply)
            }
            let verdict: AppParse
            if n == 0 {
                guard let atEnd = parser.endOfStream() else {
                    drop(reason: "the server closed the connection")
                    reply.outcome = .closed
                    reply.detail = received == 0 ? "the server closed the connection without answering"
                        : "the server closed the connection after \(received) bytes of an unfinished answer"
                    return .reply(reply)
                }
                verdict = atEnd
                endOfStream = true
            } else {
                received += n
                verdict = parser.consume(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
            }
            switch verdict {
            case .needMore:
                guard endOfStream else { continue }
                drop(reason: "the server closed the connection")
                reply.outcome = .closed
                reply.detail = "the server closed the connection after \(received) bytes of an unfinished answer"
                return .reply(reply)
            case .wrongProtocol(let line):
                if endOfStream { drop(reason: "the server closed the connection") }
                reply.outcome = .wrongProtocol
                reply.detail = line
                failure = "\(portText) \(line)"
                drop(reason: nil)
                return .reply(reply)
            case .complete(let answer, _):
                let end = returned
                var transmit: Int64?
                if timestamps && !request.isEmpty { transmit = socket.drainTransmitTimestamps(control: control) }
                var wire: UInt64?
                if let tx = transmit, firstReceive > tx { wire = UInt64(firstReceive - tx) }
                reply.setClocks(wire: wire, app: end &- start)
                if wire == nil {
                    reply.wireClockMissing = request.isEmpty ? "the server speaks first: no request to timestamp"
                        : !timestamps ? "no kernel timestamps on this socket"
                        : "no TX or RX timestamp for this exchange"
                }
                reply.sendToReplyNanoseconds = end &- start
                reply.outcome = answer.isError ? .errorReply : .reply
                reply.detail = answer.description
                if endOfStream {
                    drop(reason: "the server closed the connection")
                } else if dialogue.mode == .perConnection {
                    closeCleanly()
                } else if answer.serverCloses {
                    drop(reason: "the server announced it closes the connection")
                }
                return .reply(reply)
            }
        }
    }

    /// Sends the dialogue's closing bytes, if any, and closes.
    public func finish() {
        closeCleanly()
    }

    enum ConnectResult {
        case connected(UInt64)
        case failed(ProbeOutcome, String?)
        case interrupted
    }

    /// Opens a connection, times its handshake, and runs the dialogue's opening.
    func connect(index: Int, deadline: UInt64, stop: StopSignal) -> ConnectResult {
        var sample = AppConnectSample(seq: index, outcome: .timeout)
        sample.reconnectReason = reconnectReason
        reconnectReason = nil
        defer {
            connections.append(sample)
            onConnect?(sample)
        }
        let s: TCPSocket
        do {
            s = try TCPSocket(family: address.family)
            try s.setNoDelay()
        } catch {
            sample.outcome = .unreachable
            sample.detail = "cannot open a TCP socket: \(error)"
            failure = sample.detail
            return .failed(.unreachable, sample.detail)
        }
        sample.timeNanoseconds = realtimeNanoseconds()
        let start = monotonicNanoseconds()
        var end = start
        do throws(SystemError) {
            if try !s.startConnect(to: address) {
                switch s.wait(writable: true, timeoutNanoseconds: deadline &- start, stop: stop) {
                case .stopped: return .interrupted
                case .timedOut:
                    sample.outcome = .timeout
                    return .failed(.timeout, "no answer to the SYN")
                case .failed(let e):
                    sample.outcome = .unreachable
                    sample.detail = "\(e)"
                    return .failed(.unreachable, sample.detail)
                case .ready: break
                }
            }
            end = monotonicNanoseconds()
            if let e = s.pendingError() { throw e }
        } catch {
            if error.errno == Errno.connectionRefused {
                sample.outcome = .refused
                failure = "nothing listens on \(address) (connection refused)"
                return .failed(.refused, "connection refused")
            }
            sample.outcome = error.errno == Errno.timedOut ? .timeout : .unreachable
            sample.detail = "cannot connect to \(address): \(errnoText(error.errno))"
            return .failed(sample.outcome, sample.detail)
        }
        sample.outcome = .connected
        sample.localPort = s.localAddress.map { Int($0.port) }
        sample.appRTTNanoseconds = end &- start
        do {
            sample.wireRTTNanoseconds = try s.handshakeRTTNanoseconds()
            if sample.wireRTTNanoseconds == nil { sample.wireClockMissing = "TCP_INFO has no RTT sample (tcpi_rtt 0)" }
        } catch {
            sample.wireClockMissing = "the kernel refused TCP_INFO: \(error)"
        }
        do {
            try s.enableSoftwareTimestamps()
            timestamps = true
        } catch {
            timestamps = false
        }
        socket = s
        if let why = open(s, deadline: deadline, stop: stop) {
            if case .interrupted = why { return .interrupted }
            if case .failed(let outcome, let detail) = why { return .failed(outcome, detail) }
        }
        return .connected(end)
    }

    /// Runs the dialogue's opening on a new connection; nil when the session is open.
    func open(_ s: TCPSocket, deadline: UInt64, stop: StopSignal) -> ConnectResult? {
        var d = dialogue
        var step = d.startOpening()
        var pending: [UInt8] = []
        for _ in 0..<10_000 {
            switch step {
            case .open: return nil
            case .failed(let line):
                failure = "\(portText) \(line)"
                drop(reason: nil)
                return .failed(.wrongProtocol, line)
            case .send(let bytes):
                let now = monotonicNanoseconds()
                guard now < deadline, s.writeAll(bytes, timeoutNanoseconds: deadline - now, stop: stop) else {
                    drop(reason: "the session opening could not be sent")
                    return .failed(.closed, "the session opening could not be sent")
                }
                step = .receive
            case .receive:
                let now = monotonicNanoseconds()
                guard now < deadline else {
                    drop(reason: "the session opening timed out")
                    return .failed(.timeout, "no answer to the session opening")
                }
                switch s.wait(writable: false, timeoutNanoseconds: deadline - now, stop: stop) {
                case .stopped: return .interrupted
                case .timedOut, .failed, .ready: break
                }
                let result: IOResult<Int>
                do {
                    result = try s.read(into: readBuffer)
                } catch {
                    drop(reason: "the connection was reset during the session opening")
                    return .failed(.closed, "the connection was reset during the session opening (\(errnoText(error.errno)))")
                }
                guard case .processed(let n) = result else {
                    // The opening's TX timestamps wait on the error queue, and keep the socket
                    // readable for poll until they are read: drain them, or this loop spins.
                    if timestamps { _ = s.drainTransmitTimestamps(control: control) }
                    continue
                }
                if n == 0 {
                    drop(reason: "the server closed the connection during the session opening")
                    return .failed(.closed, "the server closed the connection during the session opening")
                }
                pending.append(contentsOf: readBuffer[0..<n])
                let r = d.continueOpening(pending)
                pending.removeFirst(min(r.consumed, pending.count))
                step = r.next
            }
        }
        drop(reason: nil)
        return .failed(.wrongProtocol, "the session opening did not end")
    }

    /// In session mode, looks at an idle connection before reusing it: an end of stream
    /// (the server's idle timeout) or a reset means a new connection for this probe;
    /// stray bytes are dropped.
    func checkIdle() {
        guard let s = socket else { return }
        for _ in 0..<16 {
            guard case .ready = s.wait(writable: false, timeoutNanoseconds: 0, stop: .never) else { return }
            switch try? s.read(into: readBuffer) {
            case .processed(let n)? where n > 0: continue
            case .wouldBlock?: return
            default:
                drop(reason: "the server had closed the idle connection")
                return
            }
        }
    }

    /// Closes the connection; in session mode the next probe reconnects, for `reason`.
    func drop(reason: String?) {
        socket?.close()
        socket = nil
        if dialogue.mode == .session { reconnectReason = reason }
    }

    func closeCleanly() {
        guard let s = socket else { return }
        let closing = dialogue.closing()
        if !closing.isEmpty { _ = s.writeAll(closing, timeoutNanoseconds: 200_000_000, stop: .never) }
        s.close()
        socket = nil
    }
}
