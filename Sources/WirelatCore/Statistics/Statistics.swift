import Histogram

/// Round-trip latency statistics, all in nanoseconds: the `rtt_ns` object of every JSON
/// report.
///
/// Only `min p50 p90 p99 p999 max mean stddev` are encoded; `count` travels beside this
/// object as the report's `samples` and is 0 after decoding.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: UInt64 = 0
    public var min: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
    public var mean: Double
    /// Population standard deviation (divides by n, as ping's `mdev` does).
    public var stddev: Double

    enum CodingKeys: String, CodingKey {
        case min, p50, p90, p99, p999, max, mean, stddev
    }

    public init(
        count: UInt64, min: UInt64, p50: UInt64, p90: UInt64, p99: UInt64, p999: UInt64,
        max: UInt64, mean: Double, stddev: Double
    ) {
        self.count = count
        self.min = min
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.mean = mean
        self.stddev = stddev
    }

    /// No samples: every field zero.
    public static let empty = LatencySummary(
        count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0)
}

/// Collects round-trip times in nanoseconds.
///
/// Percentiles come from an HDR histogram (1 ns to 1 hour, 3 significant digits, so
/// within 0.1 %); count, min, max, mean and standard deviation are exact, kept beside it
/// (sums of the samples less a shift, the running mean as of the last power-of-two count,
/// which needs no division per sample and stays as accurate as Welford's method). A sample above one hour is
/// counted exactly in min, max, mean and stddev, enters the histogram as one hour, and is
/// counted in ``clamped``. Recording allocates once, at the first sample.
///
/// A sample is counted in the bucket HdrHistogram would count it in, computed here in a
/// few instructions (hdrhistogram-swift's `record` costs some 60 more, in calls it does
/// not inline). The summary's percentiles are read from those counts by HdrHistogram's
/// own rule (`valueAtPercentile`); for the distribution a `Histogram` is filled from
/// them, with the same counts, minimum and maximum as if every sample had been recorded
/// in it.
public struct LatencyRecorder: Sendable {
    /// The largest value the histogram resolves: one hour.
    public static let highestTrackableNanoseconds: UInt64 = 3_600_000_000_000

    /// Samples per HdrHistogram bucket (index as `countsIndexForValue` gives it); empty
    /// until the first sample.
    private var bucketCounts: [UInt64] = []
    /// The smallest sample above zero, as the histogram keeps it (clamped to one hour).
    private var minimumAboveZero: UInt64 = .max
    /// Samples recorded, including the synthetic ones added by coordinated-omission correction.
    public private(set) var count: UInt64 = 0
    /// Samples above ``highestTrackableNanoseconds`` that entered the histogram clamped.
    public private(set) var clamped: UInt64 = 0
    /// Synthetic samples added by ``record(_:expectedInterval:)``.
    public private(set) var corrected: UInt64 = 0
    private var minimum: UInt64 = .max
    private var maximum: UInt64 = 0
    /// Subtracted from every sample before it enters the sums; moved to the mean at each
    /// power-of-two count, so the sums stay small and the variance does not cancel.
    private var shift: Double = 0
    private var shiftedSum: Double = 0
    private var shiftedSumOfSquares: Double = 0

    private var runningMean: Double { count == 0 ? 0 : shift + shiftedSum / Double(count) }
    private var sumOfSquaredDeviations: Double {
        count == 0 ? 0 : Swift.max(0, shiftedSumOfSquares - shiftedSum * shiftedSum / Double(count))
    }

    /// Sets the sums to `count` samples of mean `mean` and sum of squared deviations `m2`.
    private mutating func recenter(mean: Double, m2: Double) {
        shift = mean
        shiftedSum = 0
        shiftedSumOfSquares = m2
    }

    public init() {}

    /// An empty histogram of the recorder's range and precision.
    private static func emptyHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableNanoseconds,
                          numberOfSignificantValueDigits: .three)
    }

    /// HdrHistogram's layout for a lowest discernible value of 1 (unit magnitude 0) and
    /// three significant digits: 2,048 sub-buckets of which each bucket after the first
    /// uses the upper 1,024, each bucket twice as wide as the one before.
    private static let subBucketHalfCountMagnitude = 10
    private static let subBucketMask: UInt64 = (1 << (subBucketHalfCountMagnitude + 1)) - 1

    /// How many times the first bucket's width the bucket of `value` is wide, as a power
    /// of two: HdrHistogram's `bucketIndexForValue`.
    @inline(__always)
    private static func magnitude(of value: UInt64) -> Int {
        64 - (subBucketHalfCountMagnitude + 1) - (value | subBucketMask).leadingZeroBitCount
    }

    /// The bucket `value` is counted in: HdrHistogram's `countsIndexForValue`.
    @inline(__always)
    private static func bucket(of value: UInt64) -> Int {
        let bucketIndex = magnitude(of: value)
        let subBucketIndex = Int(truncatingIfNeeded: value >> UInt64(bucketIndex))
        return ((bucketIndex + 1) << subBucketHalfCountMagnitude) + subBucketIndex - (1 << subBucketHalfCountMagnitude)
    }

    /// The lowest value counted in `bucket`: HdrHistogram's `valueFromIndex`.
    private static func lowestValue(inBucket bucket: Int) -> UInt64 {
        let half = 1 << subBucketHalfCountMagnitude
        var bucketIndex = (bucket >> subBucketHalfCountMagnitude) - 1
        var subBucketIndex = (bucket & (half - 1)) + half
        if bucketIndex < 0 {
            subBucketIndex -= half
            bucketIndex = 0
        }
        return UInt64(subBucketIndex) << UInt64(bucketIndex)
    }

    private static let bucketCount = bucket(of: highestTrackableNanoseconds) + 1

    /// The histogram of every sample recorded: each bucket's count recorded at a value
    /// of that bucket, the smallest sample above zero and the largest at their own, so
    /// that its counts, total, minimum and maximum are those of recording each sample.
    private func histogram() -> Histogram<UInt64> {
        var histogram = Self.emptyHistogram()
        guard count > 0 else { return histogram }
        let largest = Swift.min(maximum, Self.highestTrackableNanoseconds)
        let largestBucket = Self.bucket(of: largest)
        for (bucket, samples) in bucketCounts.enumerated() where samples > 0 {
            let value = bucket == 0 ? 0 : Swift.max(Self.lowestValue(inBucket: bucket), minimumAboveZero)
            if bucket == largestBucket {
                if samples > 1 { histogram.record(value, count: samples - 1) }
                histogram.record(largest)
            } else {
                histogram.record(value, count: samples)
            }
        }
        return histogram
    }

    public var isEmpty: Bool { count == 0 }

    /// Records one round-trip time.
    public mutating func record(_ nanoseconds: UInt64) {
        let value = Double(nanoseconds)
        if count == 0 { shift = value }
        count &+= 1
        if nanoseconds < minimum { minimum = nanoseconds }
        if nanoseconds > maximum { maximum = nanoseconds }
        let d = value - shift
        shiftedSum += d
        shiftedSumOfSquares += d * d
        if count & (count &- 1) == 0 { recenter(mean: runningMean, m2: sumOfSquaredDeviations) }

        var histogramValue = nanoseconds
        if nanoseconds > Self.highestTrackableNanoseconds {
            histogramValue = Self.highestTrackableNanoseconds
            clamped &+= 1
        }
        if histogramValue != 0 && histogramValue < minimumAboveZero { minimumAboveZero = histogramValue }
        if bucketCounts.isEmpty { bucketCounts = [UInt64](repeating: 0, count: Self.bucketCount) }
        bucketCounts[Self.bucket(of: histogramValue)] &+= 1
    }

    /// Records one round-trip time measured by a sender that meant to send every
    /// `expectedInterval` nanoseconds, and corrects for coordinated omission as
    /// HdrHistogram's `recordCorrectedValue` does: when the sample exceeds the interval,
    /// the samples that the stall kept from being sent are added too, at
    /// `nanoseconds - expectedInterval`, `nanoseconds - 2 × expectedInterval`, … down to
    /// `expectedInterval`. Those go into the histogram and the exact statistics alike and
    /// are counted in ``corrected``. An `expectedInterval` of 0 records the sample alone.
    public mutating func record(_ nanoseconds: UInt64, expectedInterval: UInt64) {
        record(nanoseconds)
        guard expectedInterval > 0, nanoseconds > expectedInterval else { return }
        var missing = nanoseconds - expectedInterval
        while missing >= expectedInterval {
            record(missing)
            corrected &+= 1
            missing -= expectedInterval
        }
    }

    /// Adds every sample of `other`, as if each had been recorded here. The exact
    /// statistics combine with the parallel form of Welford's algorithm (Chan et al.).
    public mutating func merge(_ other: LatencyRecorder) {
        guard !other.isEmpty else { return }
        guard !isEmpty else {
            self = other
            return
        }
        let selfCount = Double(count)
        let otherCount = Double(other.count)
        let total = selfCount + otherCount
        let delta = other.runningMean - runningMean
        let mean = runningMean + delta * (otherCount / total)
        let m2 = sumOfSquaredDeviations + other.sumOfSquaredDeviations + delta * delta * (selfCount * otherCount / total)
        count &+= other.count
        recenter(mean: mean, m2: m2)
        clamped &+= other.clamped
        corrected &+= other.corrected
        minimum = Swift.min(minimum, other.minimum)
        maximum = Swift.max(maximum, other.maximum)
        minimumAboveZero = Swift.min(minimumAboveZero, other.minimumAboveZero)
        if bucketCounts.isEmpty {
            bucketCounts = other.bucketCounts
        } else {
            for (bucket, samples) in other.bucketCounts.enumerated() where samples > 0 { bucketCounts[bucket] &+= samples }
        }
    }

    /// Forgets every sample; the histogram's storage is kept.
    public mutating func reset() {
        bucketCounts.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        minimumAboveZero = .max
        count = 0
        clamped = 0
        corrected = 0
        minimum = .max
        maximum = 0
        recenter(mean: 0, m2: 0)
    }

    /// min, max, mean and population stddev exact; percentiles from the histogram, kept
    /// within [min, max]. All zeros when nothing was recorded.
    public func summary() -> LatencySummary {
        guard count > 0 else { return .empty }
        let percentiles = histogramValues(atPercentiles: [50, 90, 99, 99.9])
            .map { Swift.min(Swift.max($0, minimum), maximum) }
        return LatencySummary(
            count: count,
            min: minimum,
            p50: percentiles[0],
            p90: percentiles[1],
            p99: percentiles[2],
            p999: percentiles[3],
            max: maximum,
            mean: runningMean,
            stddev: (sumOfSquaredDeviations / Double(count)).squareRoot())
    }

    /// What HdrHistogram's `valueAtPercentile` gives for each of `percentiles` (ascending,
    /// each above 0 and below 100) on the histogram of every sample: the highest value
    /// of the first bucket at which the running count reaches the percentile's share of
    /// the samples, rounded up, kept within the histogram's minimum and maximum. One pass
    /// over the counts for all of them, where `valueAtPercentile` makes one each, and
    /// through generic code.
    private func histogramValues(atPercentiles percentiles: [Double]) -> [UInt64] {
        let histogramMaximum = Swift.min(maximum, Self.highestTrackableNanoseconds)
        let histogramMinimum = bucketCounts[0] > 0 ? 0 : minimumAboveZero
        var values: [UInt64] = []
        var bucket = -1
        var runningCount: UInt64 = 0
        for percentile in percentiles {
            let requested = Swift.min(Swift.max(percentile.nextDown, 0), 100)
            let wanted = Swift.max(1, UInt64((requested * Double(count) / 100).rounded(.up)))
            while bucket < 0 || (runningCount < wanted && bucket < bucketCounts.count) {
                bucket += 1
                if bucket < bucketCounts.count { runningCount &+= bucketCounts[bucket] }
            }
            guard bucket < bucketCounts.count else {
                values.append(0)
                continue
            }
            let lowest = Self.lowestValue(inBucket: bucket)
            let highest = lowest + (UInt64(1) << UInt64(Self.magnitude(of: lowest))) - 1
            values.append(Swift.max(Swift.min(highest, histogramMaximum), histogramMinimum))
        }
        return values
    }

    /// The histogram as HdrHistogram's percentile-distribution text (the `.hgrm` that wrk2
    /// prints and HdrHistogram's plotter reads): a `Value Percentile TotalCount
    /// 1/(1-Percentile)` line per reporting point, five points per halving of the
    /// remaining distance to 100%, then the `#[Mean …]`, `#[Max …]` and `#[Buckets …]`
    /// footer. Values are in milliseconds. The footer's mean and stddev are the
    /// histogram's own (bucket midpoints), as HdrHistogram prints them.
    public func percentileDistribution() -> String {
        var text = ""
        histogram().outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1_000_000)
        return text
    }
}
