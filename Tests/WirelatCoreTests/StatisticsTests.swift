import Foundation
import Histogram
import Testing
import WirelatCore

/// Within HdrHistogram's 3-significant-digit resolution (0.1 %).
private func isClose(_ value: UInt64, to expected: UInt64) -> Bool {
    let difference = value > expected ? value - expected : expected - value
    return Double(difference) <= Double(expected) * 0.001
}

private func isClose(_ value: Double, to expected: Double, relative: Double = 1e-12) -> Bool {
    abs(value - expected) <= abs(expected) * relative
}

private func expectOrdered(_ s: LatencySummary, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(s.min <= s.p50, sourceLocation: sourceLocation)
    #expect(s.p50 <= s.p90, sourceLocation: sourceLocation)
    #expect(s.p90 <= s.p99, sourceLocation: sourceLocation)
    #expect(s.p99 <= s.p999, sourceLocation: sourceLocation)
    #expect(s.p999 <= s.max, sourceLocation: sourceLocation)
}

@Suite("Latency statistics")
struct StatisticsTests {
    @Test("uniform 1...100000 ns: HDR percentiles, exact mean and population stddev")
    func uniform() {
        var recorder = LatencyRecorder()
        for value in UInt64(1) ... 100_000 { recorder.record(value) }
        let s = recorder.summary()
        #expect(s.count == 100_000)
        #expect(s.min == 1)
        #expect(s.max == 100_000)
        #expect(isClose(s.p50, to: 50_000))
        #expect(isClose(s.p90, to: 90_000))
        #expect(isClose(s.p99, to: 99_000))
        #expect(isClose(s.p999, to: 99_900))
        #expect(isClose(s.mean, to: 50_000.5))
        let n = 100_000.0
        #expect(isClose(s.stddev, to: ((n * n - 1) / 12).squareRoot(), relative: 1e-9))
        expectOrdered(s)
    }

    @Test("a first sample of one hour, then a million within 2 µs of 100 µs: mean and stddev as a two-pass computation gives them")
    func outlierFirst() {
        var recorder = LatencyRecorder()
        var values: [UInt64] = [3_600_000_000_000]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<1_000_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            values.append(99_000 + (state >> 33) % 2_001)
        }
        for v in values { recorder.record(v) }
        let n = Double(values.count)
        let mean = Double(values.reduce(0, +)) / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        let s = recorder.summary()
        #expect(isClose(s.mean, to: mean, relative: 1e-9), "mean \(s.mean), two-pass \(mean)")
        #expect(isClose(s.stddev, to: variance.squareRoot(), relative: 1e-9), "stddev \(s.stddev), two-pass \(variance.squareRoot())")

        // The same without the outlier: a stddev of about 578 ns, not lost beside the mean.
        var tight = LatencyRecorder()
        for v in values.dropFirst() { tight.record(v) }
        let rest = values.dropFirst()
        let m = Double(rest.reduce(0, +)) / Double(rest.count)
        let sd = (rest.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(rest.count)).squareRoot()
        #expect(isClose(tight.summary().stddev, to: sd, relative: 1e-9), "stddev \(tight.summary().stddev), two-pass \(sd)")
    }

    @Test("a constant distribution: stddev 0, every percentile the constant")
    func constant() {
        var recorder = LatencyRecorder()
        for _ in 0 ..< 1_000 { recorder.record(42_000) }
        let s = recorder.summary()
        #expect(s == LatencySummary(
            count: 1_000, min: 42_000, p50: 42_000, p90: 42_000, p99: 42_000, p999: 42_000,
            max: 42_000, mean: 42_000, stddev: 0))
    }

    @Test("bimodal: p50 in the lower mode, p90 in the upper")
    func bimodal() {
        var recorder = LatencyRecorder()
        for i in UInt64(0) ..< 800 { recorder.record(100_000 + i % 7) }
        for i in UInt64(0) ..< 200 { recorder.record(5_000_000 + i % 11) }
        let s = recorder.summary()
        #expect(isClose(s.p50, to: 100_003))
        #expect(isClose(s.p90, to: 5_000_005))
        #expect(isClose(s.p99, to: 5_000_005))
        #expect(s.min == 100_000)
        #expect(s.max == 5_000_010)
        expectOrdered(s)
    }

    @Test("merging two halves equals recording everything in one")
    func merge() {
        var all = LatencyRecorder()
        var lower = LatencyRecorder()
        var upper = LatencyRecorder()
        for value in UInt64(1) ... 100_000 {
            let sample = value * 37 % 100_003 + 1_000
            all.record(sample)
            if value <= 30_000 { lower.record(sample) } else { upper.record(sample) }
        }
        all.record(2 * LatencyRecorder.highestTrackableNanoseconds)
        upper.record(2 * LatencyRecorder.highestTrackableNanoseconds)

        var merged = lower
        merged.merge(upper)
        let expected = all.summary()
        let actual = merged.summary()
        #expect(actual.count == expected.count)
        #expect(merged.clamped == 1)
        #expect([actual.min, actual.p50, actual.p90, actual.p99, actual.p999, actual.max]
            == [expected.min, expected.p50, expected.p90, expected.p99, expected.p999, expected.max])
        #expect(isClose(actual.mean, to: expected.mean, relative: 1e-9))
        #expect(isClose(actual.stddev, to: expected.stddev, relative: 1e-9))

        var empty = LatencyRecorder()
        empty.merge(LatencyRecorder())
        #expect(empty.summary() == .empty)
        empty.merge(merged)
        #expect(empty.summary() == actual)
        merged.merge(LatencyRecorder())
        #expect(merged.summary() == actual)
    }

    @Test("reset forgets everything and the recorder stays usable")
    func reset() {
        var recorder = LatencyRecorder()
        recorder.record(7_200_000_000_000)
        recorder.record(10_000_000, expectedInterval: 1_000_000)
        recorder.reset()
        #expect(recorder.isEmpty)
        #expect(recorder.count == 0)
        #expect(recorder.clamped == 0)
        #expect(recorder.corrected == 0)
        #expect(recorder.summary() == .empty)
        recorder.record(5_000)
        #expect(recorder.summary() == LatencySummary(
            count: 1, min: 5_000, p50: 5_000, p90: 5_000, p99: 5_000, p999: 5_000,
            max: 5_000, mean: 5_000, stddev: 0))
    }

    @Test("a 2-hour sample is exact in max and mean and clamped in the histogram")
    func clamping() {
        let twoHours: UInt64 = 7_200_000_000_000
        var recorder = LatencyRecorder()
        recorder.record(1_000_000)
        recorder.record(twoHours)
        let s = recorder.summary()
        #expect(recorder.clamped == 1)
        #expect(s.count == 2)
        #expect(s.max == twoHours)
        #expect(s.min == 1_000_000)
        #expect(s.mean == Double(twoHours + 1_000_000) / 2)
        #expect(s.stddev == Double(twoHours - 1_000_000) / 2)
        expectOrdered(s)
    }

    @Test("coordinated-omission correction adds the samples a stall held back")
    func coordinatedOmission() {
        var recorder = LatencyRecorder()
        recorder.record(10_000_000, expectedInterval: 1_000_000)
        let s = recorder.summary()
        #expect(recorder.count == 10)
        #expect(recorder.corrected == 9)
        #expect(s.min == 1_000_000)
        #expect(s.max == 10_000_000)
        #expect(s.mean == 5_500_000)
        #expect(isClose(s.p50, to: 5_000_000))
        #expect(isClose(s.p90, to: 9_000_000))
        let population = (1 ... 10).map { Double($0) * 1_000_000 }
        let variance = population.map { ($0 - 5_500_000) * ($0 - 5_500_000) }.reduce(0, +) / 10
        #expect(isClose(s.stddev, to: variance.squareRoot(), relative: 1e-12))

        var uncorrected = LatencyRecorder()
        uncorrected.record(1_000_000, expectedInterval: 1_000_000)
        uncorrected.record(500, expectedInterval: 1_000_000)
        uncorrected.record(10_000_000, expectedInterval: 0)
        #expect(uncorrected.count == 3)
        #expect(uncorrected.corrected == 0)
    }

    @Test("percentiles never fall outside [min, max]")
    func percentilesWithinRange() {
        var state: UInt64 = 12_345
        var recorders: [LatencyRecorder] = []
        for spread in [UInt64(1), 10, 1_000, 1_000_000, 10_000_000_000] {
            var recorder = LatencyRecorder()
            for _ in 0 ..< 5_000 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                recorder.record(123_457 + (state >> 20) % spread)
            }
            recorders.append(recorder)
        }
        var single = LatencyRecorder()
        single.record(123_457)
        recorders.append(single)
        var huge = LatencyRecorder()
        huge.record(UInt64.max)
        recorders.append(huge)
        for recorder in recorders {
            expectOrdered(recorder.summary())
        }
        #expect(single.summary().p50 == 123_457)
        #expect(huge.summary().p999 == UInt64.max)
    }

    @Test("an empty recorder summarizes to zeros")
    func empty() {
        let recorder = LatencyRecorder()
        #expect(recorder.isEmpty)
        #expect(recorder.summary() == .empty)
        #expect(LatencySummary.empty == LatencySummary(
            count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, stddev: 0))
    }

    @Test("rtt_ns JSON has exactly min p50 p90 p99 p999 max mean stddev")
    func json() throws {
        let summary = LatencySummary(
            count: 12, min: 1, p50: 2, p90: 3, p99: 4, p999: 5, max: 6, mean: 3.5, stddev: 1.25)
        let data = try JSONEncoder().encode(summary)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"])
        #expect(object["p999"] as? Int == 5)
        #expect(object["mean"] as? Double == 3.5)

        var expected = summary
        expected.count = 0
        #expect(try JSONDecoder().decode(LatencySummary.self, from: data) == expected)
        let withCount = Data(#"{"count":9,"min":1,"p50":2,"p90":3,"p99":4,"p999":5,"max":6,"mean":3.5,"stddev":1.25}"#.utf8)
        #expect(try JSONDecoder().decode(LatencySummary.self, from: withCount) == expected)
    }
}

@Suite("LatencyRecorder.percentileDistribution: HdrHistogram's .hgrm text")
struct PercentileDistributionTests {
    @Test("parsed back, the .hgrm's value at each reported percentile is the summary's within the histogram's precision, and the footer counts every sample")
    func parsedBack() throws {
        var recorder = LatencyRecorder()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            recorder.record(20_000 + (state >> 33) % 180_000)  // 20–200 µs
        }
        recorder.record(5_000_000)
        let text = recorder.percentileDistribution()
        let lines = text.split(separator: "\n")
        #expect(lines.first?.split(separator: " ") == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"])
        var points: [(milliseconds: Double, percentile: Double, count: Int)] = []
        for line in lines.dropFirst() where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let v = Double(fields[0]), let p = Double(fields[1]), let c = Int(fields[2]) else { continue }
            points.append((v, p, c))
        }
        try #require(points.count > 20, "\(text)")
        #expect(points.last?.count == 20_001 && points.last?.percentile == 1.0)
        #expect(text.contains("Total count    =        20001"), "\(text)")
        let summary = recorder.summary()
        for (percentile, expected) in [(0.5, summary.p50), (0.9, summary.p90), (0.99, summary.p99)] {
            let point = try #require(points.first { $0.percentile >= percentile })
            let nanoseconds = point.milliseconds * 1e6
            // Three significant digits: values within 0.1% of each other share a bucket.
            #expect(abs(nanoseconds - Double(expected)) <= Double(expected) * 0.002 + 1_000,
                    "p\(percentile): .hgrm \(nanoseconds) ns, summary \(expected) ns")
        }
    }

    @Test("the histogram is the one hdrhistogram-swift's record builds: the same .hgrm and percentiles, with zeros, bucket edges and clamped samples, merged and reset")
    func sameHistogramAsRecordingEachSample() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        // Edges of the first buckets, values spread over every bucket, and past one hour.
        var samples: [UInt64] = [0, 0, 1, 2047, 2048, 2049, 4095, 4096, 4097, 1_000_000_007]
        for _ in 0 ..< 20_000 { samples.append(next() >> (next() % 64)) }
        samples.append(LatencyRecorder.highestTrackableNanoseconds)
        samples.append(3 * LatencyRecorder.highestTrackableNanoseconds)

        func reference(_ values: ArraySlice<UInt64>) -> Histogram<UInt64> {
            var h = Histogram<UInt64>(lowestDiscernibleValue: 1,
                                      highestTrackableValue: LatencyRecorder.highestTrackableNanoseconds,
                                      numberOfSignificantValueDigits: .three)
            for v in values { h.record(min(v, LatencyRecorder.highestTrackableNanoseconds)) }
            return h
        }
        func text(_ h: Histogram<UInt64>) -> String {
            var text = ""
            h.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1_000_000)
            return text
        }
        func expectSame(_ recorder: LatencyRecorder, _ values: ArraySlice<UInt64>,
                        sourceLocation: SourceLocation = #_sourceLocation) {
            let h = reference(values)
            #expect(recorder.percentileDistribution() == text(h), sourceLocation: sourceLocation)
            let s = recorder.summary()
            let exactMin = values.min()!, exactMax = values.max()!
            let expected = [50.0, 90, 99, 99.9].map { min(max(h.valueAtPercentile($0), exactMin), exactMax) }
            #expect([s.p50, s.p90, s.p99, s.p999] == expected, sourceLocation: sourceLocation)
        }

        var all = LatencyRecorder()
        for v in samples { all.record(v) }
        expectSame(all, samples[...])

        // Above zero only, so the histogram's minimum is the smallest sample.
        var positive = LatencyRecorder()
        for v in samples.dropFirst(2) { positive.record(v) }
        expectSame(positive, samples.dropFirst(2))

        var lower = LatencyRecorder()
        var upper = LatencyRecorder()
        for v in samples.prefix(7_000) { lower.record(v) }
        for v in samples.dropFirst(7_000) { upper.record(v) }
        lower.merge(upper)
        expectSame(lower, samples[...])

        all.reset()
        for v in samples.suffix(500) { all.record(v) }
        expectSame(all, samples.suffix(500))
    }
}
