/// What a SYN probe waits for: a segment from `target`'s `destinationPort` to our
/// `sourcePort` that acknowledges our SYN (acknowledgment number = ISN + 1), either
/// a SYN-ACK (open, RFC 9293 §3.5) or a RST-ACK (closed, RFC 9293 §3.10.7.1: a RST
/// answering a segment without ACK carries ACK with SEG.SEQ + SEG.LEN). hping3 -S
/// matches its replies the same way, by ports.
public struct SYNProbeExpectation: Sendable, Equatable {
    public var target: ProbeAddress
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequenceNumber: UInt32

    public init(target: ProbeAddress, sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32) {
        self.target = target
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
    }

    public init(_ syn: TCPSYNSegment) {
        self.init(target: syn.destination, sourcePort: syn.sourcePort, destinationPort: syn.destinationPort,
                  sequenceNumber: syn.sequenceNumber)
    }
}

/// The answer to a SYN probe, with the fields hping3 prints for it.
public struct TCPProbeAnswer: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// SYN-ACK: the port is open.
        case synAck = "SA"
        /// RST(-ACK): the port is closed.
        case reset = "RA"
    }

    public var kind: Kind
    public var flags: TCPFlags
    /// The IP packet's length: IPv4 Total Length, or 40 + the IPv6 payload.
    public var ipLength: Int
    public var ttl: Int?
    /// IPv4 Identification (RFC 791 §3.1); nil for IPv6.
    public var ipID: UInt16?
    /// IPv4 DF flag; nil for IPv6.
    public var dontFragment: Bool?
    /// The replying port (hping's `sport=`).
    public var sourcePort: UInt16
    public var window: UInt16
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32

    /// The flags as hping3 prints them: R, S, A, F, P, U, then X (ECE) and Y (CWR).
    public var flagsText: String {
        var s = ""
        let order: [(TCPFlags, Character)] = [(.rst, "R"), (.syn, "S"), (.ack, "A"), (.fin, "F"), (.psh, "P"),
                                              (.urg, "U"), (.ece, "X"), (.cwr, "Y")]
        for (flag, letter) in order where flags.contains(flag) { s.append(letter) }
        return s
    }
}

public enum ProbeMatch {
    /// Reads one datagram from a raw TCP socket and returns the answer to `probe`, or nil
    /// when it is something else (our own SYN looped back, the kernel's RST to the
    /// SYN-ACK, other traffic, a truncated packet).
    ///
    /// An IPv4 raw socket hands over the IP header too (`includesIPv4Header`); an IPv6
    /// one only the TCP segment, so `from` and `hopLimit` come from recvmsg.
    public static func tcpAnswer(
        datagram: UnsafeRawBufferPointer, includesIPv4Header: Bool, from: ProbeAddress?, hopLimit: Int?,
        expecting probe: SYNProbeExpectation
    ) -> TCPProbeAnswer? {
        var r = ByteReader(datagram)
        var ipLength: Int
        var ttl = hopLimit
        var ipID: UInt16?
        var dontFragment: Bool?
        var source = from
        do throws(DecodeError) {
            if includesIPv4Header {
                let ip = try IPv4Header(decoding: &r)
                guard ip.protocolNumber == IPProtocolNumber.tcp, !ip.isLaterFragment else { return nil }
                try r.skip(ip.headerLength - IPv4Header.minimumHeaderLength)
                ipLength = Int(ip.totalLength)
                ttl = Int(ip.timeToLive)
                ipID = ip.identification
                dontFragment = ip.dontFragment
                source = .v4(ip.source)
            } else {
                ipLength = IPv6Header.headerLength + datagram.count
            }
            guard source == probe.target else { return nil }
            let tcp = try TCPHeader(decoding: &r)
            guard tcp.sourcePort == probe.destinationPort, tcp.destinationPort == probe.sourcePort,
                  tcp.flags.contains(.ack), tcp.acknowledgmentNumber == probe.sequenceNumber &+ 1 else { return nil }
            let kind: TCPProbeAnswer.Kind
            if tcp.flags.contains(.rst) {
                kind = .reset
            } else if tcp.flags.contains(.syn) {
                kind = .synAck
            } else {
                return nil
            }
            return TCPProbeAnswer(kind: kind, flags: tcp.flags, ipLength: ipLength, ttl: ttl, ipID: ipID,
                                  dontFragment: dontFragment, sourcePort: tcp.sourcePort, window: tcp.window,
                                  sequenceNumber: tcp.sequenceNumber, acknowledgmentNumber: tcp.acknowledgmentNumber)
        } catch {
            return nil
        }
    }

    /// Reads one datagram from an ICMP socket and returns the echo reply that answers
    /// `probe`, or nil. A raw IPv4 socket includes the IP header; a ping socket
    /// (SOCK_DGRAM) and any IPv6 socket start at the ICMP header. On a ping socket the
    /// kernel owns the identifier, so `probe.identifier` is nil and not compared.
    public static func echoAnswer(
        datagram: UnsafeRawBufferPointer, includesIPv4Header: Bool, from: ProbeAddress?, hopLimit: Int?,
        expecting probe: ICMPEchoExpectation
    ) -> ICMPEchoAnswer? {
        var r = ByteReader(datagram)
        var ttl = hopLimit
        var source = from
        do throws(DecodeError) {
            if includesIPv4Header {
                let ip = try IPv4Header(decoding: &r)
                guard ip.protocolNumber == IPProtocolNumber.icmp, !ip.isLaterFragment else { return nil }
                try r.skip(ip.headerLength - IPv4Header.minimumHeaderLength)
                ttl = Int(ip.timeToLive)
                source = .v4(ip.source)
            }
            guard source == probe.target else { return nil }
            let icmpBytes = r.remaining
            let type = try r.uint8()
            let code = try r.uint8()
            _ = try r.uint16BE()
            let identifier = try r.uint16BE()
            let sequence = try r.uint16BE()
            let replyType = probe.target.isIPv6 ? ICMPv6Header.echoReply : ICMPHeader.echoReply
            guard type == replyType, code == 0, sequence == probe.sequenceNumber else { return nil }
            if let id = probe.identifier, id != identifier { return nil }
            // The peer echoes all the data back (RFC 792, RFC 4443 §4.2): a shorter reply is not ours.
            guard r.remaining >= probe.payloadBytes else { return nil }
            if probe.payloadBytes >= 8, try r.uint64BE() != probe.nonce { return nil }
            return ICMPEchoAnswer(bytes: icmpBytes, ttl: ttl, identifier: identifier, sequenceNumber: sequence)
        } catch {
            return nil
        }
    }
}

/// What an echo probe waits for (RFC 792 "Echo or Echo Reply Message"; RFC 4443 §4.2):
/// a reply from `target` with our sequence number, identifier and nonce.
public struct ICMPEchoExpectation: Sendable, Equatable {
    public var target: ProbeAddress
    /// nil on a ping socket, where the kernel sets and checks it.
    public var identifier: UInt16?
    public var sequenceNumber: UInt16
    public var payloadBytes: Int
    public var nonce: UInt64

    public init(target: ProbeAddress, identifier: UInt16?, sequenceNumber: UInt16, payloadBytes: Int, nonce: UInt64) {
        self.target = target
        self.identifier = identifier
        self.sequenceNumber = sequenceNumber
        self.payloadBytes = payloadBytes
        self.nonce = nonce
    }
}

/// An echo reply, with what ping prints for it.
public struct ICMPEchoAnswer: Sendable, Equatable {
    /// ICMP header and data, ping's "64 bytes".
    public var bytes: Int
    public var ttl: Int?
    public var identifier: UInt16
    public var sequenceNumber: UInt16
}
