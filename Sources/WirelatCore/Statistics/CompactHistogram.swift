/// A small log-linear histogram of nanosecond values: exact below 32 ns, then 32 buckets
/// per power of two (within 3 %), up to 2³⁸ ns (4.6 minutes). Recording is a few
/// instructions and a percentile walks at most about a thousand buckets, so the delay line
/// can summarize its own latency ten times a second without stalling its packets.
public struct CompactHistogram: Sendable, Equatable {
    static let subBucketBits = 5
    static let subBuckets = 1 << subBucketBits
    static let maxExponent = 38
    private var counts = [UInt64](repeating: 0, count: (maxExponent - subBucketBits + 2) * subBuckets)
    public private(set) var count: UInt64 = 0
    public private(set) var sum: Double = 0
    public private(set) var max: UInt64 = 0
    public private(set) var min: UInt64 = .max

    public init() {}

    public var mean: Double { count == 0 ? 0 : sum / Double(count) }

    @inline(__always)
    static func index(_ value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let exponent = Swift.min(63 - value.leadingZeroBitCount, maxExponent)
        let clamped = Swift.min(value, (UInt64(1) << (maxExponent + 1)) - 1)
        let sub = Int((clamped >> UInt64(exponent - subBucketBits)) & UInt64(subBuckets - 1))
        return (exponent - subBucketBits + 1) * subBuckets + sub
    }

    /// The middle of bucket `index`.
    static func value(at index: Int) -> UInt64 {
        if index < subBuckets { return UInt64(index) }
        let exponent = index / subBuckets + subBucketBits - 1
        let sub = UInt64(index % subBuckets)
        let width = UInt64(1) << UInt64(exponent - subBucketBits)
        return (UInt64(1) << UInt64(exponent)) + sub * width + width / 2
    }

    @inline(__always)
    public mutating func record(_ value: UInt64) {
        counts[Self.index(value)] &+= 1
        count &+= 1
        sum += Double(value)
        if value > max { max = value }
        if value < min { min = value }
    }

    /// The value at percentile `p` (0…100), kept within [min, max]; 0 when empty.
    public func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((p / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Swift.min(Swift.max(Self.value(at: i), min), max) }
        }
        return max
    }
}
