import WirelatCore
import WirelatIO

/// `hping3 -S -p PORT`: a SYN of our own making on a raw socket (IPPROTO_TCP; the
/// kernel writes the IP header), a fresh source port per probe (hping increments its
/// base port), the reply matched by ports and acknowledgment number = ISN + 1
/// (RFC 9293 §3.5, §3.10.7.1). The peer answers SA (open) or RA (closed); our kernel,
/// which knows nothing of the half-open connection, answers a SYN-ACK with a RST, as
/// it does for hping.
public final class SYNProber: Prober {
    public let method = ProbeMethod.tcpSYN
    public var socketKind: String { RawSocket.Kind.raw.rawValue }

    let target: ProbeTarget
    let port: UInt16
    let socket: RawSocket
    let source: ProbeAddress
    let destination: ProbeAddress
    /// The raw socket's destination: the target with port 0 (a raw IPv6 socket refuses
    /// any port other than 0 or its protocol).
    let sendAddress: SocketAddress
    let basePort: Int
    let buffer: UnsafeMutableRawBufferPointer

    /// Source ports run from a random base upwards, below Linux's default ephemeral
    /// range (32768–60999), so they do not meet the ports of this host's own connections.
    static let portRange = 1024..<32768

    public static let privilegeMessage = "probe syn writes its own SYNs on a raw socket, which needs CAP_NET_RAW: run it as root, or give the binary the capability (setcap cap_net_raw+ep wirelat); `wirelat probe connect` needs no privilege"

    public init(target: ProbeTarget, port: UInt16) throws(ProbeSetupError) {
        self.target = target
        self.port = port
        destination = try target.probeAddress
        do {
            socket = try RawSocket(family: target.address.family, kind: .raw, protocolNumber: CInt(IPProtocolNumber.tcp))
        } catch {
            if error.isPermission { throw .privilege(Self.privilegeMessage) }
            throw .failed("cannot open a raw TCP socket: \(error)")
        }
        do {
            let local = try target.address.sourceAddressToward()
            guard let address = local.probeAddress else { throw SystemError(call: "getsockname", errno: Errno.addressFamilyNotSupported) }
            source = address
            try socket.bind(to: local)
            if target.address.isIPv6 { try socket.requestHopLimit() }
        } catch {
            throw .failed("no route to \(target.host): \(error)")
        }
        do {
            try socket.attachFilter(ProbeSocketFilter.tcpReplies(from: destination, port: port))
        } catch {
            throw .failed("cannot filter the raw TCP socket: \(error)")
        }
        socket.enableTimestamps()
        sendAddress = target.address.withPort(0)
        basePort = Int.random(in: Self.portRange)
        buffer = .allocate(byteCount: 65_536, alignment: 16)
    }

    deinit { buffer.deallocate() }

    public func finish() { socket.close() }

    /// This probe's source port: the base plus `index`, wrapping within ``portRange``.
    func sourcePort(_ index: Int) -> UInt16 {
        let span = Self.portRange.count
        return UInt16(Self.portRange.lowerBound + (basePort - Self.portRange.lowerBound + index) % span)
    }

    public func probe(index: Int, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeStep {
        let syn = TCPSYNSegment(source: source, destination: destination, sourcePort: sourcePort(index),
                                destinationPort: port, sequenceNumber: UInt32.random(in: 0...UInt32.max))
        let expectation = SYNProbeExpectation(syn)
        let includesHeader = socket.includesIPv4Header
        var reply = ProbeReply(seq: index, outcome: .timeout)
        reply.localPort = Int(syn.sourcePort)
        return exchange(socket, send: syn.encoded(), to: sendAddress, reply: reply, timeoutNanoseconds: timeoutNanoseconds,
                        stop: stop, buffer: buffer) { d, packet in
            ProbeMatch.tcpAnswer(datagram: packet, includesIPv4Header: includesHeader, from: d.source,
                                 hopLimit: d.hopLimit, expecting: expectation)
        } fill: { reply, answer in
            reply.outcome = answer.kind == .synAck ? .synAck : .reset
            reply.length = answer.ipLength
            reply.ttl = answer.ttl
            reply.ipID = answer.ipID.map(Int.init)
            reply.dontFragment = answer.dontFragment
            reply.sourcePort = Int(answer.sourcePort)
            reply.flags = answer.flagsText
            reply.window = Int(answer.window)
        }
    }
}
