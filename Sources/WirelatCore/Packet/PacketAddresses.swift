/// An IPv4 address, RFC 791 §3.1 ("Source Address", "Destination Address"): 32 bits,
/// kept in network order as an integer so that comparing two addresses compares
/// their bytes.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Dotted quad, as tcpdump -n prints it.
    public var description: String {
        var text: [UInt8] = []
        text.appendIPv4(self)
        return String(decoding: text, as: UTF8.self)
    }
}

/// An IPv6 address, RFC 8200 §3: 128 bits, kept as two big-endian halves so that
/// comparing two addresses compares their bytes (tcpdump's `memcmp`).
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The eight 16-bit groups, most significant first.
    public init(groups g: [UInt16]) {
        precondition(g.count == 8, "an IPv6 address has eight groups")
        high = UInt64(g[0]) << 48 | UInt64(g[1]) << 32 | UInt64(g[2]) << 16 | UInt64(g[3])
        low = UInt64(g[4]) << 48 | UInt64(g[5]) << 32 | UInt64(g[6]) << 16 | UInt64(g[7])
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }

    /// Group `i` (0...7).
    @inline(__always)
    public func group(_ i: Int) -> UInt16 {
        let half = i < 4 ? high : low
        return UInt16(truncatingIfNeeded: half >> (UInt64(3 - (i & 3)) * 16))
    }

    /// RFC 5952 text, with tcpdump's rules for embedded IPv4 (`::a.b.c.d`, `::ffff:a.b.c.d`).
    public var description: String {
        var text: [UInt8] = []
        text.appendIPv6(self)
        return String(decoding: text, as: UTF8.self)
    }
}

extension ByteReader {
    /// Four bytes as an IPv4 address (RFC 791 §3.1).
    @inline(__always)
    mutating func ipv4Address() throws(DecodeError) -> IPv4Address {
        IPv4Address(try uint32BE())
    }

    /// Sixteen bytes as an IPv6 address (RFC 8200 §3).
    @inline(__always)
    mutating func ipv6Address() throws(DecodeError) -> IPv6Address {
        let high = try uint64BE()
        let low = try uint64BE()
        return IPv6Address(high: high, low: low)
    }

    /// A reader over the same bytes positioned at `offset`.
    @inline(__always)
    func at(_ offset: Int) -> ByteReader { ByteReader(bytes, offset: offset) }
}
