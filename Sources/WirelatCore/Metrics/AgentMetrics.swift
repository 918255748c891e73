/// The outcome of one active probe, as `wirelat_probes_total`'s `result` label spells it.
public enum ProbeResultLabel: String, CaseIterable, Sendable {
    case ok, timeout, refused, reset, error
}

/// One row of the agent's status page: a target and method, its latest window's
/// percentiles per clock, and its probes since start.
public struct AgentStatusRow: Sendable, Equatable {
    public var target: String
    public var method: String
    /// p50 and p99 of the summary window, in nanoseconds; nil when the window holds no sample.
    public var p50Wire: UInt64?
    public var p99Wire: UInt64?
    public var p50App: UInt64?
    public var p99App: UInt64?
    /// Probes counted since the agent started (or since the target was last configured).
    public var probes: UInt64
    /// The fraction of those probes whose result was not `ok`; nil before the first probe.
    public var loss: Double?

    public init(target: String, method: String, p50Wire: UInt64? = nil, p99Wire: UInt64? = nil,
                p50App: UInt64? = nil, p99App: UInt64? = nil, probes: UInt64 = 0, loss: Double? = nil) {
        self.target = target
        self.method = method
        self.p50Wire = p50Wire
        self.p99Wire = p99Wire
        self.p50App = p50App
        self.p99App = p99App
        self.probes = probes
        self.loss = loss
    }
}

/// Everything `wirelat agent` exports, and its rendering as Prometheus text (format 0.0.4)
/// and as the status page. Not thread-safe: the caller holds a lock around every call.
///
/// Round-trip times go both into a summary over a sliding window (quantiles 0.5, 0.9,
/// 0.99, 0.999; see ``SlidingWindowHistogram``) and into a cumulative histogram with
/// ``LatencyBuckets``. Memory per series is bounded whatever the probe rate.
public final class AgentMetrics {
    /// The quantiles of `wirelat_rtt_seconds`.
    public static let summaryQuantiles: [Double] = [0.5, 0.9, 0.99, 0.999]

    private struct RTTKey: Hashable, Comparable {
        var target: String
        var method: String
        var clock: String
        static func < (a: RTTKey, b: RTTKey) -> Bool {
            (a.target, a.method, a.clock) < (b.target, b.method, b.clock)
        }
    }

    private struct ProbeKey: Hashable, Comparable {
        var target: String
        var method: String
        static func < (a: ProbeKey, b: ProbeKey) -> Bool { (a.target, a.method) < (b.target, b.method) }
    }

    private struct PassiveKey: Hashable, Comparable {
        var interface: String
        var method: String
        static func < (a: PassiveKey, b: PassiveKey) -> Bool { (a.interface, a.method) < (b.interface, b.method) }
    }

    private struct RTTSeries {
        var window: SlidingWindowHistogram
        var histogram = BucketCounts()
    }

    public let version: String
    public let summaryWindowNanoseconds: UInt64
    private var rtt: [RTTKey: RTTSeries] = [:]
    /// Counts per ``ProbeResultLabel``, in `allCases` order.
    private var probes: [ProbeKey: [UInt64]] = [:]
    private var passive: [PassiveKey: BucketCounts] = [:]
    private var capture: [String: (received: UInt64, dropped: UInt64)] = [:]
    private var reloadSuccesses: UInt64 = 0
    private var reloadFailures: UInt64 = 0
    /// The configuration the agent started with was good, or it would not have started.
    private var lastReloadSuccessful = true

    public init(version: String, summaryWindowNanoseconds: UInt64) {
        self.version = version
        self.summaryWindowNanoseconds = summaryWindowNanoseconds
    }

    /// Records one round trip of `target` by `method` on `clock` (`wire` or `app`);
    /// `now` is the monotonic clock in nanoseconds, which places it in the window.
    public func recordRTT(target: String, method: String, clock: String, nanoseconds: UInt64, now: UInt64) {
        let key = RTTKey(target: target, method: method, clock: clock)
        if rtt[key] == nil { rtt[key] = RTTSeries(window: SlidingWindowHistogram(windowNanoseconds: summaryWindowNanoseconds)) }
        rtt[key]!.window.record(nanoseconds, now: now)
        rtt[key]!.histogram.record(nanoseconds)
    }

    /// Counts one probe of `target` by `method` that ended in `result`.
    public func countProbe(target: String, method: String, result: ProbeResultLabel) {
        let key = ProbeKey(target: target, method: method)
        let i = ProbeResultLabel.allCases.firstIndex(of: result)!
        probes[key, default: [UInt64](repeating: 0, count: ProbeResultLabel.allCases.count)][i] &+= 1
    }

    /// Records one round trip seen by a capture on `interface`.
    public func recordPassiveRTT(interface: String, method: String, nanoseconds: UInt64) {
        passive[PassiveKey(interface: interface, method: method), default: BucketCounts()].record(nanoseconds)
    }

    /// The capture's packet totals on `interface`, as libpcap's `pcap_stats` reports them.
    public func setCaptureCounters(interface: String, received: UInt64, dropped: UInt64) {
        capture[interface] = (received, dropped)
    }

    /// Counts a configuration reload and remembers whether it worked.
    public func countReload(success: Bool) {
        if success { reloadSuccesses &+= 1 } else { reloadFailures &+= 1 }
        lastReloadSuccessful = success
    }

    /// The targets now configured: the series of every other target are dropped, those of
    /// these keep their history.
    public func setTargets(_ names: Set<String>) {
        rtt = rtt.filter { names.contains($0.key.target) }
        probes = probes.filter { names.contains($0.key.target) }
    }

    /// The whole exposition: every family with its HELP and TYPE lines, families in a
    /// fixed order, series sorted by their labels.
    public func render(now: UInt64) -> String {
        var w = PrometheusTextWriter()
        write(to: &w, now: now)
        return w.text
    }

    /// As ``render(now:)``, appending to `w`.
    public func write(to w: inout PrometheusTextWriter, now: UInt64) {
        w.family("wirelat_build_info", .gauge, help: "The wirelat version that runs this agent; always 1.")
        w.sample("wirelat_build_info", [("version", version)], UInt64(1))

        let rttKeys = rtt.keys.sorted()
        if !rttKeys.isEmpty {
            let quantileLabels = Self.summaryQuantiles.map(PrometheusTextWriter.format)
            w.family("wirelat_rtt_seconds", .summary,
                     help: "Round-trip time of active probes; quantiles over the last \(formatDuration(nanoseconds: summaryWindowNanoseconds)), sum and count since start.")
            for key in rttKeys {
                let series = rtt[key]!
                let labels = [("target", key.target), ("method", key.method), ("clock", key.clock)]
                let values = series.window.quantiles(Self.summaryQuantiles, now: now)
                for (i, q) in quantileLabels.enumerated() {
                    w.sample("wirelat_rtt_seconds", labels + [("quantile", q)], values.map { Double($0[i]) / 1e9 } ?? .nan)
                }
                w.sample("wirelat_rtt_seconds_sum", labels, series.histogram.sumSeconds)
                w.sample("wirelat_rtt_seconds_count", labels, series.histogram.count)
            }
            w.family("wirelat_rtt_histogram_seconds", .histogram, help: "Round-trip time of active probes since start.")
            for key in rttKeys {
                rtt[key]!.histogram.write("wirelat_rtt_histogram_seconds",
                                          [("target", key.target), ("method", key.method), ("clock", key.clock)], to: &w)
            }
        }

        if !probes.isEmpty {
            w.family("wirelat_probes_total", .counter, help: "Active probes sent, by result.")
            for key in probes.keys.sorted() {
                let counts = probes[key]!
                for (i, result) in ProbeResultLabel.allCases.enumerated().sorted(by: { $0.element.rawValue < $1.element.rawValue }) {
                    w.sample("wirelat_probes_total", [("target", key.target), ("method", key.method), ("result", result.rawValue)], counts[i])
                }
            }
        }

        if !passive.isEmpty {
            w.family("wirelat_passive_rtt_seconds", .histogram, help: "Round-trip time observed by the packet capture.")
            for key in passive.keys.sorted() {
                passive[key]!.write("wirelat_passive_rtt_seconds", [("interface", key.interface), ("method", key.method)], to: &w)
            }
        }

        if !capture.isEmpty {
            let interfaces = capture.keys.sorted()
            w.family("wirelat_capture_packets_total", .counter, help: "Packets the capture received (libpcap's ps_recv).")
            for name in interfaces { w.sample("wirelat_capture_packets_total", [("interface", name)], capture[name]!.received) }
            w.family("wirelat_capture_drops_total", .counter, help: "Packets the kernel dropped for lack of buffer space (libpcap's ps_drop).")
            for name in interfaces { w.sample("wirelat_capture_drops_total", [("interface", name)], capture[name]!.dropped) }
        }

        w.family("wirelat_config_reloads_total", .counter, help: "Configuration reloads, by result.")
        w.sample("wirelat_config_reloads_total", [("result", "failure")], reloadFailures)
        w.sample("wirelat_config_reloads_total", [("result", "success")], reloadSuccesses)
        w.family("wirelat_config_last_reload_successful", .gauge, help: "1 when the last configuration reload worked (or none was tried), else 0.")
        w.sample("wirelat_config_last_reload_successful", [], UInt64(lastReloadSuccessful ? 1 : 0))
    }

    /// One row per target × method that has a round trip or a probe, sorted: the current
    /// window's p50 and p99 per clock, the probes counted since start and the share of
    /// them that failed.
    public func statusRows(now: UInt64) -> [AgentStatusRow] {
        var keys = Set(probes.keys)
        for key in rtt.keys { keys.insert(ProbeKey(target: key.target, method: key.method)) }
        return keys.sorted().map { key in
            var row = AgentStatusRow(target: key.target, method: key.method)
            if let wire = rtt[RTTKey(target: key.target, method: key.method, clock: "wire")]?.window.quantiles([0.5, 0.99], now: now) {
                row.p50Wire = wire[0]
                row.p99Wire = wire[1]
            }
            if let app = rtt[RTTKey(target: key.target, method: key.method, clock: "app")]?.window.quantiles([0.5, 0.99], now: now) {
                row.p50App = app[0]
                row.p99App = app[1]
            }
            if let counts = probes[key] {
                let total = counts.reduce(0, &+)
                row.probes = total
                if total > 0 {
                    let ok = counts[ProbeResultLabel.allCases.firstIndex(of: .ok)!]
                    row.loss = Double(total - ok) / Double(total)
                }
            }
            return row
        }
    }

    /// The status page: a self-contained HTML table of ``statusRows(now:)``, times in
    /// milliseconds, loss in percent.
    public func statusPage(now: UInt64, title: String) -> String {
        let rows = statusRows(now: now)
        func ms(_ v: UInt64?) -> String { v.map { formatMilliseconds(Double($0)) } ?? "—" }
        var html = HTMLPage.head(title: title, style: HTMLPage.style(maxWidth: 1100, nowrapCells: true))
        html += "<h1>\(escapeHTML(title))</h1>\n"
        html += "<p class=\"notes\">wirelat \(escapeHTML(version)). Round trips in milliseconds: p50 and p99 over the last "
            + "\(escapeHTML(formatDuration(nanoseconds: summaryWindowNanoseconds))); probes and loss since start. "
            + "<a href=\"/metrics\">/metrics</a></p>\n"
        html += "<table>\n<tr><th class=\"l\">target</th><th class=\"l\">method</th><th>wire p50</th><th>wire p99</th>"
            + "<th>app p50</th><th>app p99</th><th>probes</th><th>loss</th></tr>\n"
        for r in rows {
            html += "<tr><td class=\"l\">\(escapeHTML(r.target))</td><td class=\"l\">\(escapeHTML(r.method))</td>"
                + "<td>\(ms(r.p50Wire))</td><td>\(ms(r.p99Wire))</td><td>\(ms(r.p50App))</td><td>\(ms(r.p99App))</td>"
                + "<td>\(r.probes)</td><td>\(r.loss.map { formatPercent($0 * 100) } ?? "—")</td></tr>\n"
        }
        html += "</table>\n"
        if rows.isEmpty { html += "<p class=\"notes\">No probe has finished yet.</p>\n" }
        return html + HTMLPage.end
    }
}
