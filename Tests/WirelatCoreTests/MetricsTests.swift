import Foundation
import Testing
import WirelatCore

/// One sample line of the text exposition, read back.
struct ExpositionSample: Equatable {
    var name: String
    var labels: [String: String]
    var labelOrder: [String]
    var value: Double
}

/// A small reader of the text format (0.0.4), strict enough to catch what Prometheus
/// would reject: every line is a comment (`# HELP name text`, `# TYPE name type`) or
/// `name{label="value",...} value` with escaped label values.
struct Exposition {
    var samples: [ExpositionSample] = []
    /// Family name → type, in the order the TYPE lines came.
    var types: [(name: String, type: String)] = []
    var helps: Set<String> = []

    init(parsing text: String) throws {
        guard text.hasSuffix("\n") else { throw ParseError("the text does not end with a line feed") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else { throw ParseError("HELP without text: \(line)") }
                helps.insert(String(rest[..<space]))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[1])) else {
                    throw ParseError("bad TYPE line: \(line)")
                }
                guard !types.contains(where: { $0.name == String(parts[0]) }) else { throw ParseError("TYPE twice: \(line)") }
                types.append((String(parts[0]), String(parts[1])))
            } else if line.hasPrefix("#") || line.isEmpty {
                throw ParseError("unexpected line: \(line)")
            } else {
                samples.append(try Self.sample(Array(line.unicodeScalars)))
            }
        }
    }

    static func isNameScalar(_ c: Unicode.Scalar, first: Bool) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c == ":" || (!first && c >= "0" && c <= "9")
    }

    static func sample(_ s: [Unicode.Scalar]) throws -> ExpositionSample {
        var i = 0
        var name = ""
        while i < s.count, isNameScalar(s[i], first: name.isEmpty) { name.unicodeScalars.append(s[i]); i += 1 }
        guard !name.isEmpty else { throw ParseError("no metric name: \(String(String.UnicodeScalarView(s)))") }
        var labels: [String: String] = [:]
        var order: [String] = []
        if i < s.count, s[i] == "{" {
            i += 1
            while i < s.count, s[i] != "}" {
                var label = ""
                while i < s.count, isNameScalar(s[i], first: label.isEmpty) { label.unicodeScalars.append(s[i]); i += 1 }
                guard !label.isEmpty, i + 1 < s.count, s[i] == "=", s[i + 1] == "\"" else { throw ParseError("bad label in \(name)") }
                i += 2
                var value = ""
                while i < s.count, s[i] != "\"" {
                    if s[i] == "\\" {
                        guard i + 1 < s.count else { throw ParseError("dangling escape") }
                        switch s[i + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw ParseError("unknown escape \\\(s[i + 1])")
                        }
                        i += 2
                    } else {
                        value.unicodeScalars.append(s[i])
                        i += 1
                    }
                }
                guard i < s.count else { throw ParseError("unterminated label value in \(name)") }
                i += 1
                guard labels[label] == nil else { throw ParseError("label \(label) twice in \(name)") }
                labels[label] = value
                order.append(label)
                if i < s.count, s[i] == "," { i += 1 }
            }
            guard i < s.count else { throw ParseError("unterminated labels in \(name)") }
            i += 1
        }
        guard i < s.count, s[i] == " " else { throw ParseError("no space before the value of \(name)") }
        let valueText = String(String.UnicodeScalarView(s[(i + 1)...]))
        let value: Double
        switch valueText {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default:
            guard let v = Double(valueText), !valueText.contains(" ") else { throw ParseError("bad value '\(valueText)' of \(name)") }
            value = v
        }
        return ExpositionSample(name: name, labels: labels, labelOrder: order, value: value)
    }

    func family(of sampleName: String) -> String? {
        for (name, type) in types {
            if sampleName == name { return name }
            if type == "histogram", [name + "_bucket", name + "_sum", name + "_count"].contains(sampleName) { return name }
            if type == "summary", [name + "_sum", name + "_count"].contains(sampleName) { return name }
        }
        return nil
    }

    /// Cumulative buckets (le, count) of the histogram series `name` with `labels` (le aside).
    func buckets(_ name: String, _ labels: [String: String]) -> [(le: Double, count: Double)] {
        samples.filter { $0.name == name + "_bucket" && $0.labels.filter { $0.key != "le" } == labels }
            .map { (Double($0.labels["le"]!.replacingOccurrences(of: "+Inf", with: "inf"))!, $0.value) }
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}

struct ParseError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Prometheus's `histogram_quantile` (promql/quantile.go, `bucketQuantile`): the rank
/// q × count is found among the cumulative buckets and interpolated linearly inside its
/// bucket, whose lower bound is the previous bucket's upper bound (0 for the first); a
/// rank in the +Inf bucket answers the highest finite bound.
func histogramQuantile(_ q: Double, _ buckets: [(le: Double, count: Double)]) -> Double {
    guard let last = buckets.last, last.le == .infinity, last.count > 0 else { return .nan }
    let rank = q * last.count
    var i = 0
    while i < buckets.count - 1 && buckets[i].count < rank { i += 1 }
    if i == buckets.count - 1 { return buckets[buckets.count - 2].le }
    let lower = i == 0 ? 0 : buckets[i - 1].le
    let below = i == 0 ? 0 : buckets[i - 1].count
    let inBucket = buckets[i].count - below
    return lower + (buckets[i].le - lower) * (rank - below) / inBucket
}

private let second: UInt64 = 1_000_000_000

@Suite("Agent metrics: the Prometheus exposition")
struct MetricsTests {
    /// A metrics object with several targets, both clocks, probe results, passive data,
    /// capture counters and reloads.
    static func populated(now: UInt64 = 100 * second) -> AgentMetrics {
        let m = AgentMetrics(version: "1.2.3", summaryWindowNanoseconds: 60 * second)
        var random = SeededRandom(seed: 7)
        for (target, base) in [("db01", 25_000.0), ("10.77.0.2", 180_000.0), ("web \"front\"\\n\nline", 2_000_000.0)] {
            for method in ["syn", "connect", "reqresp"] {
                for i in 0..<200 {
                    let wire = UInt64(base * exp(0.2 * random.nextStandardNormal()))
                    m.recordRTT(target: target, method: method, clock: "wire", nanoseconds: wire, now: now - UInt64(i) * 100_000_000)
                    m.recordRTT(target: target, method: method, clock: "app", nanoseconds: wire + 20_000, now: now - UInt64(i) * 100_000_000)
                    m.countProbe(target: target, method: method, result: i % 50 == 0 ? .timeout : .ok)
                }
            }
        }
        m.countProbe(target: "db01", method: "icmp", result: .refused)
        for i in 0..<500 { m.recordPassiveRTT(interface: "eth0", method: i % 2 == 0 ? "ack" : "reqresp", nanoseconds: UInt64(30_000 + i * 100)) }
        m.setCaptureCounters(interface: "eth0", received: 123_456, dropped: 7)
        m.countReload(success: true)
        m.countReload(success: false)
        return m
    }

    @Test("the bounds run from 10 µs to 10 s, each at most 1.1 times the one before")
    func bucketBounds() {
        let b = LatencyBuckets.upperBoundsSeconds
        #expect(b.count == 151)
        #expect(b.first == 0.00001)
        #expect(b.last == 10)
        for i in 1..<b.count { #expect(b[i] > b[i - 1] && b[i] <= b[i - 1] * 1.1 * (1 + 1e-12), "\(b[i - 1]) → \(b[i])") }
    }

    @Test("every line parses: HELP and TYPE per family, names of their family, escaped labels, values Prometheus reads")
    func expositionParses() throws {
        let text = Self.populated().render(now: 100 * second)
        let e = try Exposition(parsing: text)
        let families = e.types.map(\.name)
        #expect(families == ["wirelat_build_info", "wirelat_rtt_seconds", "wirelat_rtt_histogram_seconds", "wirelat_probes_total",
                             "wirelat_passive_rtt_seconds", "wirelat_capture_packets_total", "wirelat_capture_drops_total",
                             "wirelat_config_reloads_total", "wirelat_config_last_reload_successful"])
        #expect(Set(families) == e.helps)
        for s in e.samples { #expect(e.family(of: s.name) != nil, "\(s.name) belongs to no family") }
        // Samples of one family are together, in the order of the TYPE lines.
        let order = e.samples.map { families.firstIndex(of: e.family(of: $0.name)!)! }
        #expect(order == order.sorted())

        #expect(e.value("wirelat_build_info", ["version": "1.2.3"]) == 1)
        let odd = "web \"front\"\\n\nline"
        #expect(e.samples.contains { $0.labels["target"] == odd }, "a label value with quote, backslash and newline reads back")
        #expect(e.value("wirelat_probes_total", ["target": "db01", "method": "syn", "result": "timeout"]) == 4)
        #expect(e.value("wirelat_probes_total", ["target": "db01", "method": "syn", "result": "ok"]) == 196)
        #expect(e.value("wirelat_probes_total", ["target": "db01", "method": "icmp", "result": "reset"]) == 0, "every result is exported, zeros too")
        #expect(e.value("wirelat_capture_packets_total", ["interface": "eth0"]) == 123_456)
        #expect(e.value("wirelat_capture_drops_total", ["interface": "eth0"]) == 7)
        #expect(e.value("wirelat_config_reloads_total", ["result": "success"]) == 1)
        #expect(e.value("wirelat_config_reloads_total", ["result": "failure"]) == 1)
        #expect(e.value("wirelat_config_last_reload_successful", [:]) == 0)

        // Summary: four quantiles in order, then sum and count since start.
        let db = ["target": "db01", "method": "syn", "clock": "wire"]
        let quantiles = e.samples.filter { $0.name == "wirelat_rtt_seconds" && $0.labels.filter { $0.key != "quantile" } == db }
        #expect(quantiles.map { $0.labels["quantile"]! } == ["0.5", "0.9", "0.99", "0.999"])
        #expect(quantiles.map(\.labelOrder.last) == Array(repeating: "quantile", count: 4))
        let p50 = quantiles[0].value
        #expect(p50 > 20e-6 && p50 < 31e-6, "median of a 25 µs lognormal: \(p50)")
        #expect(zip(quantiles, quantiles.dropFirst()).allSatisfy { $0.value <= $1.value })
        #expect(e.value("wirelat_rtt_seconds_count", db) == 200)
        let sum = try #require(e.value("wirelat_rtt_seconds_sum", db))
        #expect(sum > 200 * 20e-6 && sum < 200 * 31e-6)

        // Series sorted by their labels within each family.
        let rttSeries = e.samples.filter { $0.name == "wirelat_rtt_seconds_count" }
            .map { [$0.labels["target"]!, $0.labels["method"]!, $0.labels["clock"]!] }
        #expect(rttSeries == rttSeries.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(rttSeries.count == 3 * 3 * 2)
    }

    @Test("histograms: cumulative buckets never fall, end with le=+Inf equal to _count, and _sum matches")
    func histogramsAreCumulative() throws {
        let e = try Exposition(parsing: Self.populated().render(now: 100 * second))
        var series = 0
        for count in e.samples where count.name.hasSuffix("_count") && count.name != "wirelat_rtt_seconds_count" {
            let family = String(count.name.dropLast("_count".count))
            let buckets = e.buckets(family, count.labels)
            // A contiguous run of the bounds, from one empty bucket below the lowest that
            // holds a sample (or the first bound) to the highest that does, then +Inf.
            let bounds = LatencyBuckets.upperBoundsSeconds
            let finite = buckets.dropLast().map(\.le)
            let start = try #require(finite.first.flatMap { bounds.firstIndex(of: $0) }, "\(family) \(count.labels): no finite bucket")
            #expect(finite == Array(bounds[start..<start + finite.count]), "le contiguous and ascending")
            #expect(buckets.last?.le == .infinity)
            #expect(start == 0 || buckets[0].count == 0, "an empty bucket below the lowest sample")
            #expect(finite.count >= 2 && buckets[finite.count - 1].count > buckets[finite.count - 2].count, "ends at the highest bucket with a sample")
            #expect(finite.count < bounds.count / 2, "\(finite.count) buckets written for a LAN distribution")
            #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0.count <= $1.count }, "\(family) \(count.labels)")
            #expect(buckets.last?.count == count.value)
            #expect(e.value(family + "_sum", count.labels) != nil)
            series += 1
        }
        #expect(series == 3 * 3 * 2 + 2, "18 active series and 2 passive ones")
    }

    @Test("histogram_quantile on these buckets is within 10 % of the exact quantile: LAN, WAN, tight and wide distributions from 10 µs to 10 s")
    func histogramQuantileAccuracy() throws {
        var random = SeededRandom(seed: 2026)
        func lognormal(_ median: Double, _ sigma: Double) -> () -> Double {
            { median * exp(sigma * random.nextStandardNormal()) }
        }
        var cases: [(String, Int, () -> Double)] = [
            ("LAN lognormal, median 50 µs, σ 0.3", 100_000, lognormal(50_000, 0.3)),
            ("LAN normal 30 µs ± 3 µs", 100_000, { 30_000 + 3_000 * random.nextStandardNormal() }),
            ("quiet LAN 23 µs ± 1 µs", 100_000, { 23_000 + 1_000 * random.nextStandardNormal() }),
            ("LAN 25 µs + exponential tail of 10 µs", 100_000, { 25_000 - 10_000 * log(1 - random.nextUnit()) }),
            ("a spike: 150.0 µs to 150.1 µs", 20_000, { 150_000 + 100 * random.nextUnit() }),
            ("WAN 40 ms ± 0.5 ms", 20_000, { 40_000_000 + 500_000 * random.nextStandardNormal() }),
            ("log-uniform 10 µs to 10 s", 100_000, { 10_000 * pow(1e6, random.nextUnit()) }),
        ]
        var median = 12_000.0
        while median < 1.5e9 {
            cases.append(("lognormal median \(Int(median)) ns, σ 0.1", 20_000, lognormal(median, 0.1)))
            cases.append(("lognormal median \(Int(median)) ns, σ 0.5", 20_000, lognormal(median, 0.5)))
            median *= 2.7
        }
        var compared = 0
        for (name, n, draw) in cases {
            let m = AgentMetrics(version: "test", summaryWindowNanoseconds: 60 * second)
            var samples: [UInt64] = []
            samples.reserveCapacity(n)
            for _ in 0..<n {
                let v = UInt64(max(1, draw()))
                samples.append(v)
                m.recordRTT(target: "t", method: "syn", clock: "wire", nanoseconds: v, now: second)
            }
            samples.sort()
            let e = try Exposition(parsing: m.render(now: second))
            let buckets = e.buckets("wirelat_rtt_histogram_seconds", ["target": "t", "method": "syn", "clock": "wire"])
            let quantiles = n >= 100_000 ? [0.5, 0.9, 0.99, 0.999] : [0.5, 0.9, 0.99]
            for q in quantiles {
                let exact = Double(samples[Int((q * Double(n)).rounded(.up)) - 1]) / 1e9
                guard exact >= 10e-6 && exact <= 10 else { continue }
                let estimate = histogramQuantile(q, buckets)
                compared += 1
                #expect(abs(estimate - exact) <= 0.1 * exact, "\(name): q\(q) histogram_quantile \(estimate) s, exact \(exact) s")
            }
        }
        #expect(compared > 60, "quantiles compared: \(compared)")
    }

    @Test("the summary covers the last window only; an empty window answers NaN; _count keeps counting")
    func slidingWindow() throws {
        let m = AgentMetrics(version: "test", summaryWindowNanoseconds: 60 * second)
        let labels = ["target": "a", "method": "syn", "clock": "wire"]
        for i in 0..<1000 { m.recordRTT(target: "a", method: "syn", clock: "wire", nanoseconds: 1_000_000, now: 10 * second + UInt64(i) * 1_000_000) }
        var e = try Exposition(parsing: m.render(now: 20 * second))
        var p50 = e.value("wirelat_rtt_seconds", labels.merging(["quantile": "0.5"]) { $1 })!
        #expect(abs(p50 - 0.001) < 0.001 * 0.03)
        // 45 s later, new round trips of 100 µs: both are in the window.
        for i in 0..<3000 { m.recordRTT(target: "a", method: "syn", clock: "wire", nanoseconds: 100_000, now: 55 * second + UInt64(i) * 1_000_000) }
        e = try Exposition(parsing: m.render(now: 60 * second))
        p50 = e.value("wirelat_rtt_seconds", labels.merging(["quantile": "0.5"]) { $1 })!
        let p999 = e.value("wirelat_rtt_seconds", labels.merging(["quantile": "0.999"]) { $1 })!
        #expect(abs(p50 - 0.0001) < 0.0001 * 0.03, "\(p50)")
        #expect(abs(p999 - 0.001) < 0.001 * 0.03, "the 1 ms samples are still in the window: \(p999)")
        // Past the window of the first batch: only 100 µs left.
        e = try Exposition(parsing: m.render(now: 85 * second))
        #expect(abs(e.value("wirelat_rtt_seconds", labels.merging(["quantile": "0.999"]) { $1 })! - 0.0001) < 0.0001 * 0.03)
        // Nothing for a whole window: NaN, as Prometheus summaries say "no observation".
        e = try Exposition(parsing: m.render(now: 200 * second))
        #expect(e.value("wirelat_rtt_seconds", labels.merging(["quantile": "0.5"]) { $1 })!.isNaN)
        #expect(e.value("wirelat_rtt_seconds_count", labels) == 4000)
        // A million samples at a million rates later, the window still answers.
        var random = SeededRandom(seed: 3)
        for i in 0..<200_000 {
            m.recordRTT(target: "a", method: "syn", clock: "wire", nanoseconds: 1 + random.next() % 10_000_000_000, now: 300 * second + UInt64(i) * 1000)
        }
        e = try Exposition(parsing: m.render(now: 301 * second))
        p50 = e.value("wirelat_rtt_seconds", labels.merging(["quantile": "0.5"]) { $1 })!
        #expect(abs(p50 - 5) < 5 * 0.05, "uniform 0–10 s: median \(p50)")
    }

    @Test("setTargets drops the series of targets no longer configured and keeps the others' history")
    func setTargets() throws {
        let m = Self.populated()
        m.setTargets(["db01", "new"])
        let e = try Exposition(parsing: m.render(now: 100 * second))
        #expect(e.samples.filter { $0.labels["target"] != nil }.allSatisfy { $0.labels["target"] == "db01" })
        #expect(e.value("wirelat_rtt_seconds_count", ["target": "db01", "method": "syn", "clock": "app"]) == 200)
        #expect(e.value("wirelat_passive_rtt_seconds_count", ["interface": "eth0", "method": "ack"]) == 250, "passive series are per interface")
    }

    @Test("status rows: p50/p99 per clock from the window, probes and loss since start; the page escapes names")
    func statusRowsAndPage() {
        let m = Self.populated()
        let rows = m.statusRows(now: 100 * second)
        #expect(rows.count == 3 * 3 + 1)
        let db = rows.first { $0.target == "db01" && $0.method == "syn" }!
        #expect(db.probes == 200)
        #expect(db.loss == 0.02)
        #expect(db.p50Wire! > 20_000 && db.p50Wire! < 31_000)
        #expect(db.p50App! > db.p50Wire!)
        #expect(db.p99Wire! >= db.p50Wire!)
        let icmp = rows.first { $0.method == "icmp" }!
        #expect(icmp.probes == 1 && icmp.loss == 1 && icmp.p50Wire == nil)
        let page = m.statusPage(now: 100 * second, title: "agent <db>")
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains("<title>agent &lt;db&gt;</title>"))
        #expect(page.contains("web &quot;front&quot;"))
        #expect(!page.contains("web \"front\""))
        #expect(page.contains("<td>2%</td>"))
    }

    @Test("HTTP server counters render as their own families, every drop reason present")
    func httpStatsExposition() throws {
        var stats = HTTPServerStats()
        stats.requestsByCode = [200: 3, 404: 1]
        stats.connectionsDropped = [.headTooLarge: 2]
        stats.connectionsAccepted = 6
        let e = try Exposition(parsing: stats.exposition)
        #expect(e.value("wirelat_http_requests_total", ["code": "200"]) == 3)
        #expect(e.value("wirelat_http_connections_dropped_total", ["reason": "head_too_large"]) == 2)
        #expect(e.value("wirelat_http_connections_dropped_total", ["reason": "evicted"]) == 0)
        #expect(e.samples.filter { $0.name == "wirelat_http_connections_dropped_total" }.count == HTTPDropReason.allCases.count)
    }

    @Test("request heads: complete, keep-alive rules, bodies, garbage spotted early")
    func requestHeads() {
        func parse(_ s: String) -> HTTPRequestHead.Outcome { HTTPRequestHead.parse(Array(s.utf8)) }
        guard case .complete(let h, let consumed) = parse("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET") else {
            Issue.record("a whole head")
            return
        }
        #expect(h.method == "GET" && h.path == "/metrics" && h.keepAlive && !h.hasBody)
        #expect(consumed == "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n".utf8.count)
        if case .complete(let h, _) = parse("\r\nHEAD http://x:9/-/healthy HTTP/1.0\n\n") {
            #expect(h.method == "HEAD" && h.path == "/-/healthy" && !h.keepAlive)
        } else { Issue.record("HTTP/1.0 with bare LF") }
        if case .complete(let h, _) = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n") {
            #expect(!h.keepAlive)
        } else { Issue.record("Connection: close") }
        if case .complete(let h, _) = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") { #expect(h.hasBody) } else { Issue.record("body") }
        if case .complete(let h, _) = parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") { #expect(h.hasBody) } else { Issue.record("chunked") }
        #expect(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n") == .incomplete)
        #expect(parse("GE") == .incomplete)
        for garbage in ["\u{16}\u{03}\u{01}\u{02}", "GET /x HTTP/2.0\r\n", "GET /x\r\n", "hello world\r\n", "GET / HTTP/1.1\r\n\r\n",
                        "GET / HTTP/1.1\r\nno colon\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n"] {
            if case .malformed = parse(garbage) {} else { Issue.record("not rejected: \(garbage.debugDescription)") }
        }
    }

    @Test("floats in a form Prometheus reads")
    func floats() {
        #expect(PrometheusTextWriter.format(10) == "10")
        #expect(PrometheusTextWriter.format(0.00001) == "1e-05")
        #expect(PrometheusTextWriter.format(0.000132) == "0.000132")
        #expect(PrometheusTextWriter.format(.infinity) == "+Inf")
        #expect(PrometheusTextWriter.format(.nan) == "NaN")
        #expect(PrometheusTextWriter.escapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd")
    }
}
