/// TCP control bits, RFC 9293 §3.1 ("Control Bits"), with ECE and CWR from RFC 3168 §6.1.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// Source and destination ports, the first four bytes of both TCP (RFC 9293 §3.1)
/// and UDP (RFC 768) headers.
public struct TransportPorts: Sendable, Equatable {
    public var source: UInt16
    public var destination: UInt16

    public init(source: UInt16, destination: UInt16) {
        self.source = source
        self.destination = destination
    }

    public init(decoding r: inout ByteReader) throws(DecodeError) {
        source = try r.uint16BE()
        destination = try r.uint16BE()
    }
}

/// The TCP header, RFC 9293 §3.1. Options stay in the packet: `optionsOffset`
/// and `declaredOptionsLength` say where; `TCPOptionReader` walks them.
public struct TCPHeader: Sendable, Equatable {
    /// Source Port (RFC 9293 §3.1).
    public var sourcePort: UInt16
    /// Destination Port (RFC 9293 §3.1).
    public var destinationPort: UInt16
    /// Sequence Number (RFC 9293 §3.1).
    public var sequenceNumber: UInt32
    /// Acknowledgment Number (RFC 9293 §3.1), meaningful when ACK is set.
    public var acknowledgmentNumber: UInt32
    /// Data Offset × 4 (RFC 9293 §3.1): header length including options.
    public var headerLength: Int
    /// Control bits (RFC 9293 §3.1, RFC 3168 §6.1).
    public var flags: TCPFlags
    /// The reserved bits of the 13th byte, including RFC 3540's (historic) NS bit.
    public var reservedBits: UInt8
    /// Window (RFC 9293 §3.1), unscaled.
    public var window: UInt16
    /// Checksum (RFC 9293 §3.1); not verified here.
    public var checksum: UInt16
    /// Urgent Pointer (RFC 9293 §3.1), meaningful when URG is set.
    public var urgentPointer: UInt16
    /// Offset of the first option byte in the packet buffer.
    public var optionsOffset: Int

    public static let minimumHeaderLength = 20

    /// Option bytes the data offset announces (may exceed what was captured).
    public var declaredOptionsLength: Int { max(0, headerLength - Self.minimumHeaderLength) }

    /// Decodes the fixed 20 bytes. Throws `.truncated` if fewer were captured;
    /// a data offset below 5 is left for the caller to judge (`headerLength` < 20).
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        if r.remaining < Self.minimumHeaderLength { throw DecodeError(.truncated, at: r.offset + r.remaining) }
        sourcePort = try r.uint16BE()
        destinationPort = try r.uint16BE()
        sequenceNumber = try r.uint32BE()
        acknowledgmentNumber = try r.uint32BE()
        let offsetByte = try r.uint8()
        headerLength = Int(offsetByte >> 4) * 4
        reservedBits = offsetByte & 0x0F
        flags = TCPFlags(rawValue: try r.uint8())
        window = try r.uint16BE()
        checksum = try r.uint16BE()
        urgentPointer = try r.uint16BE()
        optionsOffset = r.offset
    }
}

/// One TCP option, decoded.
public enum TCPOption: Sendable, Equatable {
    /// End of Option List, kind 0 (RFC 9293 §3.2).
    case endOfOptionList
    /// No-Operation, kind 1 (RFC 9293 §3.2).
    case noOperation
    /// Maximum Segment Size, kind 2 (RFC 9293 §3.2, §3.7.1).
    case maximumSegmentSize(UInt16)
    /// Window Scale, kind 3 (RFC 7323 §2.2).
    case windowScale(UInt8)
    /// SACK-Permitted, kind 4 (RFC 2018 §2).
    case sackPermitted
    /// SACK, kind 5 (RFC 2018 §3): `blockCount` left/right edge pairs starting at `blocksOffset`.
    case sack(blockCount: Int, blocksOffset: Int)
    /// Timestamps, kind 8 (RFC 7323 §3.2): TSval and TSecr.
    case timestamps(value: UInt32, echoReply: UInt32)
    /// Any other kind; the data bytes are at `dataOffset` in the packet.
    case other(kind: UInt8, dataOffset: Int, dataLength: Int)
}

/// Walks a TCP header's options (RFC 9293 §3.2: kinds 0 and 1 are one byte, the
/// rest kind-length-data). Stops at End of Option List, at the end of the
/// declared options, at a malformed length, or where the captured bytes end.
public struct TCPOptionReader: IteratorProtocol {
    private let bytes: UnsafeRawBufferPointer
    private var offset: Int
    private let end: Int
    /// Set when the walk stopped early: `.truncated` (captured bytes ended) or `.malformed`.
    public private(set) var stoppedBy: DecodeError?
    private var done = false

    public init(packet: UnsafeRawBufferPointer, header: TCPHeader) {
        bytes = packet
        offset = header.optionsOffset
        end = header.optionsOffset + header.declaredOptionsLength
    }

    public mutating func next() -> TCPOption? {
        if done || offset >= end { return nil }
        var r = ByteReader(bytes, offset: offset)
        do throws(DecodeError) {
            let kind = try r.uint8()
            if kind == 0 {
                done = true
                return .endOfOptionList
            }
            if kind == 1 {
                offset += 1
                return .noOperation
            }
            let length = Int(try r.uint8())
            if length < 2 || length > end - offset {
                throw DecodeError(.malformed("TCP option \(kind) length \(length)"), at: offset)
            }
            let data = offset + 2
            let dataLength = length - 2
            if bytes.count - data < dataLength { throw DecodeError(.truncated, at: bytes.count) }
            let option: TCPOption
            switch kind {
            case 2 where dataLength == 2:
                option = .maximumSegmentSize(try r.uint16BE())
            case 3 where dataLength == 1:
                option = .windowScale(try r.uint8())
            case 4 where dataLength == 0:
                option = .sackPermitted
            case 5 where dataLength % 8 == 0:
                option = .sack(blockCount: dataLength / 8, blocksOffset: data)
            case 8 where dataLength == 8:
                option = .timestamps(value: try r.uint32BE(), echoReply: try r.uint32BE())
            default:
                option = .other(kind: kind, dataOffset: data, dataLength: dataLength)
            }
            offset += length
            return option
        } catch {
            stoppedBy = error
            done = true
            return nil
        }
    }
}

extension TCPOptionReader {
    /// The first Timestamps option (RFC 7323 §3.2) among the options at `start..<end` of
    /// `packet`, found by the walk ``next()`` makes (ending at the same End of Option
    /// List, malformed length or end of the captured bytes), without decoding the others.
    @inline(__always)
    static func timestamps(in packet: UnsafeRawBufferPointer, from start: Int, to end: Int)
        -> (value: UInt32, echoReply: UInt32)? {
        let captured = packet.count
        // NOP, NOP, Timestamps: the layout RFC 7323 Appendix A recommends and most stacks
        // send, read at once; the walk below finds the same option in it.
        if end - start >= 12 && captured - start >= 12
            && UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: start, as: UInt32.self)) == 0x0101_080A {
            return (UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self)),
                    UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: start + 8, as: UInt32.self)))
        }
        var offset = start
        while offset < end && offset < captured {
            let kind = packet.load(fromByteOffset: offset, as: UInt8.self)
            if kind == 0 { return nil }
            if kind == 1 {
                offset += 1
                continue
            }
            guard captured - offset >= 2 else { return nil }
            let length = Int(packet.load(fromByteOffset: offset + 1, as: UInt8.self))
            guard length >= 2, length <= end - offset, captured - offset >= length else { return nil }
            if kind == 8 && length == 10 {
                return (UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: offset + 2, as: UInt32.self)),
                        UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: offset + 6, as: UInt32.self)))
            }
            offset += length
        }
        return nil
    }
}

extension TCPHeader {
    /// The Timestamps option's TSval and TSecr (RFC 7323 §3.2), if present and captured.
    public func timestamps(in packet: UnsafeRawBufferPointer) -> (value: UInt32, echoReply: UInt32)? {
        TCPOptionReader.timestamps(in: packet, from: optionsOffset, to: optionsOffset + declaredOptionsLength)
    }

    /// Sequence space the segment occupies (RFC 9293 §3.4: data plus one each for SYN and FIN).
    public func sequenceLength(payloadLength: Int) -> Int {
        payloadLength + (flags.contains(.syn) ? 1 : 0) + (flags.contains(.fin) ? 1 : 0)
    }
}
