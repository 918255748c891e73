/// The text `wirelat probe` prints: one line per probe in the style of the tool it
/// mirrors (hping3 for `syn`, ping for `icmp`), then a statistics block.
public enum ProbeText {
    /// Milliseconds with three decimals: microsecond resolution.
    static func ms(_ nanoseconds: UInt64) -> String { formatMilliseconds(Double(nanoseconds)) }
    static func ms(_ nanoseconds: Double) -> String { formatMilliseconds(nanoseconds) }

    /// The RTT as iputils ping prints `time=` (ping_common.c): three decimals under
    /// 1 ms, two under 10 ms, one under 100 ms, none above; microseconds truncated
    /// below 1 ms and rounded above.
    public static func pingTime(_ nanoseconds: UInt64) -> String {
        let us = nanoseconds / 1000
        if us >= 100_000 - 50 { return "\((us + 500) / 1000)" }
        if us >= 10_000 - 5 { return "\((us + 50) / 1000).\(((us + 50) % 1000) / 100)" }
        if us >= 1000 { return "\((us + 5) / 1000).\(pad2(((us + 5) % 1000) / 10))" }
        return "\(us / 1000).\(pad3(us % 1000))"
    }

    /// Milliseconds as ping's summary line prints them: whole microseconds, truncated, `%ld.%03ld`.
    public static func pingMs(_ nanoseconds: Double) -> String {
        let us = UInt64(max(0, nanoseconds) / 1000)
        return "\(us / 1000).\(pad3(us % 1000))"
    }

    /// The clock of ping's `time=`: ping's own, else the probe's `clock`.
    static func timeClock(_ r: ProbeReply) -> (ProbeClock, UInt64)? {
        if let p = r.pingRTTNanoseconds { return (.ping, p) }
        if let c = r.clock, let t = r.rttNanoseconds { return (c, t) }
        return nil
    }

    static func pad2(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }
    static func pad3(_ v: UInt64) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }

    /// One probe's line.
    ///
    /// - `syn`, as hping3 -S: `len=44 ip=10.77.0.2 ttl=64 DF id=0 sport=1521 flags=SA seq=0 win=64240 rtt=0.087 ms`
    ///   (IPv6 has no DF or id); a timeout: `timeout ip=10.77.0.2 dport=1521 seq=3 (no reply within 1s)`.
    /// - `connect`: `connected ip=10.77.0.2 dport=1521 sport=40312 seq=0 rtt=0.081 ms clock=wire app=0.120 ms`,
    ///   `refused ip=… flags=RA …`, or a timeout line.
    /// - `icmp`, as ping, then the clocks: `64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.045 ms
    ///   clock=ping wire=0.010 ms app=0.052 ms`. `time=` is ping's own clock (user send → kernel
    ///   RX), so the line agrees with iputils ping's; where that clock is missing, `clock=`
    ///   names the one used. A probe that timed out: `no answer yet for icmp_seq=3` (ping -O).
    public static func line(_ r: ProbeReply, method: ProbeMethod, host: String, port: UInt16?, timeoutNanoseconds: UInt64) -> String {
        var rtt = r.rttNanoseconds.map { "rtt=\(ms($0)) ms" } ?? ""
        if let clock = r.clock {
            rtt += " clock=\(clock.rawValue)"
            for other in ProbeReport.clocks(for: method) where other != clock {
                if let v = r.rtt(other) { rtt += " \(other.rawValue)=\(ms(v)) ms" }
            }
        }
        let within = "no reply within \(formatDuration(.nanoseconds(Int64(clamping: timeoutNanoseconds))))"
        switch method {
        case .icmpEcho:
            switch r.outcome {
            case .reply:
                var s = "\(r.length ?? 0) bytes from \(host): icmp_seq=\(r.seq)"
                if let ttl = r.ttl { s += " ttl=\(ttl)" }
                if let (clock, t) = timeClock(r) {
                    s += " time=\(pingTime(t)) ms clock=\(clock.rawValue)"
                    for other in ProbeClock.allCases where other != clock {
                        if let v = r.rtt(other) { s += " \(other.rawValue)=\(pingTime(v)) ms" }
                    }
                }
                return s
            case .unreachable:
                return "From \(host) icmp_seq=\(r.seq) Destination Host Unreachable\(r.detail.map { " (\($0))" } ?? "")"
            default:
                return "no answer yet for icmp_seq=\(r.seq)"
            }
        case .tcpSYN:
            switch r.outcome {
            case .synAck, .reset:
                var parts = ["len=\(r.length ?? 0)", "ip=\(host)"]
                if let ttl = r.ttl { parts.append("ttl=\(ttl)") }
                if r.dontFragment == true { parts.append("DF") }
                if let id = r.ipID { parts.append("id=\(id)") }
                parts.append("sport=\(r.sourcePort ?? Int(port ?? 0))")
                parts.append("flags=\(r.flags ?? r.outcome.rawValue)")
                parts.append("seq=\(r.seq)")
                parts.append("win=\(r.window ?? 0)")
                parts.append(rtt)
                return parts.joined(separator: " ")
            case .unreachable:
                return "unreachable ip=\(host) dport=\(port ?? 0) seq=\(r.seq)\(r.detail.map { " (\($0))" } ?? "")"
            default:
                return "timeout ip=\(host) dport=\(port ?? 0) seq=\(r.seq) (\(within))"
            }
        case .tcpConnect, .tcpRequestResponse, .redis, .http, .pg, .mysql, .tns, .tcpSendExpect:
            let local = r.localPort.map { " sport=\($0)" } ?? ""
            switch r.outcome {
            case .connected, .reply:
                return "\(r.outcome == .reply ? "reply" : "connected") ip=\(host) dport=\(port ?? 0)\(local) seq=\(r.seq) \(rtt)"
            case .refused:
                return "refused ip=\(host) dport=\(port ?? 0)\(local) flags=RA seq=\(r.seq) \(rtt)"
            case .unreachable:
                return "unreachable ip=\(host) dport=\(port ?? 0) seq=\(r.seq)\(r.detail.map { " (\($0))" } ?? "")"
            default:
                return "timeout ip=\(host) dport=\(port ?? 0) seq=\(r.seq) (\(within))"
            }
        }
    }

    /// The opening line, as ping and hping3 print one.
    public static func header(method: ProbeMethod, host: String, port: UInt16?, payloadBytes: Int?, socket: String) -> String {
        switch method {
        case .icmpEcho:
            let data = payloadBytes ?? 56
            let ipHeader = host.contains(":") ? 40 : 20
            return "PING \(host) (\(host)) \(data)(\(data + 8 + ipHeader)) bytes of data (\(socket) socket)."
        case .tcpSYN:
            let ipHeader = host.contains(":") ? 40 : 20
            return "HPING \(host) port \(port ?? 0): S set, \(ipHeader + 20) headers + 0 data bytes (raw socket)"
        case .tcpConnect:
            return "CONNECT \(host) port \(port ?? 0): non-blocking connect(), timed until writable, then a normal close"
        case .tcpRequestResponse:
            return "REQRESP \(host) port \(port ?? 0): wirelat sync requests"
        case .redis, .http, .pg, .mysql, .tns, .tcpSendExpect:
            return "\(method.rawValue.uppercased()) \(host) port \(port ?? 0): \(method.label)"
        }
    }

    /// The statistics block after the last probe.
    ///
    /// For `icmp` the first two lines are ping's own (`--- host ping statistics ---`,
    /// `rtt min/avg/max/mdev = … ms`); for `syn` hping3's (`--- host hping statistic ---`).
    /// Each adds the percentiles, the clock, and the first probe when it is apart.
    public static func summary(_ report: ProbeReport, host: String) -> String {
        let s = report.rttNanoseconds
        let lossPercent = report.sent > 0 ? Double(report.lost) * 100 / Double(report.sent) : 0
        var out = ""
        switch report.method {
        case .icmpEcho:
            // ping's own line, on ping's own clock, so it can be held against iputils ping's.
            let p = report.pingRTT ?? s
            out += "\n--- \(host) ping statistics ---\n"
            out += "\(report.sent) packets transmitted, \(report.sent - report.lost) received, \(formatG(lossPercent))% packet loss, time \(report.durationNanoseconds / 1_000_000)ms\n"
            if report.samples > 0 {
                out += "rtt min/avg/max/mdev = \(pingMs(Double(p.min)))/\(pingMs(p.mean))/\(pingMs(Double(p.max)))/\(pingMs(p.stddev)) ms\n"
            }
        case .tcpSYN:
            out += "\n--- \(host) hping statistic ---\n"
            out += "\(report.sent) packets transmitted, \(report.sent - report.lost) packets received, \(formatG(lossPercent))% packet loss"
            out += " (\(report.outcomes["SA", default: 0]) SA, \(report.outcomes["RA", default: 0]) RA, \(report.outcomes["timeout", default: 0]) timeout)\n"
            if report.samples > 0 {
                out += "round-trip min/avg/max = \(ms(s.min))/\(ms(s.mean))/\(ms(s.max)) ms\n"
            }
        case .tcpConnect, .tcpRequestResponse, .redis, .http, .pg, .mysql, .tns, .tcpSendExpect:
            out += "\n--- \(host) connect statistics ---\n"
            out += "\(report.sent) connects, \(report.outcomes["connected", default: 0]) connected, \(report.outcomes["refused", default: 0]) refused, \(report.outcomes["timeout", default: 0]) timeout, \(formatG(lossPercent))% unanswered\n"
            if report.samples > 0 {
                out += "round-trip min/avg/max = \(ms(s.min))/\(ms(s.mean))/\(ms(s.max)) ms\n"
            }
        }
        if report.samples > 0 {
            let above = report.method == .icmpEcho && report.pingRTT != nil ? "ping" : report.clock?.rawValue ?? "-"
            out += "\(report.label), \(report.samples) sample\(report.samples == 1 ? "" : "s"); the lines above are the \(above) clock, rtt_ns the \(report.clock?.rawValue ?? "-") clock\n"
            out += clockTable(report)
        }
        // ping truncates to whole microseconds; hping and the others round. One block, one rule.
        let f: (Double) -> String = report.method == .icmpEcho ? { pingMs($0) } : { ms($0) }
        if let first = report.firstProbe, first.apart, let steady = report.steadyRTTNanoseconds {
            out += "first probe \(f(Double(first.firstNanoseconds))) ms from the send call to the reply, against \(f(Double(first.restMedianNanoseconds))) ms for the later probes' median (it paid for neighbour resolution or a cold start); steady state p50 \(f(Double(steady.p50))) ms\n"
        }
        if report.interrupted { out += "(interrupted: the statistics cover the probes sent so far)\n" }
        return out
    }

    /// Microseconds with one decimal: `24.0 µs`.
    public static func microseconds(_ nanoseconds: Double) -> String { formatFixed(nanoseconds / 1000, 1) + " µs" }

    /// The two (for ICMP three) clocks as rows of one table in µs, each clock's meaning,
    /// a line for each clock that is missing and why, and the host-overhead line.
    public static func clockTable(_ report: ProbeReport) -> String {
        let columns = ["min", "p50", "p90", "p99", "p99.9", "max", "mean", "stddev"]
        let width = 9
        func pad(_ text: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - text.count)) + text }
        func padRight(_ text: String, _ n: Int) -> String { text + String(repeating: " ", count: max(0, n - text.count)) }
        var out = padRight("clock (µs)", 11) + columns.map { pad($0, width) }.joined() + "\n"
        let rows: [(ProbeClock, LatencySummary?, String?)] = ProbeReport.clocks(for: report.method).map { c in
            switch c {
            case .wire: return (c, report.wireRTT, report.wireClockMissing)
            case .app: return (c, report.appRTT, report.appClockMissing)
            case .ping: return (c, report.pingRTT, report.pingClockMissing)
            }
        }
        for (clock, summary, _) in rows {
            guard let q = summary else { continue }
            let values = [Double(q.min), Double(q.p50), Double(q.p90), Double(q.p99), Double(q.p999), Double(q.max), q.mean, q.stddev]
            out += padRight(clock.rawValue, 11) + values.map { pad(formatFixed($0 / 1000, 1), width) }.joined() + "\n"
        }
        for (clock, summary, _) in rows where summary != nil { out += "  \(clock.label(for: report.method))\n" }
        for (clock, _, missing) in rows {
            if let missing { out += "\(clock.rawValue) clock missing: \(missing)\n" }
        }
        if let overhead = report.hostOverheadP50Nanoseconds {
            out += "host overhead (app − wire) p50 \(microseconds(Double(overhead))): system calls and wake-ups on this host\n"
        }
        return out
    }

    /// `%g`, as ping prints its loss percentage.
    static func formatG(_ value: Double) -> String { CFormat.general(value) }
}
