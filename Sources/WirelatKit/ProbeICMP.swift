import WirelatCore
import WirelatIO

/// ICMP echo as iputils ping sends it (RFC 792 type 8, RFC 4443 §4.1 type 128): a ping
/// socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6) where net.ipv4.ping_group_range admits our
/// group, a raw socket (CAP_NET_RAW) otherwise; icmp_seq from 1. Three clocks: wire
/// (kernel TX → RX timestamps), ping's (user send time → kernel RX) and app.
public final class ICMPProber: Prober {
    public let method = ProbeMethod.icmpEcho
    public var socketKind: String { socket.kind.rawValue }

    let target: ProbeTarget
    let socket: RawSocket
    let destination: ProbeAddress
    let source: ProbeAddress?
    let sendAddress: SocketAddress
    let payloadBytes: Int
    /// Ours on a raw socket; on a ping socket the kernel sets and filters it.
    let identifier: UInt16
    let nonce: UInt64
    let buffer: UnsafeMutableRawBufferPointer

    public static func privilegeMessage(gid: UInt32) -> String {
        "probe icmp needs a ping socket or a raw one: let group \(gid) use ping sockets (sysctl -w net.ipv4.ping_group_range=\"\(gid) \(gid)\") or grant CAP_NET_RAW (run as root, or setcap cap_net_raw+ep wirelat)"
    }

    public init(target: ProbeTarget, payloadBytes: Int) throws(ProbeSetupError) {
        self.target = target
        self.payloadBytes = payloadBytes
        destination = try target.probeAddress
        let family = target.address.family
        let proto = CInt(target.address.isIPv6 ? IPProtocolNumber.icmpv6 : IPProtocolNumber.icmp)
        var opened: RawSocket?
        var pingError: SystemError?
        do {
            opened = try RawSocket(family: family, kind: .ping, protocolNumber: proto)
        } catch {
            pingError = error
        }
        if opened == nil {
            do {
                let raw = try RawSocket(family: family, kind: .raw, protocolNumber: proto)
                try raw.filterEchoReplies()
                opened = raw
            } catch {
                if error.isPermission || pingError?.isPermission == true {
                    throw .privilege(Self.privilegeMessage(gid: effectiveGroupID()))
                }
                throw .failed("cannot open an ICMP socket: \(error)")
            }
        }
        guard let socket = opened else { throw .failed("cannot open an ICMP socket") }
        self.socket = socket
        if socket.kind == .ping || target.address.isIPv6 {
            do {
                try socket.requestHopLimit()
            } catch {
                throw .failed("cannot ask for the TTL: \(error)")
            }
        }
        socket.enableTimestamps()
        source = (try? target.address.sourceAddressToward())?.probeAddress
        sendAddress = target.address.withPort(0)
        identifier = UInt16.random(in: 1...UInt16.max)
        if socket.kind == .raw {
            do {
                try socket.attachFilter(ProbeSocketFilter.echoReplies(from: destination, identifier: identifier))
            } catch {
                throw .failed("cannot filter the raw ICMP socket: \(error)")
            }
        }
        nonce = UInt64.random(in: 0...UInt64.max)
        buffer = .allocate(byteCount: 65_536 + 128, alignment: 16)
    }

    deinit { buffer.deallocate() }

    public func finish() { socket.close() }

    public func probe(index: Int, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeStep {
        let sequence = UInt16(truncatingIfNeeded: index + 1)
        let request = ICMPEchoRequest(isIPv6: destination.isIPv6, identifier: identifier, sequenceNumber: sequence,
                                      payloadBytes: payloadBytes, nonce: nonce)
        let expectation = ICMPEchoExpectation(target: destination, identifier: socket.kind == .raw ? identifier : nil,
                                              sequenceNumber: sequence, payloadBytes: payloadBytes, nonce: nonce)
        let includesHeader = socket.includesIPv4Header
        return exchange(socket, send: request.encoded(source: source, destination: destination), to: sendAddress,
                        reply: ProbeReply(seq: Int(sequence), outcome: .timeout), pingClock: true, timeoutNanoseconds: timeoutNanoseconds,
                        stop: stop, buffer: buffer) { d, packet in
            ProbeMatch.echoAnswer(datagram: packet, includesIPv4Header: includesHeader, from: d.source,
                                  hopLimit: d.hopLimit, expecting: expectation)
        } fill: { reply, answer in
            reply.outcome = .reply
            reply.length = answer.bytes
            reply.ttl = answer.ttl
        }
    }
}
