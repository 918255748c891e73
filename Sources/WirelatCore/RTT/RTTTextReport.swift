/// The text `wirelat capture --rtt` prints: one row per method with the round trip it
/// times, the counters, the busiest flows, and what the capture point can see.
public enum RTTTextReport {
    public static func render(_ report: CaptureRTTReport) -> String {
        summary(report) + "\n" + countersText(report.counters, report) + "\n" + busiestFlows(report.topFlows)
            + "\n" + capturePointNote(report)
    }

    /// The per-method table, times in milliseconds.
    public static func summary(_ report: CaptureRTTReport) -> String {
        var out = "Round trips seen on the wire at \(report.target) (ms, each from the capture point to the far end and back)\n"
        out += rightPad("method", 11) + rightPad("round trip", 24) + leftPad("samples", 9)
        for name in ["min", "p50", "p90", "p99", "p99.9", "max", "mean", "stddev"] { out += leftPad(name, 10) }
        out += "\n"
        for row in report.methods {
            out += line(rightPad(row.method.rawValue, 11) + rightPad(row.label, 24), row.samples, row.rttNanoseconds)
            if row.method == .tsecr {
                if let half = row.towardResponder, half.samples > 0 {
                    out += line(rightPad("", 11) + rightPad("  toward responder", 24), half.samples, half.rttNanoseconds)
                }
                if let half = row.towardInitiator, half.samples > 0 {
                    out += line(rightPad("", 11) + rightPad("  toward initiator", 24), half.samples, half.rttNanoseconds)
                }
            }
        }
        return out
    }

    static func line(_ head: String, _ samples: UInt64, _ s: LatencySummary) -> String {
        var out = head + leftPad("\(samples)", 9)
        let values: [Double] = [Double(s.min), Double(s.p50), Double(s.p90), Double(s.p99), Double(s.p999),
                                Double(s.max), s.mean, s.stddev]
        for value in values { out += leftPad(samples == 0 ? "-" : formatMilliseconds(value), 10) }
        return out + "\n"
    }

    static func countersText(_ c: RTTCounters, _ report: CaptureRTTReport) -> String {
        var out = "\(c.packets) packets, \(c.tcpSegments) TCP segments, \(c.icmpEchoes) ICMP echo messages; "
        out += "\(c.flows) flows (\(c.activeFlows) in the table, \(c.evicted) evicted, \(c.expired) expired)\n"
        out += "unanswered: \(c.unanswered) SYNs"
        if let r = report.method(.reqresp) { out += ", \(r.unanswered) requests" }
        if let r = report.method(.icmp) { out += ", \(r.unanswered) echo requests" }
        out += "; unmatched answers: \(c.unmatched)\n"
        out += "retransmitted segments: \(c.retransmissions), out of order: \(c.outOfOrder), keep-alives: \(c.keepAlives)"
        if let r = report.method(.ack), report.ackRule == .karn {
            out += "; ACKs not sampled (Karn): \(r.retransmissions)"
        }
        if let r = report.method(.handshake), r.retransmissions > 0 {
            out += "; SYNs resent: \(r.retransmissions)"
        }
        out += "\n"
        if c.withoutTimestamps > 0 {
            out += "\(c.withoutTimestamps) TCP segments carried no timestamps option (tsecr needs RFC 7323 timestamps)\n"
        }
        if c.untrackedSegments > 0 || c.untrackedTimestamps > 0 {
            out += "limits reached: \(c.untrackedSegments) segments and \(c.untrackedTimestamps) TSvals not tracked\n"
        }
        return out
    }

    /// The busiest flows, initiator → responder.
    public static func busiestFlows(_ flows: [RTTFlowReport]) -> String {
        guard !flows.isEmpty else { return "" }
        var out = "Busiest flows\n"
        let width = max(40, flows.map { $0.flow.count }.max() ?? 0) + 2
        out += rightPad("flow (initiator>responder)", width) + rightPad("proto", 7) + leftPad("packets", 9)
            + leftPad("bytes", 13) + leftPad("samples", 9) + leftPad("min RTT ms", 12) + leftPad("max RTT ms", 12) + "\n"
        for f in flows {
            out += rightPad(f.flow, width) + rightPad(f.protocolName, 7) + leftPad("\(f.packets)", 9)
                + leftPad("\(f.bytes)", 13) + leftPad("\(f.samples)", 9)
                + leftPad(f.minimumRTTNanoseconds.map { formatMilliseconds(Double($0)) } ?? "-", 12)
                + leftPad(f.maximumRTTNanoseconds.map { formatMilliseconds(Double($0)) } ?? "-", 12) + "\n"
        }
        return out
    }

    /// What each method means from where the packets were captured.
    public static func capturePointNote(_ report: CaptureRTTReport) -> String {
        var out = "Every RTT is timed at the capture point. On the client's host, reqresp is the full round trip"
            + " the application waits for (network both ways plus the server's time) and handshake, ack and tsecr"
            + " are the network round trip to the server; on the server's host, reqresp is the server's own time."
            + " At a midpoint each sample covers only the path beyond the capture point: tsecr toward the responder"
            + " plus tsecr toward the initiator adds both halves into the end-to-end round trip.\n"
        if let tsecr = report.method(.tsecr), let a = tsecr.towardResponder, let b = tsecr.towardInitiator,
           a.samples > 0, b.samples > 0 {
            let sum = Double(a.rttNanoseconds.p50) + Double(b.rttNanoseconds.p50)
            out += "tsecr halves (p50): \(formatMilliseconds(Double(a.rttNanoseconds.p50))) ms toward the responder + "
                + "\(formatMilliseconds(Double(b.rttNanoseconds.p50))) ms toward the initiator = "
                + "\(formatMilliseconds(sum)) ms end to end\n"
        }
        return out
    }
}
