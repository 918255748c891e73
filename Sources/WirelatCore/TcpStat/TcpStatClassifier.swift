/// What tcpstat learns from one packet: its time, the size it counts and which
/// protocol counters it bumps.
public struct PacketFacts: Sendable, Equatable {
    /// The protocol counters a packet adds to (utils.c's `is_*_packet`).
    public struct Protocols: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// `%A`
        public static let arp = Protocols(rawValue: 1 << 0)
        /// `%I`
        public static let ipv4 = Protocols(rawValue: 1 << 1)
        /// `%V`
        public static let ipv6 = Protocols(rawValue: 1 << 2)
        /// `%T`
        public static let tcp = Protocols(rawValue: 1 << 3)
        /// `%U`
        public static let udp = Protocols(rawValue: 1 << 4)
        /// `%C`
        public static let icmp = Protocols(rawValue: 1 << 5)
    }

    /// Capture time as libpcap hands it to tcpstat: seconds and microseconds,
    /// the microseconds not normalised (a file may hold 1 000 000, or a negative value).
    public var timestampSeconds: Int64
    public var timestampMicroseconds: Int64
    /// tcpstat's `packet_len`: the wire length, less 14 on Ethernet and 4 on PPP
    /// unless `-l`; a C `u_int`, so a frame shorter than its link header wraps.
    public var sizeBytes: UInt32
    public var protocols: Protocols

    public init(timestampSeconds: Int64, timestampMicroseconds: Int64, sizeBytes: UInt32, protocols: Protocols) {
        self.timestampSeconds = timestampSeconds
        self.timestampMicroseconds = timestampMicroseconds
        self.sizeBytes = sizeBytes
        self.protocols = protocols
    }

    /// From a time in nanoseconds since the epoch, truncated to microseconds as libpcap does.
    public init(timestampNanoseconds: Int64, sizeBytes: UInt32, protocols: Protocols) {
        var seconds = timestampNanoseconds / 1_000_000_000
        var rest = timestampNanoseconds % 1_000_000_000
        if rest < 0 {
            seconds -= 1
            rest += 1_000_000_000
        }
        self.init(timestampSeconds: seconds, timestampMicroseconds: rest / 1000, sizeBytes: sizeBytes, protocols: protocols)
    }

    /// The capture time in nanoseconds since the epoch (microsecond resolution).
    public var timestampNanoseconds: Int64 {
        timestampSeconds &* 1_000_000_000 &+ timestampMicroseconds &* 1000
    }

    /// The facts for one packet read on its own, as tcpstat sees the first
    /// packet of a file. Use a `TcpStatClassifier` across a whole file: for
    /// frames cut short inside their headers tcpstat reads bytes the previous
    /// packets left behind, and the classifier remembers them.
    public static func classify(_ packet: CapturedPacket, countsLinkLayer: Bool = false) -> PacketFacts {
        var classifier = TcpStatClassifier(countsLinkLayer: countsLinkLayer)
        return classifier.classify(packet)
    }
}

/// Turns captured packets into `PacketFacts` exactly as tcpstat's
/// `process_pcap()` and utils.c do. This is deliberately not a protocol decoder:
///
/// - Ethernet (`DLT_EN10MB`): the size is the wire length less 14 (`-l`: the
///   wire length). Only the first EtherType is looked at: 0x0800 is IPv4,
///   0x86DD IPv6, 0x0806 ARP; a VLAN- or QinQ-tagged frame counts in no
///   protocol column.
/// - PPP (`DLT_PPP`): wire length less 4; protocol 0x0021 is IPv4, 0x0057 IPv6.
/// - NULL (`DLT_NULL`): the whole wire length, header included; the family is
///   read in little-endian host order, and only Linux's AF_INET (2) and
///   AF_INET6 (10) count, so BSD captures' IPv6 families 24/28/30 do not.
/// - Every other link type (Linux cooked v1/v2, raw IP, LOOP, ...): the whole
///   wire length, and no protocol column counts.
/// - TCP, UDP and ICMP come from the IPv4 protocol field or the IPv6 *first*
///   next-header field (no extension-header walk): a hop-by-hop header in front
///   of ICMPv6 is not ICMP. ICMPv6 counts as ICMP. Fragments count like first fragments.
/// - When a frame is captured too short to hold those bytes, tcpstat reads
///   what earlier packets left in libpcap's buffer and in its own copy; this
///   classifier keeps those bytes too (it assumes both buffers started zeroed,
///   and models classic pcap's single record buffer).
public struct TcpStatClassifier: Sendable {
    /// tcpstat `-l`: count the Ethernet and PPP headers in the size.
    public var countsLinkLayer: Bool

    /// The first 24 bytes of libpcap's record buffer as the last packets left them.
    private var buffer = StickyBytes()
    /// tcpstat's `pdata.data.raw[9]` (IPv4 protocol) and `raw[6]` (IPv6 next header).
    private var rawProtocolByte: UInt8 = 0
    private var rawNextHeaderByte: UInt8 = 0

    public init(countsLinkLayer: Bool = false) {
        self.countsLinkLayer = countsLinkLayer
    }

    /// tcpstat's `PAK_SIZ`: the most bytes it copies from a packet.
    private static let copyLimit = 32768

    private enum NetworkClass {
        case none, ipv4, ipv6, arp
    }

    public mutating func classify(_ packet: CapturedPacket) -> PacketFacts {
        let data = packet.data
        let captured = data.count
        buffer.store(data)

        let wire = UInt32(truncatingIfNeeded: packet.wireLength)
        var size = wire
        var network = NetworkClass.none
        let copyStart: Int
        let copyLength: Int
        switch packet.linkType.rawValue {
        case 1:  // DLT_EN10MB
            let type = UInt16(buffer[12]) << 8 | UInt16(buffer[13])
            switch type {
            case EtherType.ipv4: network = .ipv4
            case EtherType.ipv6: network = .ipv6
            case EtherType.arp: network = .arp
            default: break
            }
            if !countsLinkLayer { size = wire &- 14 }
            copyStart = 14
            copyLength = captured >= 14 ? captured - 14 : Self.copyLimit
        case 9:  // DLT_PPP
            let proto = UInt16(buffer[2]) << 8 | UInt16(buffer[3])
            if proto == 0x0021 { network = .ipv4 } else if proto == 0x0057 { network = .ipv6 }
            if !countsLinkLayer { size = wire &- 4 }
            copyStart = 4
            copyLength = captured >= 4 ? captured - 4 : Self.copyLimit
        case 0:  // DLT_NULL, read as a host-order (little-endian) int
            let family = UInt32(buffer[0]) | UInt32(buffer[1]) << 8 | UInt32(buffer[2]) << 16 | UInt32(buffer[3]) << 24
            if family == 2 { network = .ipv4 } else if family == 10 { network = .ipv6 }
            copyStart = 4
            copyLength = captured
        default:
            copyStart = 0
            copyLength = captured
        }
        // bcopy(packet, pdata.data.raw, min(length, PAK_SIZ)): only bytes inside the copy change.
        let copied = min(copyLength, Self.copyLimit)
        if copied > 6 { rawNextHeaderByte = buffer[copyStart + 6] }
        if copied > 9 { rawProtocolByte = buffer[copyStart + 9] }

        var protocols: PacketFacts.Protocols = []
        let upper: UInt8
        switch network {
        case .arp:
            protocols = .arp
            upper = 0
        case .ipv4:
            protocols = .ipv4
            upper = rawProtocolByte
        case .ipv6:
            protocols = .ipv6
            upper = rawNextHeaderByte
        case .none:
            upper = 0
        }
        if network != .arp {
            switch upper {
            case IPProtocolNumber.tcp: protocols.insert(.tcp)
            case IPProtocolNumber.udp: protocols.insert(.udp)
            case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: protocols.insert(.icmp)
            default: break
            }
        }

        let stamp = packet.timestamp
        let fraction = Int64(Int32(bitPattern: stamp.fraction))
        // libpcap hands tcpstat microseconds; a nanosecond file is scaled down by a
        // truncating (toward zero) division of the signed field.
        let microseconds = stamp.unit == .nanoseconds ? fraction / 1000 : fraction
        return PacketFacts(timestampSeconds: stamp.seconds, timestampMicroseconds: microseconds,
                           sizeBytes: size, protocols: protocols)
    }
}

/// 24 bytes kept across packets: each packet overwrites only the bytes it has.
private struct StickyBytes: Sendable {
    private var lanes: (UInt64, UInt64, UInt64) = (0, 0, 0)

    @inline(__always)
    mutating func store(_ data: UnsafeRawBufferPointer) {
        if data.count >= 24 {
            lanes = (UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                     UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                     UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
            return
        }
        let n = data.count
        var i = 0
        while i < n {
            set(i, data[i])
            i += 1
        }
    }

    @inline(__always)
    private mutating func set(_ i: Int, _ byte: UInt8) {
        let shift = UInt64((i & 7) * 8)
        let mask = ~(UInt64(0xFF) << shift)
        let value = UInt64(byte) << shift
        switch i >> 3 {
        case 0: lanes.0 = lanes.0 & mask | value
        case 1: lanes.1 = lanes.1 & mask | value
        default: lanes.2 = lanes.2 & mask | value
        }
    }

    @inline(__always)
    subscript(_ i: Int) -> UInt8 {
        let shift = UInt64((i & 7) * 8)
        switch i >> 3 {
        case 0: return UInt8(truncatingIfNeeded: lanes.0 >> shift)
        case 1: return UInt8(truncatingIfNeeded: lanes.1 >> shift)
        default: return UInt8(truncatingIfNeeded: lanes.2 >> shift)
        }
    }
}
