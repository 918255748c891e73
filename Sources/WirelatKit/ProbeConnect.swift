import WirelatCore
import WirelatIO

/// A non-blocking connect(2) on two clocks: app, from the call to writability (the
/// SYN → SYN-ACK round trip, RFC 9293 §3.5, plus this process's wake-up), and wire, the
/// kernel's own handshake sample read with TCP_INFO (tcpi_rtt, µs) right after. No
/// privilege needed. Each connection is then closed normally (a FIN, not a RST), so a
/// long run leaves no storm of resets behind. A RST (ECONNREFUSED) is "refused".
public final class ConnectProber: Prober {
    public let method = ProbeMethod.tcpConnect
    public var socketKind: String { "stream" }

    let target: ProbeTarget
    let port: UInt16

    public init(target: ProbeTarget, port: UInt16) {
        self.target = target
        self.port = port
    }

    public func finish() {}

    public func probe(index: Int, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeStep {
        var reply = ProbeReply(seq: index, outcome: .timeout)
        let socket: TCPSocket
        do {
            socket = try TCPSocket(family: target.address.family)
        } catch {
            reply.outcome = .unreachable
            reply.detail = "\(error)"
            return .reply(reply)
        }
        defer { socket.close() }
        let address = target.address.withPort(port)
        reply.timeNanoseconds = realtimeNanoseconds()
        let start = monotonicNanoseconds()
        var done: Bool
        do {
            done = try socket.startConnect(to: address)
        } catch {
            let end = monotonicNanoseconds()
            return .reply(failed(reply, error, rtt: end &- start))
        }
        var end = start
        if !done {
            switch socket.wait(writable: true, timeoutNanoseconds: timeoutNanoseconds, stop: stop) {
            case .stopped: return .interrupted
            case .timedOut: return .reply(reply)
            case .failed(let e):
                reply.outcome = .unreachable
                reply.detail = "\(e)"
                return .reply(reply)
            case .ready:
                end = monotonicNanoseconds()
                done = true
            }
        } else {
            end = monotonicNanoseconds()
        }
        reply.localPort = socket.localAddress.map { Int($0.port) }
        if let e = socket.pendingError() { return .reply(failed(reply, e, rtt: end &- start)) }
        reply.outcome = .connected
        var wire: UInt64?
        do {
            wire = try socket.handshakeRTTNanoseconds()
            if wire == nil { reply.wireClockMissing = "TCP_INFO has no RTT sample (tcpi_rtt 0)" }
        } catch {
            reply.wireClockMissing = "the kernel refused TCP_INFO: \(error)"
        }
        reply.setClocks(wire: wire, app: end &- start)
        reply.sendToReplyNanoseconds = end &- start
        reply.sourcePort = Int(port)
        return .reply(reply)
    }

    private func failed(_ base: ProbeReply, _ e: SystemError, rtt: UInt64) -> ProbeReply {
        var reply = base
        if e.errno == Errno.connectionRefused {
            reply.outcome = .refused
            reply.setClocks(wire: nil, app: rtt)
            reply.wireClockMissing = "refused: the kernel keeps no RTT sample for a handshake answered by a RST"
            reply.flags = "RA"
        } else if e.errno == Errno.timedOut {
            reply.outcome = .timeout
        } else {
            reply.outcome = .unreachable
            reply.detail = errnoText(e.errno)
        }
        return reply
    }
}
