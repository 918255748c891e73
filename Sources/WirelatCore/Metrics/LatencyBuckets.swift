/// The upper bounds of wirelat's latency histograms (`le`), 10 µs to 10 s.
///
/// 25 bounds per decade, the mantissas 10^(k/25) rounded to three digits (1, 1.1, 1.2,
/// 1.32, 1.45, 1.59, 1.74, 1.91, 2.09, …, 8.32, 9.12), so each bucket's upper bound is at
/// most 1.1 times its lower. Prometheus's `histogram_quantile` interpolates linearly inside
/// the bucket that holds the quantile, so its answer and the true quantile lie in the
/// same bucket and differ by at most 10 % of the true value, whatever the distribution —
/// even a spike narrower than a bucket, as a quiet LAN's round trips are. Below 10 µs
/// the first bucket runs from 0; above 10 s only `+Inf` is left, and
/// `histogram_quantile` answers 10 s.
public enum LatencyBuckets {
    /// Mantissas × 100 of one decade.
    static let mantissas: [UInt64] = [100, 110, 120, 132, 145, 159, 174, 191, 209, 229, 251, 275, 302, 331, 363,
                                      398, 437, 479, 525, 575, 631, 692, 759, 832, 912]

    /// The bounds in nanoseconds, ascending: 10_000 … 10_000_000_000 (151 bounds).
    public static let upperBoundsNanoseconds: [UInt64] = {
        var bounds: [UInt64] = []
        var scale: UInt64 = 100 // 1.00 × 10 µs is 10_000 ns = 100 × 100
        for _ in 0..<6 {
            for m in mantissas { bounds.append(m * scale) }
            scale *= 10
        }
        bounds.append(10_000_000_000)
        return bounds
    }()

    /// The bounds in seconds, as the `le` labels carry them.
    public static let upperBoundsSeconds: [Double] = upperBoundsNanoseconds.map { Double($0) / 1e9 }

    /// The `le` label of each bound, then `+Inf`.
    static let labels: [String] = upperBoundsSeconds.map(PrometheusTextWriter.format) + ["+Inf"]

    /// The index of the bucket `nanoseconds` is counted in (the first bound at or above
    /// it; `upperBoundsNanoseconds.count` for `+Inf`).
    @inline(__always)
    static func index(of nanoseconds: UInt64) -> Int {
        var low = 0
        var high = upperBoundsNanoseconds.count
        while low < high {
            let mid = (low + high) / 2
            if upperBoundsNanoseconds[mid] < nanoseconds { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// Cumulative-ready bucket counts of one histogram series, with its sum and count.
struct BucketCounts: Sendable {
    /// Per bucket (not cumulative); the last is `+Inf`.
    var counts = [UInt64](repeating: 0, count: LatencyBuckets.upperBoundsNanoseconds.count + 1)
    var sumSeconds: Double = 0
    var count: UInt64 = 0

    mutating func record(_ nanoseconds: UInt64) {
        counts[LatencyBuckets.index(of: nanoseconds)] &+= 1
        sumSeconds += Double(nanoseconds) / 1e9
        count &+= 1
    }

    /// The `_bucket`, `_sum` and `_count` lines of the series labelled `labels`.
    ///
    /// Only the buckets from one below the lowest that holds a sample up to the highest
    /// that does are written, then `+Inf`: a LAN path's round trips fill a dozen of the
    /// 151, and the rest would be hundreds of constant series per target. The empty bucket
    /// below keeps `histogram_quantile`'s interpolation exact (it takes the previous
    /// bucket's bound as the lower end); nothing above the highest can hold a quantile.
    /// A bucket that receives its first sample later appears then, with its cumulative
    /// count, and stays.
    func write(_ name: String, _ labels: [(String, String)], to w: inout PrometheusTextWriter) {
        let finite = counts.count - 1
        let lowest = counts[0..<finite].firstIndex { $0 > 0 }
        let highest = counts[0..<finite].lastIndex { $0 > 0 }
        var cumulative: UInt64 = 0
        if let lowest, let highest {
            let first = max(0, lowest - 1)
            for i in first...highest {
                cumulative &+= counts[i]
                w.sample(name + "_bucket", labels + [("le", LatencyBuckets.labels[i])], cumulative)
            }
        }
        w.sample(name + "_bucket", labels + [("le", "+Inf")], count)
        w.sample(name + "_sum", labels, sumSeconds)
        w.sample(name + "_count", labels, count)
    }
}
