/// The file `--hgrm FILE` writes: one section per method and clock, each a
/// `#[method=<m> clock=<c>]` line followed by HdrHistogram's percentile-distribution
/// text for that distribution (``LatencyRecorder/percentileDistribution()``, values in
/// milliseconds). HdrHistogram's plotter and wrk2's readers take one section at a time;
/// their `#[…]` lines are comments to them.
public enum PercentileDistributionFile {
    /// One section: the header line, then the distribution's text.
    public static func section(method: String, clock: String, _ recorder: LatencyRecorder) -> String {
        "#[method=\(method) clock=\(clock)]\n" + recorder.percentileDistribution()
    }

    /// A recorder holding `samples`, for distributions kept as sample lists.
    public static func recorder(_ samples: [UInt64]) -> LatencyRecorder {
        var recorder = LatencyRecorder()
        for s in samples { recorder.record(s) }
        return recorder
    }
}
