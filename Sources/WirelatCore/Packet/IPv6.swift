/// The fixed IPv6 header, RFC 8200 §3.
public struct IPv6Header: Sendable, Equatable {
    /// Version (RFC 8200 §3); 6 for a valid header.
    public var version: UInt8
    /// Traffic Class (RFC 8200 §3, §7).
    public var trafficClass: UInt8
    /// Flow Label, 20 bits (RFC 8200 §3, §6).
    public var flowLabel: UInt32
    /// Payload Length (RFC 8200 §3): bytes after this header, extension headers included.
    public var payloadLength: UInt16
    /// Next Header (RFC 8200 §3): the first extension header or the upper layer.
    public var nextHeader: UInt8
    /// Hop Limit (RFC 8200 §3).
    public var hopLimit: UInt8
    /// Source Address (RFC 8200 §3).
    public var source: IPv6Address
    /// Destination Address (RFC 8200 §3).
    public var destination: IPv6Address

    public static let headerLength = 40

    /// Decodes the 40-byte fixed header. Throws `.truncated` if fewer than 40
    /// bytes are captured and `.malformed` if the version is not 6.
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        let start = r.offset
        if r.remaining < Self.headerLength { throw DecodeError(.truncated, at: r.offset + r.remaining) }
        let word = try r.uint32BE()
        version = UInt8(word >> 28)
        trafficClass = UInt8(truncatingIfNeeded: word >> 20)
        flowLabel = word & 0x000F_FFFF
        payloadLength = try r.uint16BE()
        nextHeader = try r.uint8()
        hopLimit = try r.uint8()
        source = try r.ipv6Address()
        destination = try r.ipv6Address()
        if version != 6 { throw DecodeError(.malformed("IPv6 version \(version)"), at: start) }
    }
}

/// One IPv6 extension header, RFC 8200 §4.
public struct IPv6ExtensionHeader: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Hop-by-Hop Options (RFC 8200 §4.3).
        case hopByHop
        /// Destination Options (RFC 8200 §4.6).
        case destinationOptions
        /// Routing (RFC 8200 §4.4): routing type and segments left.
        case routing(type: UInt8, segmentsLeft: UInt8)
        /// Fragment (RFC 8200 §4.5): offset in bytes, M flag, identification.
        case fragment(offsetBytes: Int, moreFragments: Bool, identification: UInt32)
    }

    public var kind: Kind
    /// Offset of the header within the packet buffer.
    public var offset: Int
    /// Its length in bytes (Hdr Ext Len + 1) × 8, or 8 for a Fragment header.
    public var length: Int
    /// Next Header field of this extension header.
    public var nextHeader: UInt8

    /// Whether `protocolNumber` names an extension header this decoder walks.
    public static func isExtension(_ protocolNumber: UInt8) -> Bool {
        switch protocolNumber {
        case IPProtocolNumber.hopByHop, IPProtocolNumber.routing, IPProtocolNumber.fragment,
            IPProtocolNumber.destinationOptions:
            return true
        default:
            return false
        }
    }

    /// Decodes the extension header of type `protocolNumber` at the reader's
    /// position and leaves the reader after it. Throws `.truncated` when the
    /// captured bytes end inside it.
    public init(decoding r: inout ByteReader, protocolNumber: UInt8) throws(DecodeError) {
        offset = r.offset
        switch protocolNumber {
        case IPProtocolNumber.fragment:
            // RFC 8200 §4.5: Next Header, Reserved, Fragment Offset (13 bits) | Res | M, Identification.
            nextHeader = try r.uint8()
            try r.skip(1)
            let offsetAndFlags = try r.uint16BE()
            let identification = try r.uint32BE()
            length = 8
            kind = .fragment(offsetBytes: Int(offsetAndFlags & 0xFFF8), moreFragments: offsetAndFlags & 1 != 0,
                             identification: identification)
        default:
            // RFC 8200 §4.3, §4.4, §4.6: Next Header, Hdr Ext Len in 8-octet units not counting the first 8.
            nextHeader = try r.uint8()
            let extLength = try r.uint8()
            length = (Int(extLength) + 1) * 8
            if protocolNumber == IPProtocolNumber.routing {
                let type = try r.uint8()
                let segmentsLeft = try r.uint8()
                kind = .routing(type: type, segmentsLeft: segmentsLeft)
            } else {
                kind = protocolNumber == IPProtocolNumber.hopByHop ? .hopByHop : .destinationOptions
            }
            r = r.at(offset)
            try r.skip(length)
        }
    }
}

/// An IPv6 packet's header chain walked to the upper layer (RFC 8200 §4.1 order).
public struct IPv6HeaderChain: Sendable {
    public var header: IPv6Header
    /// Up to four extension headers, in order; `extensionCount` says how many.
    public var extensions: (IPv6ExtensionHeader?, IPv6ExtensionHeader?, IPv6ExtensionHeader?, IPv6ExtensionHeader?)
    public var extensionCount: Int
    /// The upper-layer protocol number (the last Next Header).
    public var upperProtocol: UInt8
    /// Offset of the upper-layer header.
    public var upperOffset: Int
    /// Whether a Fragment header with a non-zero offset was met: no upper-layer header follows.
    public var isLaterFragment: Bool
    /// Whether a Fragment header was met at all.
    public var isFragment: Bool

    /// Walks from the fixed header through hop-by-hop, routing, fragment and
    /// destination-options headers. Throws `.truncated` if the captured bytes end
    /// inside a header; more than four extension headers is `.malformed`.
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        header = try IPv6Header(decoding: &r)
        extensions = (nil, nil, nil, nil)
        extensionCount = 0
        isLaterFragment = false
        isFragment = false
        var next = header.nextHeader
        while IPv6ExtensionHeader.isExtension(next) {
            if extensionCount == 4 { throw DecodeError(.malformed("more than four IPv6 extension headers"), at: r.offset) }
            let ext = try IPv6ExtensionHeader(decoding: &r, protocolNumber: next)
            switch extensionCount {
            case 0: extensions.0 = ext
            case 1: extensions.1 = ext
            case 2: extensions.2 = ext
            default: extensions.3 = ext
            }
            extensionCount += 1
            next = ext.nextHeader
            if case .fragment(let offsetBytes, _, _) = ext.kind {
                isFragment = true
                if offsetBytes != 0 {
                    isLaterFragment = true
                    break
                }
            }
        }
        upperProtocol = next
        upperOffset = r.offset
    }
}
