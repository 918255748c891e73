/// Link-layer printers: tcpdump's `ether_if_print`, `sll_if_print`,
/// `sll2_if_print`, `null_if_print` and `raw_if_print`, without `-e`.
extension TcpdumpPrinter {
    mutating func printLinkLayer(_ linkType: LinkType, wireLength: Int) throws(PrintTruncated) {
        switch linkType {
        case .ethernet:
            try printEthernet(wireLength: wireLength)
        case .linuxSLL:
            try printSLL(wireLength: wireLength)
        case .linuxSLL2:
            try printSLL2(wireLength: wireLength)
        case .null, .loop:
            try printNull(wireLength: wireLength)
        case .raw, .rawLinkType, .ipv4, .ipv6:
            protocolName = "ipn"
            try printIPN(at: 0, length: wireLength)
        default:
            out.appendASCII("unsupported link type ")
            out.appendDecimal(linkType.rawValue)
            out.appendASCII(", length ")
            out.appendDecimal(wireLength)
        }
    }

    /// `ipN_print`: IPv4 or IPv6 by the version nibble.
    mutating func printIPN(at o: Int, length: Int) throws(PrintTruncated) {
        if length < 1 {
            out.appendASCII("truncated-ip ")
            out.appendDecimal(length)
            return
        }
        switch try u8(o) & 0xF0 {
        case 0x40: try printIPv4(at: o, length: length)
        case 0x60: try printIPv6(at: o, length: length)
        default:
            out.appendASCII("unknown ip ")
            out.appendDecimal((try u8(o) & 0xF0) >> 4)
        }
    }

    private mutating func printEthernet(wireLength: Int) throws(PrintTruncated) {
        protocolName = "ether"
        if bytes.count < LinkLayerHeader.ethernetHeaderLength || wireLength < LinkLayerHeader.ethernetHeaderLength {
            appendTruncationMarker()
            return
        }
        let link: LinkLayerHeader
        do throws(DecodeError) {
            link = try LinkLayerHeader.decode(bytes, linkType: .ethernet)
        } catch {
            protocolName = "vlan"
            appendTruncationMarker()
            return
        }
        var length = wireLength - link.headerLength
        if length < 0 {
            protocolName = "vlan"
            appendTruncationMarker()
            return
        }
        let payloadStart = link.headerLength
        switch link.payload {
        case .lengthField(let declared):
            // 802.3: the LLC printer is not mirrored; say what it is.
            if Int(declared) < length { length = Int(declared) }
            appendMACPair()
            out.appendASCII("802.3, length ")
            out.appendDecimal(length)
            out.appendASCII(": ")
            out.appendHexAndASCIIDump(captured(payloadStart, length))
        default:
            try printEtherType(link.payload, at: payloadStart, length: length) { printer in
                printer.appendMACPair()
                printer.appendEtherTypeName(link.payload)
                printer.out.appendASCII(", length ")
                printer.out.appendDecimal(wireLength)
                printer.out.appendASCII(": ")
            }
        }
    }

    /// `ethertype_print`; `unknownLead` prints the header line for a type not decoded here.
    private mutating func printEtherType(_ payload: LinkPayload, at o: Int, length: Int,
                                         unknownLead: (inout TcpdumpPrinter) -> Void) throws(PrintTruncated) {
        switch payload {
        case .ipv4: try printIPv4(at: o, length: length)
        case .ipv6: try printIPv6(at: o, length: length)
        case .arp: try printARP(at: o, length: length)
        default:
            unknownLead(&self)
            out.appendHexAndASCIIDump(captured(o, bytes.count - o))
        }
    }

    private mutating func appendMACPair() {
        out.appendLinkAddress(captured(6, 6))
        out.appendASCII(" > ")
        out.appendLinkAddress(captured(0, 6))
        out.appendASCII(", ")
    }

    /// `ethertype NAME (0xXXXX)` with tcpdump's names for the common types.
    private mutating func appendEtherTypeName(_ payload: LinkPayload) {
        let type: UInt16
        switch payload {
        case .ipv4: type = EtherType.ipv4
        case .ipv6: type = EtherType.ipv6
        case .etherType(let t), .lengthField(let t): type = t
        default: type = 0
        }
        out.appendASCII("ethertype ")
        out.appendASCII(Self.etherTypeName(type))
        out.appendASCII(" (0x")
        out.appendHex(UInt64(type), minimumDigits: 4)
        out.appendASCII(")")
    }

    static func etherTypeName(_ type: UInt16) -> StaticString { knownEtherTypeName(type) ?? "Unknown" }

    /// tcpdump's `ethertype_values` for the types a capture is likely to hold.
    static func knownEtherTypeName(_ type: UInt16) -> StaticString? {
        switch type {
        case 0x0800: return "IPv4"
        case 0x0806: return "ARP"
        case 0x8035: return "Reverse ARP"
        case 0x86DD: return "IPv6"
        case 0x8100: return "802.1Q"
        case 0x88A8: return "802.1Q-QinQ"
        case 0x9100: return "802.1Q-9100"
        case 0x9200: return "802.1Q-9200"
        case 0x8847: return "MPLS unicast"
        case 0x8848: return "MPLS multicast"
        case 0x8863: return "PPPoE D"
        case 0x8864: return "PPPoE S"
        case 0x888E: return "EAPOL"
        case 0x88CC: return "LLDP"
        case 0x8809: return "Slow Protocols"
        case 0x88E5: return "802.1AE MACsec"
        case 0x88F7: return "PTP"
        case 0x9000: return "Loopback"
        case 0x6558: return "TEB"
        case 0x8137: return "IPX"
        case 0x809B: return "Appletalk"
        case 0x80F3: return "Appletalk ARP"
        case 0x6003: return "DN"
        case 0x8870: return "Jumbo"
        case 0x894F: return "NSH"
        default: return nil
        }
    }

    /// Linux cooked v1.
    private mutating func printSLL(wireLength: Int) throws(PrintTruncated) {
        protocolName = "sll"
        guard bytes.count >= LinkLayerHeader.sllHeaderLength else { throw PrintTruncated() }
        let hardwareLength = Int(try u16(4))
        let baseType = try u16(14)
        try printCooked(.linuxSLL, headerLength: LinkLayerHeader.sllHeaderLength, wireLength: wireLength) { p, length in
            p.out.appendRightAligned(Self.packetTypeName((try? p.u16(0)) ?? 0xFFFF), width: 3)
            p.out.appendByte(UInt8(ascii: " "))
            if hardwareLength == 6 {
                p.out.appendLinkAddress(p.captured(6, 6))
                p.out.appendByte(UInt8(ascii: " "))
            }
            p.appendCookedType(baseType)
            p.out.appendASCII(", length ")
            p.out.appendDecimal(length)
            p.out.appendASCII(": ")
        }
    }

    /// Linux cooked v2: tcpdump prints the interface name and the direction.
    private mutating func printSLL2(wireLength: Int) throws(PrintTruncated) {
        protocolName = "sll2"
        guard bytes.count >= LinkLayerHeader.sll2HeaderLength else { throw PrintTruncated() }
        let index = try u32(4)
        let name = options.interfaceName(index) ?? "?"
        out.appendLeftAligned(Array(name.utf8), width: 5)
        out.appendByte(UInt8(ascii: " "))
        let packetType = UInt16(try u8(10))
        let typeName = Self.packetTypeName(packetType)
        out.appendASCII(typeName)
        if typeName.utf8CodeUnitCount < 3 {
            out.appendRepeating(UInt8(ascii: " "), count: 3 - typeName.utf8CodeUnitCount)
        }
        out.appendByte(UInt8(ascii: " "))
        let baseType = try u16(0)
        let hardwareLength = Int(try u8(11))
        try printCooked(.linuxSLL2, headerLength: LinkLayerHeader.sll2HeaderLength, wireLength: wireLength) { p, length in
            p.out.appendASCII("ifindex ")
            p.out.appendDecimal(index)
            p.out.appendByte(UInt8(ascii: " "))
            if hardwareLength == 6 {
                p.out.appendLinkAddress(p.captured(12, 6))
                p.out.appendByte(UInt8(ascii: " "))
            }
            p.appendCookedType(baseType)
            p.out.appendASCII(", length ")
            p.out.appendDecimal(length)
            p.out.appendASCII(": ")
        }
    }

    static func packetTypeName(_ type: UInt16) -> StaticString {
        switch type {
        case 0: return "In"
        case 1: return "B"
        case 2: return "M"
        case 3: return "P"
        case 4: return "Out"
        default: return "?"
        }
    }

    private mutating func appendCookedType(_ type: UInt16) {
        if type <= EtherType.maximumLength {
            switch type {
            case 1: out.appendASCII("802.3")
            case 4: out.appendASCII("802.2")
            default:
                out.appendASCII("ethertype Unknown (0x")
                out.appendHex(UInt64(type), minimumDigits: 4)
                out.appendASCII(")")
            }
        } else {
            out.appendASCII("ethertype ")
            out.appendASCII(Self.etherTypeName(type))
            out.appendASCII(" (0x")
            out.appendHex(UInt64(type), minimumDigits: 4)
            out.appendASCII(")")
        }
    }

    /// The common tail of both cooked printers: VLAN tags, then the protocol.
    private mutating func printCooked(_ linkType: LinkType, headerLength: Int, wireLength: Int,
                                      describe: (inout TcpdumpPrinter, Int) -> Void) throws(PrintTruncated) {
        var tags = 0
        let walked = LinkLayerHeader.walk(FrameBytes(bytes), linkType: linkType, tagLimit: wireLength) { _, next in
            tags += 1
            out.appendASCII("ethertype ")
            out.appendASCII(Self.etherTypeName(next <= EtherType.maximumLength ? 4 : next))
            out.appendASCII(", ")
        }
        guard case .network(let o, let payload) = walked else {
            protocolName = "vlan"
            appendTruncationMarker()
            return
        }
        let length = wireLength - o
        if case .lengthField(let declared) = payload {
            // Linux ETH_P_ values (802.3 IPX, 802.2 LLC, CAN, ...): not decoded here. After a
            // tag tcpdump takes any of them for 802.2.
            let type = tags > 0 ? 4 : declared
            if type == 1 || type == 4 { describe(&self, length + o) }
            out.appendHexAndASCIIDump(captured(o, bytes.count - o))
            return
        }
        try printEtherType(payload, at: o, length: length) { p in describe(&p, length + headerLength) }
    }

    /// BSD NULL and OpenBSD LOOP: a 4-byte address family.
    private mutating func printNull(wireLength: Int) throws(PrintTruncated) {
        protocolName = "null"
        guard bytes.count >= LinkLayerHeader.nullHeaderLength else {
            appendTruncationMarker()
            return
        }
        let link: LinkLayerHeader
        do throws(DecodeError) {
            link = try LinkLayerHeader.decode(bytes, linkType: .null)
        } catch {
            appendTruncationMarker()
            return
        }
        let length = wireLength - LinkLayerHeader.nullHeaderLength
        switch link.payload {
        case .ipv4: try printIPv4(at: 4, length: length)
        case .ipv6: try printIPv6(at: 4, length: length)
        default:
            out.appendASCII("AF ")
            switch link.addressFamily {
            case 7: out.appendASCII("ISO")
            case 16: out.appendASCII("Appletalk")
            case 23: out.appendASCII("IPX")
            default: out.appendASCII("Unknown")
            }
            out.appendASCII(" (")
            out.appendDecimal(link.addressFamily)
            out.appendASCII("), length ")
            out.appendDecimal(wireLength)
            out.appendASCII(": ")
            out.appendHexAndASCIIDump(captured(4, bytes.count - 4))
        }
    }
}
