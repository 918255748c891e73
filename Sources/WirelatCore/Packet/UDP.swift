/// The UDP header, RFC 768 ("Format").
public struct UDPHeader: Sendable, Equatable {
    /// Source Port (RFC 768).
    public var sourcePort: UInt16
    /// Destination Port (RFC 768).
    public var destinationPort: UInt16
    /// Length (RFC 768): header plus data, in bytes; at least 8.
    public var length: UInt16
    /// Checksum (RFC 768); 0 means none was sent over IPv4. Not verified here.
    public var checksum: UInt16

    public static let headerLength = 8

    /// Data bytes the header announces (length − 8), 0 if the field is too small.
    public var payloadLength: Int { max(0, Int(length) - Self.headerLength) }

    /// Decodes the 8-byte header. Throws `.truncated` if fewer were captured.
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        if r.remaining < Self.headerLength { throw DecodeError(.truncated, at: r.offset + r.remaining) }
        sourcePort = try r.uint16BE()
        destinationPort = try r.uint16BE()
        length = try r.uint16BE()
        checksum = try r.uint16BE()
    }
}
