import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import WirelatCore

/// A row of `count` samples spread evenly around `p50Microseconds`.
func compareRow(_ method: ProbeMethod, p50Microseconds: Double, count: Int = 50, lostEvery: Int = 0) -> CompareMethodReport {
    var replies: [ProbeReply] = []
    for i in 0..<count {
        if lostEvery > 0 && i % lostEvery == lostEvery - 1 {
            replies.append(ProbeReply(seq: i, outcome: .timeout))
            continue
        }
        let jitter = Double(i % 10) - 4.5
        replies.append(ProbeReply(seq: i, outcome: .reply, rttNanoseconds: UInt64((p50Microseconds + jitter) * 1000), clock: .wire))
    }
    return CompareMethodReport(method: method, target: "10.77.0.2:1521", replies: replies)
}

@Suite("compare: table, sentence, merge, page")
struct CompareReportTests {
    let rows = [compareRow(.icmpEcho, p50Microseconds: 35), compareRow(.tcpSYN, p50Microseconds: 38),
                compareRow(.tcpConnect, p50Microseconds: 52, lostEvery: 10), compareRow(.tcpRequestResponse, p50Microseconds: 64)]

    @Test("one row per method with samples, lost and min…stddev in µs")
    func table() throws {
        let text = CompareTable.render(rows)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines[0].contains("method") && lines[0].contains("p99") && lines[0].contains("stddev"))
        #expect(lines[1].hasPrefix("icmp-echo") && lines[1].contains("ICMP echo→echo-reply RTT"))
        #expect(lines[3].hasPrefix("tcp-connect"))
        #expect(CompareTable.cells(rows[2])[0] == "45" && CompareTable.cells(rows[2])[1] == "5")
        let p50 = try #require(Double(CompareTable.cells(rows[0])[3]))
        #expect(p50 >= 30 && p50 <= 36)
        let empty = CompareMethodReport(method: .tcpSYN, target: "x", replies: [ProbeReply(seq: 0, outcome: .timeout)])
        #expect(CompareTable.cells(empty) == ["0", "1", "-", "-", "-", "-", "-", "-", "-"])
    }

    @Test("the sentence: ICMP's p50 against the request/response p50, and what the gap means")
    func sentence() {
        let icmp = CompareMethodReport(command: "compare", method: "icmp-echo", label: "ICMP", target: "t", samples: 10,
                                       rttNanoseconds: LatencySummary(count: 10, min: 1, p50: 35_000, p90: 1, p99: 1, p999: 1, max: 1, mean: 1, stddev: 0))
        var reqresp = icmp
        reqresp.method = "tcp-reqresp"
        reqresp.rttNanoseconds.p50 = 64_000
        let s = CompareSentence.make([icmp, reqresp])
        #expect(s.hasPrefix("ICMP's p50 is 45% below the TCP request/response p50 (35.0 µs vs 64.0 µs)"))
        #expect(s.contains("understates"))

        reqresp.rttNanoseconds.p50 = 36_000
        #expect(CompareSentence.make([icmp, reqresp]).hasPrefix("ICMP's p50 is within 5% of"))
        reqresp.rttNanoseconds.p50 = 20_000
        #expect(CompareSentence.make([icmp, reqresp]).contains("above"))

        var syn = icmp
        syn.method = "tcp-syn"
        syn.label = "SYN→SYN-ACK RTT"
        syn.rttNanoseconds.p50 = 70_000
        #expect(CompareSentence.make([icmp, syn]).hasPrefix("ICMP's p50 is 50% below the SYN→SYN-ACK p50"))
        #expect(CompareSentence.make([reqresp]).hasPrefix("No ICMP"))
    }

    @Test("merge: a compare report round-trips; client, probe and capture --rtt reports become rows; garbage is refused")
    func merge() throws {
        let report = CompareReport(target: "10.77.0.2:1521", rounds: 50, methods: rows, notes: [])
        let data = try JSONEncoder().encode(report)
        let back = try CompareMerge.rows(fromJSON: data, source: "/tmp/run1.json")
        #expect(back.count == 4)
        #expect(back[0].name == "icmp-echo (run1.json)")
        #expect(back[3].rttNanoseconds.p50 == rows[3].rttNanoseconds.p50)
        #expect(back[0].rttSamplesNanoseconds == rows[0].rttSamplesNanoseconds)

        let client = #"{"command":"client","method":"tcp-reqresp","target":"10.0.0.2:1521","samples":1000,"rtt_ns":{"min":20000,"p50":25000,"p90":30000,"p99":40000,"p999":50000,"max":60000,"mean":26000.5,"stddev":3000.25}}"#
        let c = try CompareMerge.rows(fromJSON: Data(client.utf8), source: "client.json")
        #expect(c.count == 1 && c[0].command == "client" && c[0].samples == 1000 && c[0].rttNanoseconds.p99 == 40_000)
        #expect(c[0].rttSamplesNanoseconds == nil)
        #expect(c[0].label == "TCP request/response RTT")

        let probe = ProbeReport(method: .icmpEcho, target: "10.0.0.2", socket: "raw",
                                replies: [probeReply(1, .reply, 30), probeReply(2, .timeout), probeReply(3, .reply, 31)],
                                intervalNanoseconds: 1, timeoutNanoseconds: 1, durationNanoseconds: 1)
        let p = try CompareMerge.rows(fromJSON: try JSONEncoder().encode(probe), source: "probe.json")
        #expect(p.count == 1 && p[0].lost == 1 && p[0].rttSamplesNanoseconds == [30_000, 31_000])

        let capture = #"{"command":"capture","target":"lo","methods":[{"method":"handshake","label":"SYN→SYN-ACK RTT","samples":3,"unanswered":1,"rtt_ns":{"min":1,"p50":2,"p90":3,"p99":3,"p999":3,"max":3,"mean":2,"stddev":0.8}},{"method":"icmp","samples":0,"rtt_ns":{"min":0,"p50":0,"p90":0,"p99":0,"p999":0,"max":0,"mean":0,"stddev":0}}]}"#
        let cap = try CompareMerge.rows(fromJSON: Data(capture.utf8), source: "cap.json")
        #expect(cap.map(\.method) == ["handshake", "icmp"])
        #expect(cap[0].lost == 1 && cap[0].target == "lo")

        #expect(throws: CompareInputError.self) { try CompareMerge.rows(fromJSON: Data("not json".utf8), source: "x") }
        #expect(throws: CompareInputError.self) { try CompareMerge.rows(fromJSON: Data("[1,2]".utf8), source: "x") }
        #expect(throws: CompareInputError.self) { try CompareMerge.rows(fromJSON: Data(#"{"command":"model"}"#.utf8), source: "x") }
    }

    /// Parses the page as XML; returns the parser's error, if any, and the element names seen.
    final class Walker: NSObject, XMLParserDelegate {
        var elements: [String] = []
        var attributes: [String: [String]] = [:]
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append(name)
            for (k, v) in attributes { self.attributes[k, default: []].append(v) }
        }
    }

    @Test("the page is well-formed, self-contained (no script, no http(s) src/href), with two SVG charts and the table per clock")
    func page() throws {
        var summaryOnly = try CompareMerge.rows(fromJSON: Data(#"{"command":"client","method":"tcp-reqresp","target":"x","samples":10,"rtt_ns":{"min":60000,"p50":64000,"p90":70000,"p99":90000,"p999":90000,"max":90000,"mean":65000,"stddev":5000}}"#.utf8), source: "c.json")
        summaryOnly[0].name = "client <&> \"quoted\""
        for set in [rows, rows + summaryOnly, [], [compareRow(.icmpEcho, p50Microseconds: 10), compareRow(.tcpRequestResponse, p50Microseconds: 5000)]] {
            let report = CompareReport(target: "10.77.0.2:1521", rounds: 50, intervalNanoseconds: 10_000_000, methods: set, notes: ["tcp-syn skipped: needs CAP_NET_RAW"])
            let html = ComparePage.html(report)
            #expect(html.hasPrefix("<!DOCTYPE html>"))
            #expect(!html.contains("http://") && !html.contains("https://"))
            #expect(!html.contains("<script"))
            let parser = XMLParser(data: Data(html.utf8))
            let walker = Walker()
            parser.delegate = walker
            #expect(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "") at line \(parser.lineNumber)")
            for name in ["src", "href", "xlink:href"] { #expect(walker.attributes[name] == nil, "\(name) attribute") }
            #expect(walker.elements.contains("table") == !set.isEmpty)
            // The rows here are timed by one clock (wire), or name none: one CDF and one histogram.
            #expect(walker.elements.filter { $0 == "svg" }.count == (set.isEmpty ? 0 : 2))
            for row in set { #expect(html.contains(ComparePage.escape(row.name))) }
            #expect(html.contains(ComparePage.escape(report.sentence)))
        }
        let mixed = ComparePage.html(CompareReport(target: "t", rounds: 0, methods: rows + summaryOnly, notes: []))
        #expect(mixed.contains("stroke-dasharray"), "a row known only by its percentiles is drawn dashed")
        #expect(mixed.contains("client &lt;&amp;&gt; &quot;quoted&quot;"))
        let wide = ComparePage.html(CompareReport(target: "t", rounds: 1, methods: [compareRow(.icmpEcho, p50Microseconds: 10), compareRow(.tcpRequestResponse, p50Microseconds: 5000)], notes: []))
        #expect(wide.contains("(log scale)"), "values spanning 500× get a log axis")
    }
}

/// A row timed by the wire and app clocks: `count` samples around each p50.
func twoClockRow(_ method: ProbeMethod, wireMicroseconds: Double, appMicroseconds: Double?, count: Int = 40) -> CompareMethodReport {
    func samples(_ p50: Double) -> [UInt64] { (0..<count).map { UInt64((p50 + Double($0 % 10) - 4.5) * 1000) } }
    func recorder(_ s: [UInt64]) -> LatencyRecorder { PercentileDistributionFile.recorder(s) }
    let wire = samples(wireMicroseconds)
    var row = CompareMethodReport(command: "compare", method: method.rawValue, label: method.label, target: "10.77.0.2:1521",
                                  samples: UInt64(count), sent: count, lost: 0, rttNanoseconds: recorder(wire).summary(),
                                  clock: "wire", rttSamplesNanoseconds: wire)
    row.set(.wire, summary: recorder(wire).summary(), samples: UInt64(count), points: wire)
    if let appMicroseconds {
        let app = samples(appMicroseconds)
        row.set(.app, summary: recorder(app).summary(), samples: UInt64(count), points: app)
    } else {
        row.appClockMissing = "no user-space round trip for any answered probe"
    }
    return row
}

@Suite("compare: like with like, one clock per table")
struct ProbeClockTests {
    let rows = [twoClockRow(.icmpEcho, wireMicroseconds: 10, appMicroseconds: 45),
                twoClockRow(.tcpSYN, wireMicroseconds: 9, appMicroseconds: nil),
                twoClockRow(.tcpRequestResponse, wireMicroseconds: 27, appMicroseconds: 51)]

    /// The p50 cell of each row of the table under the heading that starts with `heading`.
    func p50Cells(_ text: String, _ heading: String) -> [String: String] {
        var out: [String: String] = [:]
        var inside = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(heading) { inside = true; continue }
            guard inside else { continue }
            if line.isEmpty { break }
            let fields = line.split(separator: " ")
            guard let name = fields.first, ProbeMethod(rawValue: String(name)) != nil else { continue }
            // name, label words, then samples lost min p50 …: the p50 is the 6th field from the end.
            out[String(name)] = String(fields[fields.count - 6])
        }
        return out
    }

    @Test("every table's p50 column is one clock's: wire first by default, app first with clock app; a row without a clock says why")
    func tablesOneClockEach() throws {
        for primary in [ProbeClock.wire, .app] {
            let report = CompareReport(target: "t", rounds: 40, methods: rows, notes: [], clock: primary)
            let text = CompareTable.render(report)
            let headings = text.split(separator: "\n").filter { $0.hasPrefix("wire clock:") || $0.hasPrefix("app clock:") }
            #expect(headings.first?.hasPrefix(primary.rawValue + " clock:") == true, "\(text)")
            for clock in [ProbeClock.wire, .app] {
                let cells = p50Cells(text, clock.rawValue + " clock:")
                for row in rows {
                    let expected = row[summary: clock].map { formatFixed(Double($0.p50) / 1000, 1) }
                    #expect(cells[row.method] == expected, "\(clock) table, \(row.method): \(cells)\n\(text)")
                }
            }
            #expect(text.contains("tcp-syn: no app clock: no user-space round trip"), "\(text)")
            #expect(text.contains("host overhead (app − wire) p50 24.0 µs: system calls and wake-ups on this host"), "\(text)")
            #expect(report.sentence.contains("By the wire clock, ICMP's p50 is") && report.sentence.contains("By the app clock, ICMP's p50 is"),
                    "\(report.sentence)")
        }
    }

    @Test("JSON: each row's clock, wire_rtt_ns and app_rtt_ns with exactly rtt_ns's keys, rtt_ns the wire clock's; a missing clock's reason")
    func json() throws {
        let report = CompareReport(target: "t", rounds: 40, methods: rows, notes: [], clock: .app)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        #expect(object["clock"] as? String == "app")
        let methods = try #require(object["methods"] as? [[String: Any]])
        for m in methods {
            let rtt = try #require(m["rtt_ns"] as? [String: Any])
            let wire = try #require(m["wire_rtt_ns"] as? [String: Any])
            #expect(Set(wire.keys) == Set(rtt.keys))
            #expect(wire["p50"] as? Int == rtt["p50"] as? Int)
            #expect(m["clock"] as? String == "wire")
            if m["method"] as? String == "tcp-syn" {
                #expect(m["app_rtt_ns"] == nil && m["app_clock_missing"] as? String != nil)
            } else {
                #expect(Set((m["app_rtt_ns"] as? [String: Any] ?? [:]).keys) == Set(rtt.keys))
            }
        }
        let overhead = try #require((object["host_overhead"] as? [String: Any])?["p50_ns"] as? Int)
        #expect(abs(overhead - 24_000) <= 100, "app p50 51 µs − wire p50 27 µs, within the histogram's precision: \(overhead)")
    }

    @Test("--from: a two-clock report merges back with both clocks; an older report with only its named clock; one naming none stays in the first table")
    func merge() throws {
        let report = CompareReport(target: "t", rounds: 40, methods: rows, notes: [])
        let back = try CompareMerge.rows(fromJSON: try JSONEncoder().encode(report), source: "new.json")
        #expect(back.map { $0.wireRTTNanoseconds } == rows.map { $0.wireRTTNanoseconds })
        #expect(back.map { $0.appRTTNanoseconds } == rows.map { $0.appRTTNanoseconds })
        #expect(back[1].appClockMissing == rows[1].appClockMissing)
        #expect(back[2].appRTTSamplesNanoseconds == rows[2].appRTTSamplesNanoseconds)

        let old = #"{"command":"probe","method":"tcp-syn","target":"x","samples":3,"clock":"kernel","rtt_ns":{"min":1,"p50":2,"p90":3,"p99":3,"p999":3,"max":3,"mean":2,"stddev":0.8}}"#
        let o = try CompareMerge.rows(fromJSON: Data(old.utf8), source: "old.json")
        #expect(o[0].wireRTTNanoseconds?.p50 == 2 && o[0].appRTTNanoseconds == nil && o[0].clock == "wire")
        let user = #"{"command":"client","method":"tcp-reqresp","target":"x","samples":3,"clock":"user","rtt_ns":{"min":1,"p50":2,"p90":3,"p99":3,"p999":3,"max":3,"mean":2,"stddev":0.8}}"#
        #expect(try CompareMerge.rows(fromJSON: Data(user.utf8), source: "u.json")[0].appRTTNanoseconds?.p50 == 2)
        let capture = #"{"command":"capture","target":"lo","methods":[{"method":"reqresp","samples":3,"rtt_ns":{"min":1,"p50":2,"p90":3,"p99":3,"p999":3,"max":3,"mean":2,"stddev":0.8}}]}"#
        #expect(try CompareMerge.rows(fromJSON: Data(capture.utf8), source: "c.json")[0].wireRTTNanoseconds?.p50 == 2)
        let unnamed = #"{"command":"client","method":"tcp-reqresp","target":"x","samples":3,"rtt_ns":{"min":1,"p50":2,"p90":3,"p99":3,"p999":3,"max":3,"mean":2,"stddev":0.8}}"#
        let u = try CompareMerge.rows(fromJSON: Data(unnamed.utf8), source: "n.json")
        let merged = CompareReport(target: "", rounds: 0, methods: u + back, notes: [], clock: .app)
        #expect(merged.rows(.app).first?.name == "tcp-reqresp (n.json) (clock unknown)")
        #expect(merged.rows(.wire).allSatisfy { !$0.name.contains("clock unknown") })
    }

    @Test("the page plots each clock apart: a CDF and a histogram per clock, each chart's ids its own")
    func pagePerClock() throws {
        let html = ComparePage.html(CompareReport(target: "t", rounds: 40, methods: rows, notes: []))
        #expect(html.components(separatedBy: "<svg").count - 1 == 4, "wire and app: two charts each")
        for id in ["cdf-wire-clip", "hist-wire-clip", "cdf-app-clip", "hist-app-clip"] {
            #expect(html.components(separatedBy: "id=\"\(id)\"").count == 2, "\(id) once")
        }
        #expect(html.contains(ComparePage.escape(ProbeClock.app.title)) && html.contains("tcp-syn: no app clock"))
    }

    @Test("--hgrm: a section per row and clock; parsed back, its percentiles are the JSON's within the histogram's precision")
    func hgrm() throws {
        let report = CompareReport(target: "t", rounds: 40, methods: rows, notes: [])
        let text = report.percentileDistributions
        var sections: [(header: String, points: [(Double, Double)])] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#[method=") { sections.append((String(line), [])); continue }
            let f = line.split(separator: " ")
            guard !line.hasPrefix("#"), f.count >= 3, let v = Double(f[0]), let p = Double(f[1]), !sections.isEmpty else { continue }
            sections[sections.count - 1].points.append((v, p))
        }
        #expect(sections.map(\.header) == ["#[method=icmp-echo clock=wire]", "#[method=icmp-echo clock=app]", "#[method=tcp-syn clock=wire]",
                                           "#[method=tcp-reqresp clock=wire]", "#[method=tcp-reqresp clock=app]"])
        for (header, points) in sections {
            let row = try #require(rows.first { header.contains("method=\($0.method) ") })
            let summary = try #require(row[summary: header.hasSuffix("clock=wire]") ? .wire : .app])
            for (percentile, expected) in [(0.5, summary.p50), (0.9, summary.p90), (0.99, summary.p99)] {
                let value = try #require(points.first { $0.1 >= percentile }).0 * 1e6
                #expect(abs(value - Double(expected)) <= Double(expected) * 0.002 + 1_000, "\(header) p\(percentile): \(value) vs \(expected)")
            }
        }
    }
}
