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

    /// Decodes the link-layer header of `frame`: ``walk(_:linkType:tagLimit:onTag:)``, then
    /// the fields of the header the walk passed over.
    ///
    /// Throws `.truncated` when the captured bytes end inside the header (the
    /// error's offset tells where: for Ethernet, before 14 is the MAC header,
    /// after is a VLAN tag) and `.malformed` for link types not handled here.
    public static func decode(_ frame: UnsafeRawBufferPointer, linkType: LinkType) throws(DecodeError) -> LinkLayerHeader {
        let bytes = FrameBytes(frame)
        var header = LinkLayerHeader(linkType: linkType, headerLength: 0, payload: .ipv4)
        let walked = walk(bytes, linkType: linkType) { tci, _ in
            if header.vlanTagCount == 0 { header.outerVLANTag = tci } else if header.vlanTagCount == 1 { header.innerVLANTag = tci }
            header.vlanTagCount += 1
        }
        switch walked {
        case .network(let offset, let payload):
            header.headerLength = offset
            header.payload = payload
        case .truncated(let offset):
            throw DecodeError(.truncated, at: offset)
        case .unsupported:
            throw DecodeError(.malformed("unsupported link type \(linkType.rawValue)"), at: 0)
        }
        // The walk has seen the whole fixed header captured.
        switch linkType {
        case .ethernet:
            header.hasMACAddresses = true
        case .linuxSLL:
            // Packet type, ARPHRD type, address length, 8 address bytes, protocol.
            header.packetType = bytes.uint16(0)
            header.hardwareType = bytes.uint16(2)
            header.linkAddressLength = Int(bytes.uint16(4))
            header.linkAddressOffset = 6
        case .linuxSLL2:
            // Protocol, reserved, interface index, ARPHRD type, packet type, address length, 8 address bytes.
            header.interfaceIndex = bytes.uint32(4)
            header.hardwareType = bytes.uint16(8)
            header.packetType = UInt16(bytes.uint8(10))
            header.linkAddressLength = Int(bytes.uint8(11))
            header.linkAddressOffset = 12
        case .null, .loop:
            header.addressFamily = nullFamily(bytes.uint32(0))
        default:
            break
        }
        return header
    }

    /// The one walk of a link-layer header, VLAN tags included, that the decoder, the
    /// tcpdump printer and the RTT fast path share: where the network layer starts and
    /// what it is.
    ///
    /// - Ethernet II (IEEE 802.3-2022 §3.2.6): 14 bytes, then any 802.1Q/802.1ad tags
    ///   (IEEE 802.1Q-2022 §9) and the pre-standard QinQ types tcpdump also walks.
    /// - Linux cooked v1 (16 bytes, the protocol last) and v2 (20 bytes, the protocol
    ///   first), then the 802.1Q tags tcpdump walks there.
    /// - BSD NULL/LOOP: a 4-byte address family in either byte order (tcpdump's guess).
    /// - Raw IP: the version nibble.
    ///
    /// Each tag must lie within the captured bytes and within the first `tagLimit` bytes
    /// (the printer passes the wire length, as tcpdump checks both); `onTag` gets each
    /// tag's TCI and the type that follows it. `.truncated` carries the offset a
    /// ``DecodeError`` reports.
    @inline(__always)
    static func walk(_ bytes: FrameBytes, linkType: LinkType, tagLimit: Int = .max,
                     onTag: (_ tci: UInt16, _ nextType: UInt16) -> Void = { _, _ in }) -> LinkWalk {
        var offset: Int
        var type: UInt16
        /// Cooked captures carry only the tags tcpdump walks there: 802.1Q.
        let cooked: Bool
        switch linkType {
        case .ethernet:
            guard bytes.count >= ethernetHeaderLength else { return .truncated(at: bytes.count) }
            type = bytes.window(0, ethernetHeaderLength).uint16(12)
            offset = ethernetHeaderLength
            cooked = false
        case .linuxSLL, .linuxSLL2:
            let v1 = linkType == .linuxSLL
            offset = v1 ? sllHeaderLength : sll2HeaderLength
            guard bytes.count >= offset else { return .truncated(at: bytes.count) }
            type = bytes.uint16(v1 ? 14 : 0)
            cooked = true
        case .null, .loop:
            guard bytes.count >= nullHeaderLength else { return .truncated(at: 0) }
            let family = nullFamily(bytes.uint32(0))
            switch family {
            case 2: return .network(offset: nullHeaderLength, payload: .ipv4)
            case 24, 28, 30: return .network(offset: nullHeaderLength, payload: .ipv6)  // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
            default: return .network(offset: nullHeaderLength, payload: .addressFamily(family))
            }
        case .raw, .rawLinkType, .ipv4, .ipv6:
            guard bytes.count >= 1 else { return .truncated(at: 0) }
            switch bytes.uint8(0) >> 4 {
            case 4: return .network(offset: 0, payload: .ipv4)
            case 6: return .network(offset: 0, payload: .ipv6)
            case let version: return .network(offset: 0, payload: .ipVersion(version))
            }
        default:
            return .unsupported
        }
        let tagEnd = min(bytes.count, tagLimit)
        while type == EtherType.vlan
            || !cooked && (type == EtherType.qinq || type == EtherType.vlan9100 || type == EtherType.vlan9200) {
            guard tagEnd - offset >= 4 else { return .truncated(at: offset) }
            let tag = bytes.window(offset, 4)
            let tci = tag.uint16(0)
            type = tag.uint16(2)
            offset += 4
            onTag(tci, type)
        }
        return .network(offset: offset, payload: payload(forEtherType: type))
    }

    /// A NULL/LOOP header's address family: tcpdump reads it in host (little-endian)
    /// order and swaps it when the upper half is set, which accepts both byte orders.
    @inline(__always)
    static func nullFamily(_ networkOrder: UInt32) -> UInt32 {
        var family = networkOrder.byteSwapped
        if family & 0xFFFF_0000 != 0 { family = family.byteSwapped }
        return family
    }

    static func payload(forEtherType type: UInt16) -> LinkPayload {
        switch type {
        case EtherType.ipv4: return .ipv4
        case EtherType.ipv6: return .ipv6
        case EtherType.arp, EtherType.reverseARP: return .arp
        default: return type <= EtherType.maximumLength ? .lengthField(type) : .etherType(type)
        }
    }
}

/// Where ``LinkLayerHeader/walk(_:linkType:tagLimit:onTag:)`` found the network layer.
enum LinkWalk: Equatable {
    /// The network-layer header starts `offset` bytes into the frame; `payload` says what it is.
    case network(offset: Int, payload: LinkPayload)
    /// The captured bytes end inside the link-layer header.
    case truncated(at: Int)
    /// A link type not handled here.
    case unsupported
}
