/// The network layer of a decoded packet.
public enum NetworkLayer: Sendable {
    case ipv4(IPv4Header)
    case ipv6(IPv6HeaderChain)
    case arp(ARPPacket)
}

/// The transport layer of a decoded packet.
public enum TransportLayer: Sendable {
    case tcp(TCPHeader)
    case udp(UDPHeader)
    case icmp(ICMPHeader)
    case icmpv6(ICMPv6Header)
}

/// Every layer that could be decoded from one frame. A truncated or malformed
/// frame keeps the layers decoded before the problem, and `problem` says what
/// stopped the walk; nothing here ever traps on bad input.
public struct DecodedPacket: Sendable {
    public var link: LinkLayerHeader?
    public var network: NetworkLayer?
    public var transport: TransportLayer?
    /// The IP protocol number of the upper layer, when an IP header was decoded.
    public var upperProtocol: UInt8?
    /// An IPv4 or IPv6 fragment that does not carry the transport header.
    public var isLaterFragment = false
    /// Where the transport payload (TCP/UDP data, ICMP body) starts in the frame.
    public var payloadOffset = 0
    /// Payload length the headers announce (may exceed what was captured).
    public var payloadLength = 0
    /// The first truncation or malformation met, if any.
    public var problem: DecodeError?

    public init() {}

    /// The frame's IP source and destination, IPv4 or IPv6 mapped to a common shape.
    public var ipAddresses: (source: IPAddress, destination: IPAddress)? {
        switch network {
        case .ipv4(let h): return (.v4(h.source), .v4(h.destination))
        case .ipv6(let c): return (.v6(c.header.source), .v6(c.header.destination))
        default: return nil
        }
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }
}

/// Decodes frames layer by layer: link, IPv4/IPv6/ARP, TCP/UDP/ICMP/ICMPv6.
public enum PacketDecoder {
    /// Decodes `frame` (the captured bytes) of the given link type.
    public static func decode(_ frame: UnsafeRawBufferPointer, linkType: LinkType) -> DecodedPacket {
        var packet = DecodedPacket()
        let link: LinkLayerHeader
        do throws(DecodeError) {
            link = try LinkLayerHeader.decode(frame, linkType: linkType)
        } catch {
            packet.problem = error
            return packet
        }
        packet.link = link
        var r = ByteReader(frame, offset: link.headerLength)
        switch link.payload {
        case .ipv4: decodeIPv4(&r, into: &packet)
        case .ipv6: decodeIPv6(&r, into: &packet)
        case .arp:
            do throws(DecodeError) {
                packet.network = .arp(try ARPPacket(decoding: &r))
            } catch {
                packet.problem = error
            }
        default:
            break
        }
        return packet
    }

    static func decodeIPv4(_ r: inout ByteReader, into packet: inout DecodedPacket) {
        let start = r.offset
        do throws(DecodeError) {
            let header = try IPv4Header(decoding: &r)
            packet.network = .ipv4(header)
            packet.upperProtocol = header.protocolNumber
            if Int(header.totalLength) < header.headerLength {
                throw DecodeError(.malformed("IPv4 total length \(header.totalLength) < header length \(header.headerLength)"), at: start)
            }
            r = r.at(start)
            try r.skip(header.headerLength)
            if header.isLaterFragment {
                packet.isLaterFragment = true
                packet.payloadOffset = r.offset
                packet.payloadLength = header.payloadLength
                return
            }
            try decodeTransport(&r, protocolNumber: header.protocolNumber, length: header.payloadLength, into: &packet)
        } catch {
            packet.problem = error
        }
    }

    static func decodeIPv6(_ r: inout ByteReader, into packet: inout DecodedPacket) {
        let start = r.offset
        do throws(DecodeError) {
            let chain = try IPv6HeaderChain(decoding: &r)
            packet.network = .ipv6(chain)
            packet.upperProtocol = chain.upperProtocol
            let length = Int(chain.header.payloadLength) - (chain.upperOffset - start - IPv6Header.headerLength)
            if chain.isLaterFragment {
                packet.isLaterFragment = true
                packet.payloadOffset = chain.upperOffset
                packet.payloadLength = max(0, length)
                return
            }
            try decodeTransport(&r, protocolNumber: chain.upperProtocol, length: max(0, length), into: &packet)
        } catch {
            packet.problem = error
        }
    }

    static func decodeTransport(_ r: inout ByteReader, protocolNumber: UInt8, length: Int,
                                into packet: inout DecodedPacket) throws(DecodeError) {
        let start = r.offset
        switch protocolNumber {
        case IPProtocolNumber.tcp:
            let tcp = try TCPHeader(decoding: &r)
            packet.transport = .tcp(tcp)
            if tcp.headerLength < TCPHeader.minimumHeaderLength {
                throw DecodeError(.malformed("TCP data offset \(tcp.headerLength) < 20"), at: start)
            }
            packet.payloadOffset = start + tcp.headerLength
            packet.payloadLength = max(0, length - tcp.headerLength)
            if r.bytes.count < packet.payloadOffset { throw DecodeError(.truncated, at: r.bytes.count) }
        case IPProtocolNumber.udp:
            let udp = try UDPHeader(decoding: &r)
            packet.transport = .udp(udp)
            packet.payloadOffset = r.offset
            packet.payloadLength = min(udp.payloadLength, max(0, length - UDPHeader.headerLength))
        case IPProtocolNumber.icmp:
            packet.transport = .icmp(try ICMPHeader(decoding: &r))
            packet.payloadOffset = r.offset
            packet.payloadLength = max(0, length - ICMPHeader.headerLength)
        case IPProtocolNumber.icmpv6:
            packet.transport = .icmpv6(try ICMPv6Header(decoding: &r))
            packet.payloadOffset = r.offset
            packet.payloadLength = max(0, length - ICMPv6Header.headerLength)
        default:
            packet.payloadOffset = start
            packet.payloadLength = length
        }
    }
}
