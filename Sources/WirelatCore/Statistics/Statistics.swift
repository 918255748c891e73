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
/// counted in ``clamped``. Recording does not allocate.
public struct LatencyRecorder: Sendable {
    /// The largest value the histogram resolves: one hour.
    public static let highestTrackableNanoseconds: UInt64 = 3_600_000_000_000

    private var histogram: Histogram<UInt64>
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

    public init() {
        histogram = Histogram<UInt64>(
            lowestDiscernibleValue: 1,
            highestTrackableValue: Self.highestTrackableNanoseconds,
            numberOfSignificantValueDigits: .three)
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
        let recorded = histogram.record(histogramValue)
        assert(recorded, "a value clamped to highestTrackableValue always fits the histogram")
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
        histogram.add(other.histogram)
    }

    /// Forgets every sample; the histogram's storage is kept.
    public mutating func reset() {
        histogram.reset()
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
        func percentile(_ p: Double) -> UInt64 {
            Swift.min(Swift.max(histogram.valueAtPercentile(p), minimum), maximum)
        }
        return LatencySummary(
            count: count,
            min: minimum,
            p50: percentile(50),
            p90: percentile(90),
            p99: percentile(99),
            p999: percentile(99.9),
            max: maximum,
            mean: runningMean,
            stddev: (sumOfSquaredDeviations / Double(count)).squareRoot())
    }

    /// The histogram as HdrHistogram's percentile-distribution text (the `.hgrm` that wrk2
    /// prints and HdrHistogram's plotter reads): a `Value Percentile TotalCount
    /// 1/(1-Percentile)` line per reporting point, five points per halving of the
    /// remaining distance to 100%, then the `#[Mean …]`, `#[Max …]` and `#[Buckets …]`
    /// footer. Values are in milliseconds. The footer's mean and stddev are the
    /// histogram's own (bucket midpoints), as HdrHistogram prints them.
    public func percentileDistribution() -> String {
        var text = ""
        histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1_000_000)
        return text
    }
}
