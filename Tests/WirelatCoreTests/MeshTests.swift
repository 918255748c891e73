import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import WirelatCore

private let reqrespWire = MeshSelection(method: "reqresp", clock: "wire", windowMilliseconds: 300_000)

private func sample(_ instance: String, _ target: String, _ value: Double) -> PrometheusSample {
    PrometheusSample(labels: ["instance": instance, "target": target], value: value)
}

/// A full matrix of `n` hosts 10.77.0.1…n with every p50 `base` µs and no loss, then `change` applied.
private func matrix(_ n: Int, base: Double = 50, change: (inout [[UInt64?]], inout [[Double?]]) -> Void = { _, _ in }) -> MeshMatrix {
    let hosts = (1 ... n).map { "10.77.0.\($0)" }
    var p50 = (0 ..< n).map { i in (0 ..< n).map { j in i == j ? nil : UInt64(base * 1000) } as [UInt64?] }
    var loss = (0 ..< n).map { i in (0 ..< n).map { j in i == j ? nil : 0.0 } as [Double?] }
    change(&p50, &loss)
    return MeshMatrix(selection: reqrespWire, hosts: hosts, p50Nanoseconds: p50, loss: loss)
}

@Suite("mesh: Prometheus URL and PromQL")
struct MeshQueryTests {
    @Test("http URLs: host, port, IPv6 brackets, route prefix")
    func urls() throws {
        #expect(try PrometheusURL(parsing: "http://127.0.0.1:9090") == PrometheusURL(host: "127.0.0.1", port: 9090))
        #expect(try PrometheusURL(parsing: "http://prom.example") == PrometheusURL(host: "prom.example", port: 80))
        #expect(try PrometheusURL(parsing: "HTTP://[::1]:9090/prom/") == PrometheusURL(host: "::1", port: 9090, pathPrefix: "/prom"))
        #expect(try PrometheusURL(parsing: "http://[fd00:77::1]:9090").description == "http://[fd00:77::1]:9090")
        #expect(try PrometheusURL(parsing: "http://[fd00:77::1]:9090").hostHeader == "[fd00:77::1]:9090")
        #expect(try PrometheusURL(parsing: "http://127.0.0.1:9090/").queryPath("up") == "/api/v1/query?query=up")
    }

    @Test("https, other schemes and bad ports are usage errors that say why", arguments: [
        ("https://127.0.0.1:9090", "https is not supported"),
        ("127.0.0.1:9090", "expected a URL such as http://127.0.0.1:9090"),
        ("http://127.0.0.1:99999", "is not a port"),
        ("http://127.0.0.1:0", "is not a port"),
        ("http://:9090", "names no host"),
        ("http://[::1:9090", "closing bracket"),
        ("http://u:p@127.0.0.1:9090", "user names"),
        ("http://127.0.0.1:9090/?x=1", "without a query"),
    ])
    func badURLs(text: String, message: String) {
        #expect(throws: MeshUsageError.self) { try PrometheusURL(parsing: text) }
        do {
            _ = try PrometheusURL(parsing: text)
        } catch {
            #expect(error.description.contains(message), "\(text): \(error)")
        }
    }

    @Test("the PromQL, and its percent-encoding (RFC 3986 unreserved characters stay)")
    func promQL() {
        #expect(reqrespWire.p50PromQL == #"histogram_quantile(0.5, sum by (instance, target, le) (rate(wirelat_rtt_histogram_seconds_bucket{method="reqresp",clock="wire"}[5m])))"#)
        #expect(reqrespWire.lossPromQL == #"(sum by (instance, target) (increase(wirelat_probes_total{method="reqresp",result!="ok"}[5m])) or (0 * sum by (instance, target) (increase(wirelat_probes_total{method="reqresp"}[5m])))) / sum by (instance, target) (increase(wirelat_probes_total{method="reqresp"}[5m]))"#)
        #expect(percentEncode(#"rate(x{m="a b"}[5m]) / ~_-."#) == "rate%28x%7Bm%3D%22a%20b%22%7D%5B5m%5D%29%20%2F%20~_-.")
        #expect(percentEncode("µ") == "%C2%B5")
        let quoted = MeshSelection(method: #"a"b\c"#, clock: "app", windowMilliseconds: 1000)
        #expect(quoted.p50PromQL.contains(#"method="a\"b\\c",clock="app"}[1s]"#))
        #expect(MeshSelection(method: "syn", clock: "wire", windowMilliseconds: 90_000).promRange == "90s")
        #expect(MeshSelection(method: "syn", clock: "wire", windowMilliseconds: 1500).promRange == "1500ms")
        #expect(MeshSelection(method: "syn", clock: "wire", windowMilliseconds: 7_200_000).promRange == "2h")
        #expect(MeshSelection(method: "syn", clock: "wire", windowMilliseconds: 60_000).windowSeconds == 60)
    }
}

@Suite("mesh: Prometheus' answers")
struct PrometheusAnswerTests {
    private func samples(_ json: String, status: Int = 200) throws(PrometheusAnswerError) -> [PrometheusSample] {
        try PrometheusAnswer.samples(from: Array(json.utf8), httpStatus: status, reason: status == 200 ? "OK" : "Not Found")
    }

    @Test("an instant vector, with NaN and +Inf values")
    func vector() throws {
        let got = try samples(#"""
        {"status":"success","data":{"resultType":"vector","result":[
          {"metric":{"instance":"10.77.0.1:9155","target":"10.77.0.2"},"value":[1765000000.123,"0.000075"]},
          {"metric":{"instance":"10.77.0.2:9155","target":"10.77.0.1"},"value":[1765000000.123,"NaN"]},
          {"metric":{},"value":[1765000000,"+Inf"]}]},"warnings":["x"]}
        """#)
        #expect(got.count == 3)
        #expect(got[0] == sample("10.77.0.1:9155", "10.77.0.2", 0.000075))
        #expect(got[1].value.isNaN)
        #expect(got[2].value == .infinity && got[2].labels.isEmpty)
        #expect(try samples(#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).isEmpty)
    }

    @Test("an error answer becomes one line with its type")
    func errorAnswer() {
        #expect(throws: PrometheusAnswerError.refused(errorType: "bad_data", message: "invalid parameter \"query\": 1:2: parse error")) {
            try samples(#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:2: parse error"}"#, status: 400)
        }
        let e = PrometheusAnswerError.refused(errorType: "bad_data", message: "parse error")
        #expect(e.description == "refused the query (bad_data): parse error")
    }

    @Test("anything else says it is not the query API")
    func notAPI() {
        #expect(throws: PrometheusAnswerError.notAPI(status: 404, reason: "Not Found")) { try samples("404 page not found\n", status: 404) }
        #expect(throws: PrometheusAnswerError.unexpectedResult("matrix")) {
            try samples(#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#)
        }
        #expect(PrometheusAnswerError.notAPI(status: 404, reason: "Not Found").description.contains("HTTP 404 Not Found"))
    }
}

@Suite("mesh: reading an HTTP/1.1 response in pieces")
struct HTTPResponseReaderTests {
    /// Feeds `bytes` split at `cut`, then ends the stream if the reader still waits.
    private func read(_ text: String, cut: Int, limit: Int = 1 << 20) throws(HTTPResponseError) -> HTTPResponse {
        let bytes = Array(text.utf8)
        var reader = HTTPResponseReader(maxBodyBytes: limit)
        if let r = try reader.feed(bytes[..<cut]) { return r }
        if let r = try reader.feed(bytes[cut...]) { return r }
        return try reader.finish()
    }

    @Test("Content-Length, cut at every offset")
    func contentLength() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":12345}"
        for cut in 0 ... text.utf8.count {
            let r = try read(text, cut: cut)
            #expect(r.status == 200 && r.reason == "OK" && r.headers["content-type"] == "application/json")
            #expect(String(decoding: r.body, as: UTF8.self) == "{\"a\":12345}", "cut at \(cut)")
        }
    }

    @Test("chunked, with an extension and a trailer, cut at every offset; a 100 Continue first")
    func chunked() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        for cut in 0 ... text.utf8.count {
            let r = try read(text, cut: cut)
            #expect(r.status == 200)
            #expect(String(decoding: r.body, as: UTF8.self) == "hello, world", "cut at \(cut)")
        }
    }

    @Test("a 4 MiB body in 100-byte chunks, fed 64 KiB at a time, as a socket delivers it")
    func manyChunks() throws {
        var wire = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var expected: [UInt8] = []
        for i in 0 ..< 41_943 {
            let piece = [UInt8](repeating: UInt8(ascii: "a") + UInt8(i % 26), count: 100)
            wire += Array("64\r\n".utf8) + piece + Array("\r\n".utf8)
            expected += piece
        }
        wire += Array("0\r\n\r\n".utf8)
        var reader = HTTPResponseReader(maxBodyBytes: 64 << 20)
        var response: HTTPResponse?
        var offset = 0
        while response == nil && offset < wire.count {
            let end = min(offset + 65_536, wire.count)
            response = try reader.feed(wire[offset ..< end])
            offset = end
        }
        #expect(response?.body == expected)
    }

    @Test("no length: the body runs to the end of the connection; 204 has none")
    func untilClose() throws {
        #expect(try read("HTTP/1.0 200 OK\r\n\r\nall of it", cut: 5).body == Array("all of it".utf8))
        #expect(try read("HTTP/1.1 204 No Content\r\n\r\n", cut: 3).body.isEmpty)
    }

    @Test("too large, cut short, or not HTTP")
    func failures() {
        #expect(throws: HTTPResponseError.tooLarge(limit: 4)) { try read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", cut: 10, limit: 4) }
        #expect(throws: HTTPResponseError.tooLarge(limit: 4)) { try read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", cut: 10, limit: 4) }
        #expect(throws: HTTPResponseError.tooLarge(limit: 4)) { try read("HTTP/1.1 200 OK\r\n\r\nhello", cut: 10, limit: 4) }
        #expect(throws: HTTPResponseError.truncated) { try read("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello", cut: 10) }
        #expect(throws: HTTPResponseError.truncated) { try read("HTTP/1.1 200 OK\r\nContent-Le", cut: 10) }
        #expect(throws: HTTPResponseError.self) { try read("SSH-2.0-OpenSSH_9.2\r\n", cut: 3) }
        #expect(throws: HTTPResponseError.self) { try read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", cut: 3) }
        #expect(throws: HTTPResponseError.self) { try read("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", cut: 3) }
    }
}

@Suite("mesh: hosts, the matrix, outliers")
struct MeshMatrixTests {
    @Test("an instance label's host: the port and IPv6 brackets go")
    func instanceHosts() {
        #expect(MeshHost.fromInstance("10.77.0.1:9155") == "10.77.0.1")
        #expect(MeshHost.fromInstance("[fd00:77::1]:9155") == "fd00:77::1")
        #expect(MeshHost.fromInstance("db01.example:9155") == "db01.example")
        #expect(MeshHost.fromInstance("db01") == "db01")
        #expect(MeshHost.fromInstance("fd00:77::1") == "fd00:77::1")
        #expect(MeshHost.fromTarget("[fd00:77::2]") == "fd00:77::2")
        #expect(MeshHost.fromTarget("10.77.0.2") == "10.77.0.2")
    }

    @Test("IPv4 in numeric order, then IPv6 in numeric order, then names")
    func order() {
        let sorted = MeshHost.sorted(["db01", "10.77.0.10", "fd00:77::10", "10.77.0.9", "fd00:77::2", "10.0.0.1", "app", "::ffff:1.2.3.4", "256.1.1.1"])
        #expect(sorted == ["10.0.0.1", "10.77.0.9", "10.77.0.10", "::ffff:1.2.3.4", "fd00:77::2", "fd00:77::10", "256.1.1.1", "app", "db01"])
    }

    @Test("building: union of rows and columns, nulls, the diagonal, NaN left out, two ports fold")
    func build() {
        let m = MeshMatrix.build(selection: reqrespWire, p50: [
            sample("10.77.0.1:9155", "10.77.0.2", 0.000051),
            sample("10.77.0.2:9155", "10.77.0.1", 0.000049),
            sample("10.77.0.2:9155", "10.77.0.2", 0.000010),
            sample("10.77.0.2:9156", "10.77.0.1", 0.000060),
            sample("[fd00:77::3]:9155", "10.77.0.1", .nan),
            sample("10.77.0.1:9155", "db01", 0.0002),
            PrometheusSample(labels: ["target": "10.77.0.1"], value: 1),
        ], loss: [
            sample("10.77.0.1:9155", "10.77.0.2", 0),
            sample("[fd00:77::3]:9155", "[fd00:77::1]", 0.25),
            sample("10.77.0.1:9155", "db01", 1.0000001),
        ])
        #expect(m.hosts == ["10.77.0.1", "10.77.0.2", "fd00:77::1", "fd00:77::3", "db01"])
        #expect(m.p50Nanoseconds[0] == [nil, 51_000, nil, nil, 200_000])
        #expect(m.p50Nanoseconds[1] == [60_000, nil, nil, nil, nil], "the diagonal stays null; the larger of two agents on one host")
        #expect(m.p50Nanoseconds[3] == [nil, nil, nil, nil, nil], "NaN: no samples in the window")
        #expect(m.loss[0] == [nil, 0, nil, nil, 1])
        #expect(m.loss[3][2] == 0.25)
        #expect(!m.isEmpty)
        #expect(MeshMatrix.build(selection: reqrespWire, p50: [], loss: []).isEmpty)
    }

    @Test("a bad link is the one outlier; a bad host is a stripe, not a list of outliers")
    func outliers() {
        let badLink = matrix(5) { p50, _ in p50[1][3] = 400_000 }
        #expect(badLink.outliers.map { [$0.from, $0.to] } == [["10.77.0.2", "10.77.0.4"]])
        #expect(badLink.outliers.first?.why == "p50 400.0 µs, 8.0× the larger of its row's median 50.0 µs and its column's 50.0 µs")
        let badHost = matrix(5) { p50, _ in
            for k in 0 ..< 5 where k != 2 {
                p50[2][k] = 400_000
                p50[k][2] = 400_000
            }
        }
        #expect(badHost.outliers.isEmpty, "\(badHost.outliers)")
        // Far in ratio but not in µs: 1.5 × 20 µs is only 10 µs more.
        #expect(matrix(5, base: 20) { p50, _ in p50[0][1] = 60_000 }.outliers.isEmpty)
        // Three hosts: the rest of the row and column is one cell each.
        #expect(matrix(3) { p50, _ in p50[0][1] = 200_000 }.outliers.map(\.column) == [1])
    }

    @Test("loss stands out only where its row and column are clean")
    func lossOutliers() {
        let lossy = matrix(4) { _, loss in loss[2][0] = 0.05 }
        #expect(lossy.outliers.map { [$0.row, $0.column] } == [[2, 0]])
        #expect(lossy.outliers.first?.why == "loss 5.0% where its row's median is 0.0% and its column's 0.0%")
        let lossyHost = matrix(4) { _, loss in for k in 0 ..< 4 where k != 2 { loss[2][k] = 0.05 } }
        #expect(lossyHost.outliers.isEmpty)
        #expect(matrix(4) { _, loss in loss[2][0] = 0.01 }.outliers.isEmpty, "1% is the line, not over it")
    }
}

@Suite("mesh: text, JSON and page")
struct MeshRenderingTests {
    @Test("the text tables, marks and legend")
    func text() {
        let m = matrix(3) { p50, loss in
            p50[0][1] = 412_300
            loss[1][2] = 0.005
            loss[2][1] = 0.02
            p50[2][0] = nil
            loss[2][0] = nil
        }
        let text = MeshReport(matrix: m, prometheus: "http://127.0.0.1:9090").text
        let expected = """
        Pingmesh: TCP request/response RTT (method reqresp, wire clock: kernel timestamps, request TX → reply RX), last 5m, from http://127.0.0.1:9090
        row = the probing agent's host, column = the target; 3 hosts

        p50 round trip (µs)
                       1     2     3
        1 10.77.0.1    ·   412* 50.0
        2 10.77.0.2 50.0     ·  50.0~
        3 10.77.0.3    -  50.0!    ·

        loss (% of probes that did not succeed)
                       1     2     3
        1 10.77.0.1    ·     0*    0
        2 10.77.0.2    0     ·   0.5
        3 10.77.0.3    -   2.0     ·

        """
        #expect(text.hasPrefix(expected), "\(text)")
        #expect(text.contains("\n* outlier: p50 > 1.5 × the larger of the median p50 of the other cells in its row and in its column, and more than 50 µs above it; or loss > 1% while"))
        #expect(text.hasSuffix("outliers:\n  10.77.0.1 → 10.77.0.2: p50 412.3 µs, 8.2× the larger of its row's median 50.0 µs and its column's 50.0 µs\n"))
    }

    @Test("sixteen hosts fit in 120 columns; long names are cut and listed")
    func width() {
        var m = matrix(16, base: 12_345)
        m.hosts[15] = "fd00:77:1234:5678::16"
        let text = MeshReport(matrix: m, prometheus: "http://127.0.0.1:9090").text
        let table = text.split(separator: "\n").filter { $0.contains("12ms") || $0.hasPrefix("     ") }
        #expect(!table.isEmpty)
        for line in text.split(separator: "\n") where !line.hasPrefix("* ") && !line.hasPrefix("Pingmesh") {
            #expect(line.count <= 120, "\(line.count) columns: \(line)")
        }
        #expect(text.contains("\n16 fd00:77:1234:5678… 12ms  12ms"))
        #expect(text.contains("hosts: 16 = fd00:77:1234:5678::16\n"))
        #expect(MeshReport.microsecondsCell(9.87) == "9.87" && MeshReport.microsecondsCell(4120) == "4120")
        #expect(MeshReport.microsecondsCell(260_000) == "0.3s" && MeshReport.microsecondsCell(15_000_000) == "15s")
        #expect(MeshReport.percentCell(0.0001) == "<0.1" && MeshReport.percentCell(1) == "100" && MeshReport.percentCell(0.125) == "12.5")
    }

    @Test("JSON: the fixed keys, null where there is no data")
    func json() throws {
        let m = matrix(3) { p50, loss in
            p50[0][1] = 412_300
            p50[2][0] = nil
            loss[2][0] = nil
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(MeshReport(matrix: m, prometheus: "http://127.0.0.1:9090"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["command"] as? String == "mesh" && object["method"] as? String == "reqresp" && object["clock"] as? String == "wire")
        #expect(object["window_s"] as? Double == 300)
        #expect(object["hosts"] as? [String] == ["10.77.0.1", "10.77.0.2", "10.77.0.3"])
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""p50_ns":[[null,412300,50000],[50000,null,50000],[null,50000,null]]"#), "\(text)")
        #expect(text.contains(#""loss":[[null,0,0],[0,null,0],[null,0,null]]"#), "\(text)")
        let outliers = try #require(object["outliers"] as? [[String: Any]])
        try #require(outliers.count == 1, "\(outliers)")
        #expect(outliers[0]["from"] as? String == "10.77.0.1" && outliers[0]["p50_ns"] as? Int == 412_300)
        #expect(outliers[0]["loss"] as? Int == 0)
        #expect((object["queries"] as? [String: String])?["p50"] == reqrespWire.p50PromQL)
    }

    @Test("the page: a heatmap table, outliers outlined, well-formed, nothing loaded")
    func page() throws {
        let m = matrix(4) { p50, loss in
            p50[1][3] = 400_000
            p50[3][0] = 70_000
            loss[0][2] = 0.02
            p50[2][0] = nil
            loss[2][0] = nil
        }
        let html = MeshPage.html(MeshReport(matrix: m, prometheus: "http://127.0.0.1:9090"))
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        #expect(html.components(separatedBy: "class=\"outlier\"").count == 3, "two outlined cells: a slow link and a lossy one")
        #expect(html.contains("style=\"background: #f46d43\""), "the slowest cell is red")
        #expect(html.contains("style=\"background: #66bd63\""), "the fastest cells are green")
        #expect(html.contains("<td class=\"none\""))
        #expect(html.contains("<span class=\"lossy\">2.0%</span>"))
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href="))
        let parser = XMLParser(data: Data(html.utf8))
        #expect(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
    }
}
