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

    @Test("the page is well-formed, self-contained (no script, no http(s) src/href), with two SVG charts and the table")
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
            #expect(walker.elements.contains("table"))
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
