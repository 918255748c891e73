/// The fields of one frame that ``RTTEngine`` reads: the addresses, ports, sequence
/// space and Timestamps option of a TCP segment, or the identifier and sequence number
/// of an ICMP or ICMPv6 echo message.
///
/// ``init(frame:linkType:)`` reads them straight from the captured bytes, with no
/// intermediate headers. It takes and refuses exactly the frames that the engine takes
/// and refuses after ``PacketDecoder`` (``init(decoded:frame:)``): the same link types
/// and VLAN tags, the same truncation and malformation rules, no IPv4 fragment (later
/// fragments carry no transport header; a first fragment's lengths cover only part of
/// the datagram), no IPv6 packet with a Fragment header, at most four IPv6 extension
/// headers. The tests hold the two readers to each other on every fixture, cut at every
/// length and mutated at random.
///
/// Every field is read only after a guard against the captured bytes ("the packet may
/// be truncated at any random position", tcpdump), and every load is checked again by
/// ``FrameBytes``. When `kind` is `.ignored` the other fields mean nothing.
struct RTTPacket: Equatable {
    enum Kind: UInt8 {
        /// Not IP, not TCP or echo, an IP fragment, or cut short before the fields needed.
        case ignored
        case tcp
        /// ICMP echo (RFC 792) or ICMPv6 echo (RFC 4443 §4.1–4.2) with code 0.
        case echo
    }

    var kind = Kind.ignored
    /// IP source and destination; IPv4 addresses IPv4-mapped, as ``RTTFlowKey`` keeps them.
    var source = IPv6Address(high: 0, low: 0)
    var destination = IPv6Address(high: 0, low: 0)
    var isIPv4 = false
    /// The IP packet's length as its header gives it: IPv4 Total Length, IPv6 40 + Payload Length.
    var ipBytes = 0
    /// IP protocol number of the transport header: 6, or 1 or 58 for echo.
    var protocolNumber: UInt8 = 0
    /// TCP source and destination port; for echo, the identifier in both.
    var sourcePort: UInt16 = 0
    var destinationPort: UInt16 = 0
    /// TCP SEG.SEQ; for echo, the echo sequence number.
    var sequence: UInt32 = 0
    /// TCP SEG.ACK (whether or not ACK is set).
    var acknowledgment: UInt32 = 0
    var flags = TCPFlags()
    /// TCP data bytes the IP and TCP headers announce (may exceed what was captured).
    var payloadLength = 0
    /// Echo request (rather than reply).
    var isEchoRequest = false
    /// The Timestamps option (RFC 7323 §3.2), when present and captured.
    var hasTimestamps = false
    var timestampValue: UInt32 = 0
    var timestampEchoReply: UInt32 = 0

    init() {}

    /// Reads `frame`, captured on a link of type `linkType`.
    @inline(__always)
    init(frame: UnsafeRawBufferPointer, linkType: LinkType) {
        let bytes = FrameBytes(frame)
        guard let (offset, version) = Self.networkLayer(bytes, linkType: linkType) else { return }
        if version == 4 {
            readIPv4(bytes, at: offset)
        } else {
            readIPv6(bytes, at: offset)
        }
    }

    /// The fields of a packet ``PacketDecoder`` decoded from `frame`, refused on the
    /// same grounds as ``init(frame:linkType:)`` refuses the frame.
    init(decoded packet: DecodedPacket, frame: UnsafeRawBufferPointer) {
        guard let addresses = packet.ipAddresses, let transport = packet.transport, !packet.isLaterFragment else {
            return
        }
        switch packet.network {
        case .ipv4(let h):
            if h.moreFragments { return }
            ipBytes = Int(h.totalLength)
        case .ipv6(let c):
            if c.isFragment { return }
            ipBytes = Int(c.header.payloadLength) + IPv6Header.headerLength
        default:
            return
        }
        source = RTTFlowKey.mapped(addresses.source)
        destination = RTTFlowKey.mapped(addresses.destination)
        if case .v4 = addresses.source { isIPv4 = true }
        switch transport {
        case .tcp(let tcp) where tcp.headerLength >= TCPHeader.minimumHeaderLength:
            kind = .tcp
            protocolNumber = IPProtocolNumber.tcp
            sourcePort = tcp.sourcePort
            destinationPort = tcp.destinationPort
            sequence = tcp.sequenceNumber
            acknowledgment = tcp.acknowledgmentNumber
            flags = tcp.flags
            payloadLength = packet.payloadLength
            if let ts = tcp.timestamps(in: frame) {
                hasTimestamps = true
                timestampValue = ts.value
                timestampEchoReply = ts.echoReply
            }
        case .icmp(let h) where h.isEcho && h.code == 0:
            setEcho(request: h.type == ICMPHeader.echoRequest, identifier: h.identifier, sequence: h.sequenceNumber,
                    protocolNumber: IPProtocolNumber.icmp)
        case .icmpv6(let h) where h.isEcho && h.code == 0:
            setEcho(request: h.type == ICMPv6Header.echoRequest, identifier: h.identifier,
                    sequence: h.sequenceNumber, protocolNumber: IPProtocolNumber.icmpv6)
        default:
            self = RTTPacket()
        }
    }

    private mutating func setEcho(request: Bool, identifier: UInt16, sequence: UInt16, protocolNumber: UInt8) {
        kind = .echo
        self.protocolNumber = protocolNumber
        isEchoRequest = request
        sourcePort = identifier
        destinationPort = identifier
        self.sequence = UInt32(sequence)
    }

    // MARK: - Link layer

    /// Where the IP header starts and its version (4 or 6): the walk every reader of a
    /// frame shares (``LinkLayerHeader/walk(_:linkType:tagLimit:onTag:)``); nil for other
    /// payloads and for headers cut short.
    @inline(__always)
    private static func networkLayer(_ bytes: FrameBytes, linkType: LinkType) -> (offset: Int, version: Int)? {
        switch LinkLayerHeader.walk(bytes, linkType: linkType) {
        case .network(let offset, .ipv4): return (offset, 4)
        case .network(let offset, .ipv6): return (offset, 6)
        default: return nil
        }
    }

    // MARK: - Network layer

    /// IPv4, RFC 791 §3.1, with ``PacketDecoder``'s checks: version 4, IHL ≥ 5, Total
    /// Length ≥ the header, the whole header captured, not a fragment.
    @inline(__always)
    private mutating func readIPv4(_ bytes: FrameBytes, at start: Int) {
        guard bytes.count - start >= IPv4Header.minimumHeaderLength else { return }
        let ip = bytes.window(start, IPv4Header.minimumHeaderLength)
        let versionAndIHL = ip.uint8(0)
        let headerLength = Int(versionAndIHL & 0x0F) * 4
        let totalLength = Int(ip.uint16(2))
        guard versionAndIHL >> 4 == 4, headerLength >= IPv4Header.minimumHeaderLength, totalLength >= headerLength,
              bytes.count - start >= headerLength,
              // MF or a fragment offset: not a whole datagram.
              ip.uint16(6) & 0x3FFF == 0
        else { return }
        ipBytes = totalLength
        isIPv4 = true
        source = IPv6Address(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(ip.uint32(12)))
        destination = IPv6Address(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(ip.uint32(16)))
        readTransport(bytes, at: start + headerLength, protocolNumber: ip.uint8(9),
                      length: totalLength - headerLength)
    }

    /// IPv6, RFC 8200 §3–4, walking the extension headers as ``IPv6HeaderChain`` does:
    /// hop-by-hop, routing and destination options skipped, at most four, each wholly
    /// captured; a Fragment header refuses the packet.
    @inline(__always)
    private mutating func readIPv6(_ bytes: FrameBytes, at start: Int) {
        guard bytes.count - start >= IPv6Header.headerLength else { return }
        let ip = bytes.window(start, IPv6Header.headerLength)
        guard ip.uint8(0) >> 4 == 6 else { return }
        let payloadLength = Int(ip.uint16(4))
        var next = ip.uint8(6)
        var offset = start + IPv6Header.headerLength
        var extensions = 0
        while IPv6ExtensionHeader.isExtension(next) {
            guard next != IPProtocolNumber.fragment, extensions < 4, bytes.count - offset >= 2 else { return }
            let header = bytes.window(offset, 2)
            let length = (Int(header.uint8(1)) + 1) * 8
            guard bytes.count - offset >= length else { return }
            next = header.uint8(0)
            offset += length
            extensions += 1
        }
        ipBytes = payloadLength + IPv6Header.headerLength
        source = IPv6Address(high: ip.uint64(8), low: ip.uint64(16))
        destination = IPv6Address(high: ip.uint64(24), low: ip.uint64(32))
        readTransport(bytes, at: offset, protocolNumber: next,
                      length: max(0, payloadLength - (offset - start - IPv6Header.headerLength)))
    }

    // MARK: - Transport layer

    /// TCP (RFC 9293 §3.1) with a data offset of at least 5 and its 20 fixed bytes
    /// captured (the options may be cut short), or an ICMP/ICMPv6 echo with its 8 bytes.
    @inline(__always)
    private mutating func readTransport(_ bytes: FrameBytes, at start: Int, protocolNumber: UInt8, length: Int) {
        switch protocolNumber {
        case IPProtocolNumber.tcp:
            guard bytes.count - start >= TCPHeader.minimumHeaderLength else { return }
            let tcp = bytes.window(start, TCPHeader.minimumHeaderLength)
            let headerLength = Int(tcp.uint8(12) >> 4) * 4
            guard headerLength >= TCPHeader.minimumHeaderLength else { return }
            kind = .tcp
            self.protocolNumber = protocolNumber
            sourcePort = tcp.uint16(0)
            destinationPort = tcp.uint16(2)
            sequence = tcp.uint32(4)
            acknowledgment = tcp.uint32(8)
            flags = TCPFlags(rawValue: tcp.uint8(13))
            payloadLength = max(0, length - headerLength)
            if headerLength > TCPHeader.minimumHeaderLength,
               let ts = TCPOptionReader.timestamps(in: bytes.raw, from: start + TCPHeader.minimumHeaderLength,
                                                   to: start + headerLength) {
                hasTimestamps = true
                timestampValue = ts.value
                timestampEchoReply = ts.echoReply
            }
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            guard bytes.count - start >= ICMPHeader.headerLength else { return }
            let icmp = bytes.window(start, ICMPHeader.headerLength)
            let type = icmp.uint8(0)
            guard icmp.uint8(1) == 0 else { return }
            let request: UInt8 = protocolNumber == IPProtocolNumber.icmp ? ICMPHeader.echoRequest : ICMPv6Header.echoRequest
            let reply: UInt8 = protocolNumber == IPProtocolNumber.icmp ? ICMPHeader.echoReply : ICMPv6Header.echoReply
            guard type == request || type == reply else { return }
            setEcho(request: type == request, identifier: icmp.uint16(4), sequence: icmp.uint16(6),
                    protocolNumber: protocolNumber)
        default:
            return
        }
    }
}
