/// A capture file's link-layer header type: the pcap `LINKTYPE_`/`DLT_` number
/// (https://www.tcpdump.org/linktypes.html). Unknown numbers are kept as they are.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    public static let null = LinkType(rawValue: 0)
    /// Ethernet II / 802.3, with 802.1Q and 802.1ad tags.
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP, `DLT_RAW` as Linux libpcap numbers it.
    public static let raw = LinkType(rawValue: 12)
    /// Raw IP, `LINKTYPE_RAW` as capture files store it.
    public static let rawLinkType = LinkType(rawValue: 101)
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    public static let loop = LinkType(rawValue: 108)
    /// Linux "cooked" capture, version 1 (16-byte header).
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Raw IPv4.
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6.
    public static let ipv6 = LinkType(rawValue: 229)
    /// Linux "cooked" capture, version 2 (20-byte header, interface index).
    public static let linuxSLL2 = LinkType(rawValue: 276)

    /// tcpdump's name for the type, as in "link-type EN10MB (Ethernet)".
    public var description: String {
        switch self {
        case .null: return "NULL (BSD loopback)"
        case .ethernet: return "EN10MB (Ethernet)"
        case .raw, .rawLinkType: return "RAW (Raw IP)"
        case .loop: return "LOOP (OpenBSD loopback)"
        case .linuxSLL: return "LINUX_SLL (Linux cooked v1)"
        case .ipv4: return "IPV4 (Raw IPv4)"
        case .ipv6: return "IPV6 (Raw IPv6)"
        case .linuxSLL2: return "LINUX_SLL2 (Linux cooked v2)"
        default: return "\(rawValue)"
        }
    }

    /// Whether the decoders here understand this link type.
    public var isSupported: Bool {
        switch self {
        case .null, .ethernet, .raw, .rawLinkType, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2: return true
        default: return false
        }
    }
}

/// EtherType values (IEEE 802 numbers) the decoders act on.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let reverseARP: UInt16 = 0x8035
    public static let ipv6: UInt16 = 0x86DD
    /// IEEE 802.1Q customer VLAN tag.
    public static let vlan: UInt16 = 0x8100
    /// IEEE 802.1ad service VLAN tag (QinQ).
    public static let qinq: UInt16 = 0x88A8
    /// Pre-standard QinQ tags tcpdump also walks.
    public static let vlan9100: UInt16 = 0x9100
    public static let vlan9200: UInt16 = 0x9200
    /// Type/length values at or below this are 802.3 lengths, not types.
    public static let maximumLength: UInt16 = 1500
}

/// What a link-layer header says follows it.
public enum LinkPayload: Equatable, Sendable {
    case ipv4
    case ipv6
    /// ARP or reverse ARP (RFC 826, RFC 903).
    case arp
    /// Any other EtherType.
    case etherType(UInt16)
    /// An 802.3 length field (an LLC header follows), or for cooked captures a
    /// Linux `ETH_P_*` value below 1536.
    case lengthField(UInt16)
    /// A BSD loopback address family that is neither IPv4 nor IPv6.
    case addressFamily(UInt32)
    /// A raw-IP link whose first nibble is not 4 or 6.
    case ipVersion(UInt8)
}

/// One decoded link-layer header. Fields that do not apply to the link type stay 0.
public struct LinkLayerHeader: Sendable {
    public var linkType: LinkType
    /// Bytes from the start of the frame to the network-layer header.
    public var headerLength: Int
    public var payload: LinkPayload
    /// Ethernet: offset of the destination (0) and source (6) MAC addresses.
    public var hasMACAddresses: Bool = false
    /// Ethernet and cooked captures: how many 802.1Q/802.1ad tags were walked, and the first two TCIs.
    public var vlanTagCount: Int = 0
    public var outerVLANTag: UInt16 = 0
    public var innerVLANTag: UInt16 = 0
    /// Cooked captures: the packet type (0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us).
    public var packetType: UInt16 = 0
    /// Cooked v2: the interface index.
    public var interfaceIndex: UInt32 = 0
    /// Cooked captures: the ARPHRD_ type and the link-layer address length and offset.
    public var hardwareType: UInt16 = 0
    public var linkAddressLength: Int = 0
    public var linkAddressOffset: Int = 0
    /// NULL/LOOP: the address family after tcpdump's byte-order guess.
    public var addressFamily: UInt32 = 0

    public init(linkType: LinkType, headerLength: Int, payload: LinkPayload) {
        self.linkType = linkType
        self.headerLength = headerLength
        self.payload = payload
    }

    /// Length of an Ethernet II header without tags.
    public static let ethernetHeaderLength = 14
    public static let sllHeaderLength = 16
    public static let sll2HeaderLength = 20
    public static let nullHeaderLength = 4

    /// Decodes the link-layer header of `frame`.
    ///
    /// Throws `.truncated` when the captured bytes end inside the header (the
    /// error's offset tells where: for Ethernet, before 14 is the MAC header,
    /// after is a VLAN tag) and `.malformed` for link types not handled here.
    public static func decode(_ frame: UnsafeRawBufferPointer, linkType: LinkType) throws(DecodeError) -> LinkLayerHeader {
        var r = ByteReader(frame)
        switch linkType {
        case .ethernet:
            return try decodeEthernet(&r)
        case .linuxSLL:
            return try decodeSLL(&r)
        case .linuxSLL2:
            return try decodeSLL2(&r)
        case .null, .loop:
            let raw = try r.uint32BE()
            // tcpdump reads the family in host (little-endian) order and swaps it
            // when the upper half is set, which accepts both byte orders.
            var family = raw.byteSwapped
            if family & 0xFFFF_0000 != 0 { family = family.byteSwapped }
            var header = LinkLayerHeader(linkType: linkType, headerLength: nullHeaderLength, payload: .addressFamily(family))
            header.addressFamily = family
            switch family {
            case 2: header.payload = .ipv4
            case 24, 28, 30: header.payload = .ipv6  // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
            default: break
            }
            return header
        case .raw, .rawLinkType, .ipv4, .ipv6:
            let first = try r.uint8()
            let payload: LinkPayload
            switch first >> 4 {
            case 4: payload = .ipv4
            case 6: payload = .ipv6
            default: payload = .ipVersion(first >> 4)
            }
            return LinkLayerHeader(linkType: linkType, headerLength: 0, payload: payload)
        default:
            throw DecodeError(.malformed("unsupported link type \(linkType.rawValue)"), at: 0)
        }
    }

    /// Ethernet II, IEEE 802.3-2022 §3.2.6; tags per IEEE 802.1Q-2022 §9.
    private static func decodeEthernet(_ r: inout ByteReader) throws(DecodeError) -> LinkLayerHeader {
        if r.remaining < ethernetHeaderLength { throw DecodeError(.truncated, at: r.remaining) }
        try r.skip(12)
        var type = try r.uint16BE()
        var header = LinkLayerHeader(linkType: .ethernet, headerLength: ethernetHeaderLength, payload: .ipv4)
        header.hasMACAddresses = true
        try walkVLANTags(&r, type: &type, header: &header)
        header.headerLength = r.offset
        header.payload = payload(forEtherType: type)
        return header
    }

    private static func walkVLANTags(_ r: inout ByteReader, type: inout UInt16, header: inout LinkLayerHeader) throws(DecodeError) {
        while type == EtherType.vlan || type == EtherType.qinq || type == EtherType.vlan9100 || type == EtherType.vlan9200 {
            if r.remaining < 4 { throw DecodeError(.truncated, at: r.offset) }
            let tci = try r.uint16BE()
            if header.vlanTagCount == 0 { header.outerVLANTag = tci } else if header.vlanTagCount == 1 { header.innerVLANTag = tci }
            header.vlanTagCount += 1
            type = try r.uint16BE()
        }
    }

    static func payload(forEtherType type: UInt16) -> LinkPayload {
        switch type {
        case EtherType.ipv4: return .ipv4
        case EtherType.ipv6: return .ipv6
        case EtherType.arp, EtherType.reverseARP: return .arp
        default: return type <= EtherType.maximumLength ? .lengthField(type) : .etherType(type)
        }
    }

    /// Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`): packet type, ARPHRD type,
    /// address length, 8 address bytes, protocol.
    private static func decodeSLL(_ r: inout ByteReader) throws(DecodeError) -> LinkLayerHeader {
        if r.remaining < sllHeaderLength { throw DecodeError(.truncated, at: r.remaining) }
        var header = LinkLayerHeader(linkType: .linuxSLL, headerLength: sllHeaderLength, payload: .ipv4)
        header.packetType = try r.uint16BE()
        header.hardwareType = try r.uint16BE()
        header.linkAddressLength = Int(try r.uint16BE())
        header.linkAddressOffset = 6
        try r.skip(8)
        var type = try r.uint16BE()
        if type == EtherType.vlan {
            try walkCookedVLAN(&r, type: &type, header: &header)
        }
        header.headerLength = r.offset
        header.payload = payload(forEtherType: type)
        return header
    }

    /// Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`): protocol, reserved,
    /// interface index, ARPHRD type, packet type, address length, 8 address bytes.
    private static func decodeSLL2(_ r: inout ByteReader) throws(DecodeError) -> LinkLayerHeader {
        if r.remaining < sll2HeaderLength { throw DecodeError(.truncated, at: r.remaining) }
        var header = LinkLayerHeader(linkType: .linuxSLL2, headerLength: sll2HeaderLength, payload: .ipv4)
        var type = try r.uint16BE()
        try r.skip(2)
        header.interfaceIndex = try r.uint32BE()
        header.hardwareType = try r.uint16BE()
        header.packetType = UInt16(try r.uint8())
        header.linkAddressLength = Int(try r.uint8())
        header.linkAddressOffset = 12
        try r.skip(8)
        if type == EtherType.vlan {
            try walkCookedVLAN(&r, type: &type, header: &header)
        }
        header.headerLength = r.offset
        header.payload = payload(forEtherType: type)
        return header
    }

    /// Cooked captures carry at most the tags tcpdump walks there: 802.1Q only.
    private static func walkCookedVLAN(_ r: inout ByteReader, type: inout UInt16, header: inout LinkLayerHeader) throws(DecodeError) {
        while type == EtherType.vlan {
            if r.remaining < 4 { throw DecodeError(.truncated, at: r.offset) }
            let tci = try r.uint16BE()
            if header.vlanTagCount == 0 { header.outerVLANTag = tci } else if header.vlanTagCount == 1 { header.innerVLANTag = tci }
            header.vlanTagCount += 1
            type = try r.uint16BE()
        }
    }
}
