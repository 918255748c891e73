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

    static func pad2(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }
    static func pad3(_ v: UInt64) -> String { v < 10 ? "00\(v)" : v < 100 ? "0\(v)" : "\(v)" }

    /// One probe's line.
    ///
    /// - `syn`, as hping3 -S: `len=44 ip=10.77.0.2 ttl=64 DF id=0 sport=1521 flags=SA seq=0 win=64240 rtt=0.087 ms`
    ///   (IPv6 has no DF or id); a timeout: `timeout ip=10.77.0.2 dport=1521 seq=3 (no reply within 1s)`.
    /// - `connect`: `connected ip=10.77.0.2 dport=1521 sport=40312 seq=0 rtt=0.120 ms kernel_rtt=0.081 ms`,
    ///   `refused ip=… flags=RA …`, or a timeout line.
    /// - `icmp`, as ping: `64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.045 ms`; a probe
    ///   that timed out: `no answer yet for icmp_seq=3` (ping -O).
    public static func line(_ r: ProbeReply, method: ProbeMethod, host: String, port: UInt16?, timeoutNanoseconds: UInt64) -> String {
        let rtt = r.rttNanoseconds.map { "rtt=\(ms($0)) ms" } ?? ""
        let within = "no reply within \(formatDuration(.nanoseconds(Int64(clamping: timeoutNanoseconds))))"
        switch method {
        case .icmpEcho:
            switch r.outcome {
            case .reply:
                var s = "\(r.length ?? 0) bytes from \(host): icmp_seq=\(r.seq)"
                if let ttl = r.ttl { s += " ttl=\(ttl)" }
                if let t = r.rttNanoseconds { s += " time=\(pingTime(t)) ms" }
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
        case .tcpConnect, .tcpRequestResponse:
            let local = r.localPort.map { " sport=\($0)" } ?? ""
            switch r.outcome {
            case .connected, .reply:
                var s = "\(r.outcome == .reply ? "reply" : "connected") ip=\(host) dport=\(port ?? 0)\(local) seq=\(r.seq) \(rtt)"
                if let k = r.kernelRTTNanoseconds { s += " kernel_rtt=\(ms(k)) ms" }
                return s
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
            out += "\n--- \(host) ping statistics ---\n"
            out += "\(report.sent) packets transmitted, \(report.sent - report.lost) received, \(formatG(lossPercent))% packet loss, time \(report.durationNanoseconds / 1_000_000)ms\n"
            if report.samples > 0 {
                out += "rtt min/avg/max/mdev = \(pingMs(Double(s.min)))/\(pingMs(s.mean))/\(pingMs(Double(s.max)))/\(pingMs(s.stddev)) ms\n"
            }
        case .tcpSYN:
            out += "\n--- \(host) hping statistic ---\n"
            out += "\(report.sent) packets transmitted, \(report.sent - report.lost) packets received, \(formatG(lossPercent))% packet loss"
            out += " (\(report.outcomes["SA", default: 0]) SA, \(report.outcomes["RA", default: 0]) RA, \(report.outcomes["timeout", default: 0]) timeout)\n"
            if report.samples > 0 {
                out += "round-trip min/avg/max = \(ms(s.min))/\(ms(s.mean))/\(ms(s.max)) ms\n"
            }
        case .tcpConnect, .tcpRequestResponse:
            out += "\n--- \(host) connect statistics ---\n"
            out += "\(report.sent) connects, \(report.outcomes["connected", default: 0]) connected, \(report.outcomes["refused", default: 0]) refused, \(report.outcomes["timeout", default: 0]) timeout, \(formatG(lossPercent))% unanswered\n"
            if report.samples > 0 {
                out += "round-trip min/avg/max = \(ms(s.min))/\(ms(s.mean))/\(ms(s.max)) ms\n"
            }
        }
        // ping truncates to whole microseconds; hping and the others round. One block, one rule.
        let f: (Double) -> String = report.method == .icmpEcho ? { pingMs($0) } : { ms($0) }
        if report.samples > 0 {
            out += "\(report.label): p50 \(f(Double(s.p50))) ms, p90 \(f(Double(s.p90))) ms, p99 \(f(Double(s.p99))) ms, stddev \(f(s.stddev)) ms (\(report.samples) sample\(report.samples == 1 ? "" : "s"))\n"
            if let clock = report.clock {
                var line = "clock: \(clock.label)"
                if let clocks = report.clocks {
                    line += "; by sample: " + clocks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                }
                out += line + "\n"
            }
        }
        if let first = report.firstProbe, first.apart, let steady = report.steadyRTTNanoseconds {
            out += "first probe \(f(Double(first.firstNanoseconds))) ms from the send call to the reply, against \(f(Double(first.restMedianNanoseconds))) ms for the later probes' median (it paid for neighbour resolution or a cold start); steady state p50 \(f(Double(steady.p50))) ms\n"
        }
        if report.interrupted { out += "(interrupted: the statistics cover the probes sent so far)\n" }
        return out
    }

    /// `%g`, as ping prints its loss percentage.
    static func formatG(_ value: Double) -> String { CFormat.general(value) }
}
