/// The client's text report, laid out as oratcptest prints its own
/// ("[Requesting a test]", one line per interval, "Test finished.", averages),
/// followed by the distribution oratcptest does not print.
public enum ClientTextReport {
    public static func settings(_ s: ClientSettings) -> String {
        func row(_ name: String, _ value: String) -> String { "        \(rightPad(name, 22)) = \(value)\n" }
        var out = "[Requesting a test]\n"
        out += row("Message payload", formatBytesHuman(Double(s.length)))
        out += row("Payload content type", "RANDOM")
        out += row("Delay between messages", s.delayNanoseconds == 0 ? "No" : formatDuration(.nanoseconds(Int64(s.delayNanoseconds))))
        out += row("Number of connections", "\(s.connections)")
        out += row("Socket send buffer", s.socketBuffer.map { "\($0) bytes (requested)" } ?? "(system default)")
        out += row("Transport mode", s.mode == .sync ? "SYNC" : "ASYNC")
        out += row("Disk write", s.wantsDiskWrite ? "YES" : "NO")
        out += row("Statistics interval", formatDuration(.nanoseconds(Int64(s.intervalNanoseconds))))
        out += row("Test duration", formatDuration(.nanoseconds(Int64(clamping: s.durationNanoseconds))))
        out += row("Test frequency", s.rate.map { "\(formatFixed($0, 0)) requests/s" } ?? "NO")
        out += row("Network Timeout", s.timeoutNanoseconds == 0 ? "NO" : formatDuration(.nanoseconds(Int64(s.timeoutNanoseconds))))
        out += row("Timestamps", s.takesWireClock ? "wire (SO_TIMESTAMPING) and app (CLOCK_MONOTONIC)" : "app (CLOCK_MONOTONIC)")
        out += "        (1 Mbyte = 1024x1024 bytes)\n"
        return out
    }

    public static func ready(time: String, thinkTimeNanoseconds: UInt64, diskWrite: Bool) -> String {
        var line = "\(time) The server is ready."
        if thinkTimeNanoseconds > 0 || diskWrite {
            line += " (server think time \(formatDuration(.nanoseconds(Int64(thinkTimeNanoseconds)))), disk write \(diskWrite ? "YES" : "NO"))"
        }
        return line + "\n"
    }

    public static let intervalHeader =
        "                    Throughput        Latency   Round trips/s        p50        p99\n"

    /// The interval header, and which clock its latency columns are on.
    public static func intervalHeader(_ s: ClientSettings, wire: Bool) -> String {
        let clock = s.rate != nil ? "app clock, from each request's intended send time" : wire ? "wire clock" : "app clock"
        return intervalHeader.dropLast() + "   (latency: \(clock))\n"
    }

    public static func interval(time: String, _ i: IntervalReport) -> String {
        let mb = formatFixed(i.throughputBytesPerSecond / 1_048_576, 3) + " Mbytes/s"
        return "\(time) \(leftPad(mb, 18)) \(leftPad(ms(i.rttNanoseconds.mean), 14)) \(leftPad(formatFixed(i.roundtripsPerSecond, 0), 15))"
            + " \(leftPad(ms(Double(i.rttNanoseconds.p50)), 10)) \(leftPad(ms(Double(i.rttNanoseconds.p99)), 10))\n"
    }

    public static func finished(time: String, _ r: ClientReport) -> String {
        var out = "\(time) Test finished.\n"
        if let send = r.socketSendBuffer { out += "               Socket send buffer = \(send) bytes\n" }
        if let receive = r.socketReceiveBuffer { out += "            Socket receive buffer = \(receive) bytes\n" }
        out += "                  Avg. throughput = \(formatFixed(r.throughputBytesPerSecond / 1_048_576, 3)) Mbytes/s\n"
        out += "                     Avg. latency = \(ms(r.rttNanoseconds.mean))\n"
        return out
    }

    /// The distribution block: what each latency is, then the statistics.
    public static func statistics(_ r: ClientReport) -> String {
        let what = r.mode == .sync
            ? "TCP request/response RTT (\(r.requestBytes)-byte request, \(r.replyBytes)-byte reply)"
            : "TCP async request→acknowledgement RTT (\(r.requestBytes)-byte requests streamed, \(r.replyBytes)-byte acknowledgements)"
        var out = "\n\(what), \(r.connections) connection\(r.connections == 1 ? "" : "s") to \(r.target)\n"
        if let rate = r.rateTarget {
            out += "  fixed rate \(formatFixed(rate, 0)) requests/s: latency from each request's intended send time (coordinated-omission corrected)\n"
        }
        if r.wireRttNanoseconds != nil {
            out += "  each round trip on two clocks: wire = \(RoundTripClock.wire.label); app = \(RoundTripClock.app.label)\n"
        } else {
            out += "  each round trip on the app clock: \(RoundTripClock.app.label)\n"
        }
        var rows: [(String, UInt64, Double, LatencySummary)] = []
        if r.rateTarget != nil { rows.append(("intended", r.rttNanoseconds.count, r.roundtripsPerSecond, r.rttNanoseconds)) }
        if let wire = r.wireRttNanoseconds { rows.append(("wire", wire.count, r.roundtripsPerSecond, wire)) }
        if let app = r.appRttNanoseconds { rows.append(("app", app.count, r.roundtripsPerSecond, app)) }
        if rows.isEmpty { rows.append((r.clock.rawValue, r.samples, r.roundtripsPerSecond, r.rttNanoseconds)) }
        out += table(rows)
        if let line = hostOverhead(r) { out += "  \(line)\n" }
        if let every = r.wireEvery, every > 1 { out += "  wire clock on every \(every)th round trip (--wire-every \(every)), app on every one\n" }
        if let missing = r.wireClockMissing { out += "  wire clock missing: \(missing)\n" }
        if let fallbacks = r.kernelTimestampFallbacks, fallbacks > 0 {
            out += "  \(fallbacks) round trips lacked a kernel TX or RX timestamp: counted on the app clock, left out of the wire row\n"
        }
        if let s = r.server {
            // A test cut short may end before the server's summary (its counts) arrives.
            let summaries = s.summaries ?? r.connections
            if summaries == 0 {
                out += "  no summary from the server\n"
            } else if s.diskWrite {
                out += "  server fsync: \(s.fsyncs) writes, avg \(ms(Double(s.fsyncMeanNanoseconds))), p99 \(ms(Double(s.fsyncP99Nanoseconds))), max \(ms(Double(s.fsyncMaxNanoseconds)))\n"
            }
            if s.thinkTimeNanoseconds > 0 {
                out += "  server think time \(formatDuration(.nanoseconds(Int64(s.thinkTimeNanoseconds)))) is included in every round trip\n"
            }
            if summaries > 0 && summaries < r.connections {
                out += "  summary from the server for \(summaries) of \(r.connections) connections: \(s.messages) requests\n"
            } else if summaries > 0 && s.messages != r.samples && r.mode == .sync {
                out += "  the server counted \(s.messages) requests\n"
            }
        }
        if !r.completed, let e = r.error {
            out += "  INCOMPLETE: \(e)\n"
        }
        return out
    }

    /// `host overhead (app − wire) p50 24.0 µs: …`, the p50 difference of the two clocks;
    /// nil unless both were measured.
    public static func hostOverhead(_ r: ClientReport) -> String? {
        guard let wire = r.wireRttNanoseconds, let app = r.appRttNanoseconds, wire.count > 0, app.count > 0 else { return nil }
        let difference = (Double(app.p50) - Double(wire.p50)) / 1000
        return "host overhead (app − wire) p50 \(formatFixed(difference, 1)) µs: system calls and wake-ups on this host"
    }

    /// The --sweep table: one row per payload size.
    public static func sweep(_ reports: [ClientReport]) -> String {
        let clocks = Set(reports.map(\.clock.rawValue)).sorted().joined(separator: "/")
        var out = "\nPayload sweep, TCP request/response RTT (ms, \(clocks) clock)\n"
        out += "\(leftPad("length", 8)) \(leftPad("samples", 9)) \(leftPad("rt/s", 9)) \(leftPad("min", 8)) \(leftPad("p50", 8)) \(leftPad("p90", 8)) \(leftPad("p99", 8)) \(leftPad("max", 8)) \(leftPad("mean", 8)) \(leftPad("stddev", 8))\n"
        for r in reports {
            let s = r.rttNanoseconds
            out += "\(leftPad("\(r.length)", 8)) \(leftPad("\(r.samples)", 9)) \(leftPad(formatFixed(r.roundtripsPerSecond, 0), 9))"
            for v in [Double(s.min), Double(s.p50), Double(s.p90), Double(s.p99), Double(s.max), s.mean, s.stddev] {
                out += " \(leftPad(formatMilliseconds(v), 8))"
            }
            out += "\n"
        }
        return out
    }

    private static func table(_ rows: [(String, UInt64, Double, LatencySummary)], header: Bool = true) -> String {
        var out = ""
        if header {
            out += "  \(rightPad("", 12)) \(leftPad("samples", 9)) \(leftPad("rt/s", 9))"
            for h in ["min", "p50", "p90", "p99", "p99.9", "max", "mean", "stddev"] { out += " \(leftPad(h, 8))" }
            out += "  (ms)\n"
        }
        for (name, count, rate, s) in rows {
            out += "  \(rightPad(name, 12)) \(leftPad("\(count)", 9)) \(leftPad(formatFixed(rate, 0), 9))"
            for v in [Double(s.min), Double(s.p50), Double(s.p90), Double(s.p99), Double(s.p999), Double(s.max), s.mean, s.stddev] {
                out += " \(leftPad(formatMilliseconds(v), 8))"
            }
            out += "\n"
        }
        return out
    }

    private static func ms(_ nanoseconds: Double) -> String { formatMilliseconds(nanoseconds) + " ms" }
}
