/// The error every decoder throws: what it was reading and where the bytes ran out.
public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The input ended before the field did (tcpdump's `[|proto]`).
        case truncated
        /// A field holds a value the format does not allow.
        case malformed(String)
    }
    public let kind: Kind
    public let offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        switch kind {
        case .truncated: return "truncated at byte \(offset)"
        case .malformed(let why): return "malformed at byte \(offset): \(why)"
        }
    }
}

/// A bounds-checked, big-endian reader over borrowed bytes: the input may end
/// at any byte, and every getter checks before it reads.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    @inline(__always)
    private func need(_ n: Int) throws(DecodeError) {
        if n > bytes.count - offset { throw DecodeError(.truncated, at: offset) }
    }

    @inline(__always)
    public mutating func uint8() throws(DecodeError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    @inline(__always)
    public mutating func uint16BE() throws(DecodeError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    @inline(__always)
    public mutating func uint32BE() throws(DecodeError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    @inline(__always)
    public mutating func uint64BE() throws(DecodeError) -> UInt64 {
        let hi = try uint32BE()
        let lo = try uint32BE()
        return UInt64(hi) << 32 | UInt64(lo)
    }

    public mutating func skip(_ n: Int) throws(DecodeError) {
        try need(n)
        offset += n
    }

    /// The next `n` bytes, borrowed.
    public mutating func slice(_ n: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
        try need(n)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
    }
}

/// Appends big-endian fields to a byte array.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func uint8(_ v: UInt8) { bytes.append(v) }
    public mutating func uint16BE(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v)) }
    public mutating func uint32BE(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v))
    }
    public mutating func uint64BE(_ v: UInt64) { uint32BE(UInt32(v >> 32)); uint32BE(UInt32(truncatingIfNeeded: v)) }
    public mutating func append<C: Collection>(contentsOf c: C) where C.Element == UInt8 { bytes.append(contentsOf: c) }
}
