/// One sync round trip on both clocks, kept for `client --samples`.
public struct ClientSample: Sendable, Equatable {
    /// When the reply arrived, ns since the epoch (the kernel's RX timestamp where there is one).
    public var timeNanoseconds: Int64
    /// Request TX → reply RX at the device; nil when a kernel timestamp was missing.
    public var wireRttNanoseconds: UInt64?
    /// Send call → receive returned, CLOCK_MONOTONIC.
    public var appRttNanoseconds: UInt64

    public init(timeNanoseconds: Int64, wireRttNanoseconds: UInt64?, appRttNanoseconds: UInt64) {
        self.timeNanoseconds = timeNanoseconds
        self.wireRttNanoseconds = wireRttNanoseconds
        self.appRttNanoseconds = appRttNanoseconds
    }
}

/// The client's exports for other tools: `--samples` (JSON lines, as `capture --rtt
/// --samples` writes them) and `--hgrm` (HdrHistogram's percentile-distribution text).
public enum ClientExport {
    /// One JSON object per line: `{"method":"tcp-reqresp","time_ns":…,"wire_rtt_ns":…,"app_rtt_ns":…}`;
    /// `wire_rtt_ns` is left out of a round trip that lacked a kernel timestamp.
    public static func samplesJSONLines(method: String, _ samples: [ClientSample]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(samples.count * 96)
        for s in samples {
            var line = "{\"method\":\"\(method)\",\"time_ns\":\(s.timeNanoseconds)"
            if let wire = s.wireRttNanoseconds { line += ",\"wire_rtt_ns\":\(wire)" }
            line += ",\"app_rtt_ns\":\(s.appRttNanoseconds)}\n"
            out.append(contentsOf: line.utf8)
        }
        return out
    }

    /// One section per clock, each opened by `#[method=<m> clock=<c>]` and followed by
    /// ``LatencyRecorder/percentileDistribution()`` (what wrk2 prints and HdrHistogram's
    /// plotter reads, once the header line is cut off).
    public static func hgrm(method: String, _ sections: [(clock: String, recorder: LatencyRecorder)]) -> String {
        var out = ""
        for (clock, recorder) in sections {
            out += "#[method=\(method) clock=\(clock)]\n"
            out += recorder.percentileDistribution()
            if !out.hasSuffix("\n") { out += "\n" }
        }
        return out
    }
}
