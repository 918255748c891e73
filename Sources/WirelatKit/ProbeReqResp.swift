import WirelatCore
import WirelatIO

/// oratcptest's sync request/response, one exchange per probe, over one connection to a
/// `wirelat server` (docs/PROTOCOL.md): the test request and the server's ready, then a
/// 12-byte request and its 4-byte reply per probe, and the end message at the close.
/// Timed by kernel software timestamps (TX of the request → RX of the reply) where the
/// kernel gives them, else by CLOCK_MONOTONIC around the exchange.
public final class RequestResponseProber: Prober {
    public let method = ProbeMethod.tcpRequestResponse
    public var socketKind: String { "stream" }

    let socket: TCPSocket
    let port: UInt16
    var sequence: UInt32 = 0
    let control: UnsafeMutableRawBufferPointer
    let readBuffer: UnsafeMutableRawBufferPointer
    var timestamps: Bool
    var broken = false

    /// Connects and opens a sync test; throws `.failed` with the reason when nothing
    /// listens there or what listens does not speak wirelat's protocol.
    public init(target: ProbeTarget, port: UInt16, timeoutNanoseconds: UInt64, stop: StopSignal) throws(ProbeSetupError) {
        self.port = port
        timestamps = false
        let address = target.address.withPort(port)
        do {
            socket = try TCPSocket(family: address.family)
            try socket.setNoDelay()
        } catch {
            throw .failed("cannot open a TCP socket: \(error)")
        }
        control = .allocate(byteCount: 512, alignment: 16)
        readBuffer = .allocate(byteCount: 4096, alignment: 16)
        do {
            if try !socket.startConnect(to: address) {
                guard case .ready = socket.wait(writable: true, timeoutNanoseconds: timeoutNanoseconds, stop: stop) else {
                    throw ProbeSetupError.timedOut("no answer from \(address) within \(formatDuration(.nanoseconds(Int64(clamping: timeoutNanoseconds))))")
                }
            }
            if let e = socket.pendingError() {
                throw e.errno == Errno.connectionRefused
                    ? ProbeSetupError.refused("nothing listens on \(address) (connection refused)")
                    : ProbeSetupError.failed("cannot connect to \(address): \(errnoText(e.errno))")
            }
        } catch let e as ProbeSetupError {
            throw e
        } catch {
            throw .failed("cannot connect to \(address): \(error)")
        }
        let hello = ControlMessage.request(TestRequest(mode: .sync, payloadLength: 0, durationNanoseconds: 0,
                                                       testID: UInt64.random(in: 1...UInt64.max))).encoded()
        guard socket.writeAll(hello, timeoutNanoseconds: timeoutNanoseconds, stop: stop) else {
            throw .failed("cannot send the test request to \(address)")
        }
        var received: [UInt8] = []
        let deadline = monotonicNanoseconds() &+ timeoutNanoseconds
        while true {
            let decoded: (message: ControlMessage, consumed: Int)?
            do {
                decoded = try received.withUnsafeBytes { b in Result { () throws(ProtocolError) in try ControlMessage.decode(b) } }.get()
            } catch {
                throw .failed("what listens on \(address) is not a wirelat server (\(error.description))")
            }
            if let (message, _) = decoded {
                switch message {
                case .ready: break
                case .refused(let why): throw .failed("the wirelat server on \(address) refused the test: \(why)")
                default: throw .failed("unexpected answer from the wirelat server on \(address)")
                }
                break
            }
            let now = monotonicNanoseconds()
            guard now < deadline, case .ready = socket.wait(writable: false, timeoutNanoseconds: deadline - now, stop: stop) else {
                throw .failed("no wirelat answer from \(address) within \(formatDuration(.nanoseconds(Int64(clamping: timeoutNanoseconds))))")
            }
            guard case .processed(let n)? = try? socket.read(into: readBuffer), n > 0 else {
                throw .failed("\(address) closed the connection: not a wirelat server")
            }
            received.append(contentsOf: readBuffer[0..<n])
        }
        do {
            try socket.enableSoftwareTimestamps()
            timestamps = true
        } catch {
            timestamps = false
        }
    }

    deinit {
        control.deallocate()
        readBuffer.deallocate()
    }

    public func probe(index: Int, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeStep {
        var reply = ProbeReply(seq: index, outcome: .timeout)
        reply.localPort = socket.localAddress.map { Int($0.port) }
        guard !broken else {
            reply.outcome = .unreachable
            reply.detail = "the connection to the server was lost"
            return .reply(reply)
        }
        if timestamps { _ = socket.drainTransmitTimestamps(control: control) }
        var request = [UInt8](repeating: 0, count: WireProtocol.messageHeaderSize)
        request.withUnsafeMutableBytes { MessageHeader(kind: .data, sequence: sequence, payloadLength: 0).write(to: $0) }
        reply.timeNanoseconds = realtimeNanoseconds()
        let start = monotonicNanoseconds()
        guard socket.writeAll(request, timeoutNanoseconds: timeoutNanoseconds, stop: stop) else {
            broken = true
            reply.outcome = .unreachable
            reply.detail = "cannot send the request"
            return .reply(reply)
        }
        var parser = ReplyStreamParser()
        var transmit: Int64?
        var answered: UInt32?
        var rxTimestamp: Int64 = 0
        let deadline = start &+ timeoutNanoseconds
        while answered == nil {
            let now = monotonicNanoseconds()
            if now >= deadline {
                broken = true
                return .reply(reply)
            }
            switch socket.wait(writable: false, timeoutNanoseconds: deadline - now, stop: stop) {
            case .stopped: return .interrupted
            case .timedOut:
                broken = true
                return .reply(reply)
            case .failed, .ready: break
            }
            let n: Int
            do {
                if timestamps {
                    guard case .processed(let r) = try socket.readTimestamped(into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<parser.bytesNeeded]), control: control) else {
                        // Woken by the error queue (POLLERR): the request's TX timestamp.
                        // Taken now, or POLLERR would stay set and every wait return at once.
                        if let tx = socket.drainTransmitTimestamps(control: control) { transmit = tx }
                        continue
                    }
                    n = r.count
                    if r.timestamp > 0 { rxTimestamp = r.timestamp }
                } else {
                    guard case .processed(let r) = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<parser.bytesNeeded])) else { continue }
                    n = r
                }
            } catch {
                broken = true
                reply.outcome = .unreachable
                reply.detail = "\(error)"
                return .reply(reply)
            }
            if n == 0 {
                broken = true
                reply.outcome = .unreachable
                reply.detail = "the server closed the connection"
                return .reply(reply)
            }
            parser.consume(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])) { answered = $0 }
        }
        let end = monotonicNanoseconds()
        guard answered == sequence else {
            broken = true
            reply.outcome = .unreachable
            reply.detail = "reply \(answered ?? 0) where \(sequence) was expected"
            return .reply(reply)
        }
        sequence &+= 1
        if timestamps, let tx = socket.drainTransmitTimestamps(control: control) { transmit = tx }
        reply.outcome = .reply
        reply.sendToReplyNanoseconds = end &- start
        if let tx = transmit, rxTimestamp > tx {
            reply.setClocks(wire: UInt64(rxTimestamp - tx), app: end &- start)
        } else {
            reply.setClocks(wire: nil, app: end &- start)
            reply.wireClockMissing = timestamps ? "no TX or RX timestamp for this exchange" : "no kernel timestamps on this socket"
        }
        reply.sourcePort = Int(port)
        return .reply(reply)
    }

    /// Sends the end message, waits briefly for the summary, and closes.
    public func finish() {
        defer { socket.close() }
        guard !broken, socket.rawValue >= 0 else { return }
        var end = [UInt8](repeating: 0, count: WireProtocol.messageHeaderSize)
        end.withUnsafeMutableBytes { MessageHeader(kind: .end, sequence: sequence, payloadLength: 0).write(to: $0) }
        guard socket.writeAll(end, timeoutNanoseconds: 1_000_000_000, stop: .never) else { return }
        let deadline = monotonicNanoseconds() &+ 1_000_000_000
        var received: [UInt8] = []
        while monotonicNanoseconds() < deadline {
            guard case .ready = socket.wait(writable: false, timeoutNanoseconds: deadline &- monotonicNanoseconds(), stop: .never),
                  case .processed(let n)? = try? socket.read(into: readBuffer), n > 0 else { return }
            received.append(contentsOf: readBuffer[0..<n])
            let decoded = received.withUnsafeBytes { b in Result { () throws(ProtocolError) in try ControlMessage.decode(b) } }
            if case .success(nil) = decoded { continue }
            return
        }
    }
}
