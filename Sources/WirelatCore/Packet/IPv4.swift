/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers") the decoders act on.
public enum IPProtocolNumber {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let igmp: UInt8 = 2
    public static let ipv4: UInt8 = 4
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let dccp: UInt8 = 33
    public static let ipv6: UInt8 = 41
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
    public static let mobility: UInt8 = 135
    public static let sctp: UInt8 = 132
}

/// The IPv4 header, RFC 791 §3.1.
public struct IPv4Header: Sendable, Equatable {
    /// Version, 4 bits (RFC 791 §3.1 "Version"); 4 for a valid header.
    public var version: UInt8
    /// Internet Header Length × 4 (RFC 791 §3.1 "IHL"): the header including options.
    public var headerLength: Int
    /// Type of Service (RFC 791 §3.1), now DSCP + ECN (RFC 2474, RFC 3168).
    public var typeOfService: UInt8
    /// Total Length (RFC 791 §3.1): header plus data, in bytes.
    public var totalLength: UInt16
    /// Identification (RFC 791 §3.1), for reassembly.
    public var identification: UInt16
    /// Flags (3 bits) and Fragment Offset (13 bits, in 8-byte units) (RFC 791 §3.1).
    public var flagsAndFragmentOffset: UInt16
    /// Time to Live (RFC 791 §3.1).
    public var timeToLive: UInt8
    /// Protocol (RFC 791 §3.1): the next header.
    public var protocolNumber: UInt8
    /// Header Checksum (RFC 791 §3.1); not verified here.
    public var headerChecksum: UInt16
    /// Source Address (RFC 791 §3.1).
    public var source: IPv4Address
    /// Destination Address (RFC 791 §3.1).
    public var destination: IPv4Address

    /// The DF flag (RFC 791 §3.1 "Flags", bit 1).
    public var dontFragment: Bool { flagsAndFragmentOffset & 0x4000 != 0 }
    /// The MF flag (RFC 791 §3.1 "Flags", bit 2).
    public var moreFragments: Bool { flagsAndFragmentOffset & 0x2000 != 0 }
    /// Fragment offset in bytes (the field counts 8-byte units).
    public var fragmentOffsetBytes: Int { Int(flagsAndFragmentOffset & 0x1FFF) * 8 }
    /// Whether this is a fragment other than the first: only the first carries the transport header.
    public var isLaterFragment: Bool { flagsAndFragmentOffset & 0x1FFF != 0 }
    /// Bytes of payload the header announces (total length − header length), 0 if inconsistent.
    public var payloadLength: Int { max(0, Int(totalLength) - headerLength) }

    public static let minimumHeaderLength = 20

    /// Decodes the fixed 20 bytes (options are left in place, between byte 20 and
    /// `headerLength`). Throws `.truncated` if fewer than 20 bytes are captured,
    /// `.malformed` if the version is not 4 or IHL is below 5.
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        let start = r.offset
        if r.remaining < Self.minimumHeaderLength { throw DecodeError(.truncated, at: r.offset + r.remaining) }
        let versionAndIHL = try r.uint8()
        version = versionAndIHL >> 4
        headerLength = Int(versionAndIHL & 0x0F) * 4
        typeOfService = try r.uint8()
        totalLength = try r.uint16BE()
        identification = try r.uint16BE()
        flagsAndFragmentOffset = try r.uint16BE()
        timeToLive = try r.uint8()
        protocolNumber = try r.uint8()
        headerChecksum = try r.uint16BE()
        source = try r.ipv4Address()
        destination = try r.ipv4Address()
        if version != 4 { throw DecodeError(.malformed("IP version \(version)"), at: start) }
        if headerLength < Self.minimumHeaderLength {
            throw DecodeError(.malformed("IPv4 header length \(headerLength) < 20"), at: start)
        }
    }
}
