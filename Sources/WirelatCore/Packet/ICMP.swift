/// The ICMP header, RFC 792: type, code, checksum and the 4-byte field whose
/// meaning depends on the type (identifier and sequence number for echo).
public struct ICMPHeader: ICMPHeaderLayout, Sendable, Equatable {
    /// Type (RFC 792): 0 echo reply, 3 destination unreachable, 8 echo, 11 time exceeded, ...
    public var type: UInt8
    /// Code (RFC 792).
    public var code: UInt8
    /// Checksum (RFC 792); not verified here.
    public var checksum: UInt16
    /// The second 32-bit word (RFC 792): identifier/sequence, gateway address,
    /// pointer or unused, depending on `type`.
    public var restOfHeader: UInt32

    public static let headerLength = 8
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11

    public init(type: UInt8, code: UInt8, checksum: UInt16, restOfHeader: UInt32) {
        self.type = type
        self.code = code
        self.checksum = checksum
        self.restOfHeader = restOfHeader
    }
}

/// The ICMPv6 header, RFC 4443 §2.1, with the echo fields of §4.1 and §4.2.
public struct ICMPv6Header: ICMPHeaderLayout, Sendable, Equatable {
    /// Type (RFC 4443 §2.1): 1–4 errors, 128 echo request, 129 echo reply, 133–137 neighbor discovery (RFC 4861).
    public var type: UInt8
    /// Code (RFC 4443 §2.1).
    public var code: UInt8
    /// Checksum (RFC 4443 §2.3); not verified here.
    public var checksum: UInt16
    /// The 32 bits after the checksum: identifier/sequence (§4.1), MTU (§3.2), pointer (§3.4).
    public var restOfHeader: UInt32

    public static let headerLength = 8
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129

    public init(type: UInt8, code: UInt8, checksum: UInt16, restOfHeader: UInt32) {
        self.type = type
        self.code = code
        self.checksum = checksum
        self.restOfHeader = restOfHeader
    }
}

/// The layout ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1) share: type, code, checksum, and a
/// 32-bit word that echo messages split into identifier and sequence number (RFC 792
/// "Echo or Echo Reply Message", RFC 4443 §4.1 and §4.2).
public protocol ICMPHeaderLayout {
    var type: UInt8 { get }
    var restOfHeader: UInt32 { get }
    static var headerLength: Int { get }
    static var echoRequest: UInt8 { get }
    static var echoReply: UInt8 { get }
    init(type: UInt8, code: UInt8, checksum: UInt16, restOfHeader: UInt32)
}

extension ICMPHeaderLayout {
    /// Identifier of an echo request or reply.
    public var identifier: UInt16 { UInt16(truncatingIfNeeded: restOfHeader >> 16) }
    /// Sequence Number of an echo request or reply.
    public var sequenceNumber: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }
    public var isEcho: Bool { type == Self.echoRequest || type == Self.echoReply }

    /// Decodes the 8-byte header. Throws `.truncated` if fewer were captured.
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        if r.remaining < Self.headerLength { throw DecodeError(.truncated, at: r.offset + r.remaining) }
        let type = try r.uint8()
        let code = try r.uint8()
        let checksum = try r.uint16BE()
        self.init(type: type, code: code, checksum: checksum, restOfHeader: try r.uint32BE())
    }
}
