import Foundation
import Synchronization
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatKit
import WirelatTestSupport

/// A MetricsHTTPServer on 127.0.0.1, an ephemeral port, on the thread `start()` makes.
final class MetricsServerHarness: Sendable {
    let server: MetricsHTTPServer

    init(limits: MetricsHTTPServer.Limits, handler: @escaping MetricsHTTPServer.Handler) throws {
        ignoreSIGPIPE()
        server = try MetricsHTTPServer(host: "127.0.0.1", port: 0, limits: limits, handler: handler)
        try server.start()
    }

    var port: UInt16 { server.boundPort }

    /// Stops the server: its thread closes every connection and ends; false if that took
    /// more than 5 s.
    func stop() async -> Bool {
        let server = self.server
        let ended = await onThread("stop-metrics-server", timeout: .seconds(5)) { server.stop() } != nil
        #expect(server.failure == nil, "the server's loop failed: \(server.failure ?? "")")
        return ended
    }

    /// Waits until the server's counters satisfy `condition`; the last counters seen.
    func waitUntil(_ condition: (HTTPServerStats) -> Bool) async -> (Bool, HTTPServerStats) {
        let ok = await eventually(timeout: .seconds(5)) { condition(server.stats) }
        return (ok, server.stats)
    }
}

/// Runs `body` against a fresh server, which is stopped also when `body` fails.
func withMetricsServer(_ configure: (inout MetricsHTTPServer.Limits) -> Void = { _ in },
                       handler: @escaping MetricsHTTPServer.Handler = MetricsHTTPTests.handler(for: MetricsHTTPTests.sharedMetrics),
                       _ body: (MetricsServerHarness) async throws -> Void) async throws {
    var limits = MetricsHTTPServer.Limits()
    configure(&limits)
    let harness = try MetricsServerHarness(limits: limits, handler: handler)
    do {
        try await body(harness)
    } catch {
        _ = await harness.stop()
        throw error
    }
    #expect(await harness.stop(), "the server's thread did not end within 5 s")
    #expect(socketDescriptors(onLocalPort: harness.port) == 0, "the listener and every connection are closed")
}

/// An HTTP response as a test reads it.
struct TestResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A loopback client that speaks just enough HTTP/1.1, every wait bounded.
final class HTTPTestClient {
    let connection: RawConnection
    private var buffer: [UInt8] = []

    init(port: UInt16) throws {
        connection = try RawConnection(port: port)
    }

    func send(_ text: String) throws { try connection.send(Array(text.utf8)) }

    /// Reads more bytes into the buffer; false on end of stream, reset or timeout.
    private func fill(deadline: UInt64) -> Bool {
        let now = monotonicNanoseconds()
        guard now < deadline, connection.poll(Int16(POLLIN), Int32((deadline - now) / 1_000_000) + 1) else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        guard let result = try? chunk.withUnsafeMutableBytes({ try connection.socket.read(into: $0) }) else { return false }
        switch result {
        case .processed(0): return false
        case .processed(let n):
            buffer += chunk[0..<n]
            return true
        case .wouldBlock: return true
        }
    }

    /// Reads one response; `head` true for the answer to a HEAD (no body follows).
    func response(head: Bool = false, timeoutMilliseconds: UInt64 = 5000) throws -> TestResponse {
        let deadline = monotonicNanoseconds() + timeoutMilliseconds * 1_000_000
        var end: Int?
        while end == nil {
            if let i = (0..<max(0, buffer.count - 3)).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10 }) {
                end = i + 4
            } else if !fill(deadline: deadline) {
                throw TestFailure("no whole response head; got \(String(decoding: buffer, as: UTF8.self).debugDescription)")
            }
        }
        let headText = String(decoding: buffer[0..<end!], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else { throw TestFailure("bad status line: \(headText)") }
        var headers: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        buffer.removeFirst(end!)
        let length = head ? 0 : Int(headers["content-length"] ?? "") ?? 0
        while buffer.count < length {
            guard fill(deadline: deadline) else { throw TestFailure("body cut short: \(buffer.count) of \(length) bytes") }
        }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return TestResponse(status: status, headers: headers, body: body)
    }

    /// True when the server closed the connection within the timeout (bytes still
    /// buffered are ignored); also true after a reset.
    func closedByServer(timeoutMilliseconds: Int32) -> Bool {
        buffer = []
        return connection.readUntilClosed(timeoutMilliseconds: timeoutMilliseconds).closed
    }

    /// Nothing arrived and the connection is still open after `milliseconds`.
    func staysOpen(milliseconds: Int32) -> Bool {
        !connection.poll(Int16(POLLIN), milliseconds)
    }
}

/// The agent metrics a test serves, behind a lock as the agent runtime holds it.
final class LockedMetrics: Sendable {
    let metrics: Mutex<AgentMetrics>
    init(_ m: sending AgentMetrics) { metrics = Mutex(m) }
}

@Suite("The metrics endpoint", .serialized)
struct MetricsHTTPTests {
    static let second: UInt64 = 1_000_000_000

    /// Several targets, both clocks, probe outcomes, passive RTTs, capture counters and reloads.
    static func populatedMetrics() -> AgentMetrics {
        let m = AgentMetrics(version: "0.9.0-test", summaryWindowNanoseconds: 60 * second)
        let now = 1000 * second
        for (t, target) in ["db01", "10.77.0.2", "fd00:77::3", "odd \"name\" \\ with\nnewline"].enumerated() {
            for (k, method) in ["reqresp", "syn", "connect", "icmp"].enumerated() {
                for i in 0..<300 {
                    let wire = UInt64(20_000 + t * 40_000 + k * 3_000 + (i * 7919) % 9_000)
                    m.recordRTT(target: target, method: method, clock: "wire", nanoseconds: wire, now: now - UInt64(i) * 100_000_000)
                    m.recordRTT(target: target, method: method, clock: "app", nanoseconds: wire + 25_000, now: now - UInt64(i) * 100_000_000)
                    m.countProbe(target: target, method: method, result: i % 100 == 7 ? .timeout : (i % 150 == 9 ? .reset : .ok))
                }
            }
        }
        m.countProbe(target: "db01", method: "syn", result: .refused)
        for i in 0..<1000 {
            m.recordPassiveRTT(interface: "eth0", method: ["reqresp", "handshake", "ack"][i % 3], nanoseconds: UInt64(15_000 + i * 37))
            m.recordPassiveRTT(interface: "lo", method: "tsecr", nanoseconds: UInt64(5_000 + i * 11))
        }
        m.setCaptureCounters(interface: "eth0", received: 1_000_000, dropped: 12)
        m.setCaptureCounters(interface: "lo", received: 3000, dropped: 0)
        m.countReload(success: false)
        m.countReload(success: true)
        return m
    }

    static let sharedMetrics = LockedMetrics(populatedMetrics())

    /// promtool's lint says a name should not contain its type; INTERFACE.md fixes
    /// `wirelat_rtt_histogram_seconds` all the same.
    static let lintOfFixedName = "wirelat_rtt_histogram_seconds metric name should not include type 'histogram'"

    static func handler(for locked: LockedMetrics) -> MetricsHTTPServer.Handler {
        MetricsHTTPServer.agentRoutes(
            metrics: { locked.metrics.withLock { $0.render(now: 1000 * second) } },
            statusPage: { locked.metrics.withLock { $0.statusPage(now: 1000 * second, title: "wirelat agent") } })
    }

    @Test("/metrics answers 200 with the exposition, and promtool check metrics accepts it")
    func metricsPassPromtool() async throws {
        try await withMetricsServer { harness in
            let client = try HTTPTestClient(port: harness.port)
            try client.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Prometheus/2.42.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n")
            let r = try client.response()
            #expect(r.status == 200)
            #expect(r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(r.text.contains("wirelat_rtt_seconds{target=\"db01\",method=\"syn\",clock=\"wire\",quantile=\"0.99\"}"))
            #expect(r.text.contains("wirelat_passive_rtt_seconds_bucket{interface=\"eth0\",method=\"ack\",le=\"+Inf\"}"))
            #expect(r.text.contains("wirelat_http_requests_total"), "the server's own counters follow")

            let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirelat-metrics-\(getpid())-\(harness.port).txt").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(r.body).write(to: URL(fileURLWithPath: path))
            let check = try runProcess("/bin/sh", ["-c", "exec /usr/bin/promtool check metrics < '\(path)'"])
            // promtool exits 1 for text it cannot parse and 3 for lint complaints. The one
            // complaint allowed is about a name INTERFACE.md fixes.
            let complaints = check.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            #expect(check.status == 0 || check.status == 3, "promtool check metrics: exit \(check.status): \(check.output)")
            #expect(complaints.allSatisfy { $0 == MetricsHTTPTests.lintOfFixedName }, "promtool's complaints: \(complaints)")
        }
    }

    @Test("a real Prometheus scrapes /metrics over one kept-alive connection and answers queries on what it scraped")
    func realPrometheusScrape() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"), "scripts/setup installs prometheus")
        try await withMetricsServer { harness in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wirelat-prom-\(getpid())-\(harness.port)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let config = """
                global: {scrape_interval: 1s, scrape_timeout: 1s}
                scrape_configs:
                  - job_name: wirelat
                    static_configs: [{targets: ["127.0.0.1:\(harness.port)"]}]

                """
            try config.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
            let webPort = try closedPort()
            let pid = try spawnProcess("/usr/bin/prometheus", [
                "--config.file", dir + "/prometheus.yml", "--storage.tsdb.path", dir + "/data",
                "--web.listen-address", "127.0.0.1:\(webPort)",
            ], streams: ChildStreams(outputPath: dir + "/prometheus.log"))
            defer {
                sendSignal(.terminate, to: pid)
                _ = try? waitForChild(pid)
            }
            /// The first value of an instant query, nil until Prometheus has one.
            func query(_ promql: String) -> Double? {
                guard let client = try? HTTPTestClient(port: webPort),
                      let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics),
                      (try? client.send("GET /api/v1/query?query=\(encoded) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) != nil,
                      let r = try? client.response(), r.status == 200,
                      let json = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
                      let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                      let value = result.first?["value"] as? [Any], let text = value.last as? String else { return nil }
                return Double(text)
            }
            let up = await eventually(timeout: .seconds(30)) { query("up{job=\"wirelat\"}") == 1 && query("wirelat_build_info") == 1 }
            let log = (try? String(contentsOfFile: dir + "/prometheus.log", encoding: .utf8)) ?? ""
            try #require(up, "Prometheus never scraped the endpoint; its log: \(log.suffix(2000))")
            #expect(query("wirelat_rtt_seconds_count{target=\"db01\",method=\"syn\",clock=\"wire\"}") == 300)
            #expect(query("wirelat_probes_total{target=\"db01\",method=\"syn\",result=\"refused\"}") == 1)
            let summaryMedian = try #require(query("wirelat_rtt_seconds{target=\"10.77.0.2\",method=\"icmp\",clock=\"app\",quantile=\"0.5\"}"))
            let histogramMedian = try #require(query("histogram_quantile(0.5, wirelat_rtt_histogram_seconds_bucket{target=\"10.77.0.2\",method=\"icmp\",clock=\"app\"})"))
            #expect(abs(histogramMedian - summaryMedian) <= 0.1 * summaryMedian, "histogram \(histogramMedian) s, summary \(summaryMedian) s")
            let bucketSeries = query("count(wirelat_rtt_histogram_seconds_bucket{target=\"db01\",method=\"syn\"})")
            // Two clocks, each the run of buckets its samples fill (plus the empty one below
            // and +Inf), not all 152 of the bounds.
            #expect(bucketSeries.map { $0 >= 2 * 3 && $0 < 2 * 152 } == true, "two clocks' buckets: \(String(describing: bucketSeries))")
            // Several scrapes on few connections: Prometheus keeps its connection open.
            let (scraped, stats) = await harness.waitUntil { $0.requests(200) >= 4 }
            #expect(scraped, "\(stats)")
            #expect(stats.connectionsAccepted <= 2, "one connection per scrape would be \(stats.requests(200)): \(stats)")
            #expect(query("scrape_samples_scraped{job=\"wirelat\"}").map { $0 > 4 * 4 * 20 } == true)
        }
    }

    @Test("keep-alive: three requests on one connection; HEAD has no body; 404; 405 with Allow; HTTP/1.0 closes")
    func keepAliveAndMethods() async throws {
        try await withMetricsServer { harness in
            let client = try HTTPTestClient(port: harness.port)
            for path in ["/metrics", "/-/healthy", "/"] {
                try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                let r = try client.response()
                #expect(r.status == 200, "\(path)")
                #expect(r.headers["connection"] == nil, "\(path) keeps the connection")
                if path == "/" {
                    #expect(r.headers["content-type"]?.hasPrefix("text/html") == true)
                    #expect(r.text.contains("<table>") && r.text.contains("db01"))
                }
                if path == "/-/healthy" { #expect(r.text == "Healthy\n") }
            }
            try client.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.response(head: true)
            #expect(head.status == 200)
            #expect(Int(head.headers["content-length"] ?? "0")! > 1000, "HEAD announces the GET's length")
            // The next bytes are the next answer's: HEAD sent no body.
            try client.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            let notFound = try client.response()
            #expect(notFound.status == 404)
            try client.send("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            let notAllowed = try client.response()
            #expect(notAllowed.status == 405)
            #expect(notAllowed.headers["allow"] == "GET, HEAD")
            // Two requests in one write (pipelining): both answered, in order.
            try client.send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\nGET /nope2 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.response().status == 200)
            #expect(try client.response().status == 404)
            #expect(client.staysOpen(milliseconds: 100))

            let old = try HTTPTestClient(port: harness.port)
            try old.send("GET /-/healthy HTTP/1.0\r\n\r\n")
            let r = try old.response()
            #expect(r.status == 200 && r.headers["connection"] == "close")
            #expect(old.closedByServer(timeoutMilliseconds: 2000))

            let (ok, stats) = await harness.waitUntil { $0.requests(200) == 6 && $0.requests(404) == 2 && $0.requests(405) == 1 }
            #expect(ok, "\(stats)")
            #expect(stats.connectionsDropped.values.reduce(0, +) == 0, "nothing was dropped: \(stats)")
        }
    }

    @Test("200 requests pipelined in one write are all answered, in order")
    func pipelinedBurst() async throws {
        try await withMetricsServer { harness in
            let client = try HTTPTestClient(port: harness.port)
            var burst = ""
            for i in 0..<200 { burst += i % 2 == 0 ? "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n" : "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n" }
            try client.send(burst)
            for i in 0..<200 {
                let r = try client.response(head: i % 2 == 1)
                #expect(r.status == (i % 2 == 0 ? 200 : 404), "answer \(i)")
            }
            let (ok, stats) = await harness.waitUntil { $0.requests(200) == 100 && $0.requests(404) == 100 }
            #expect(ok, "\(stats)")
        }
    }

    @Test("a keep-alive connection with no new request within the head timeout is closed as idle")
    func idleKeepAlive() async throws {
        try await withMetricsServer({ $0.headTimeoutNanoseconds = 300_000_000 }) { harness in
            let client = try HTTPTestClient(port: harness.port)
            try client.send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.response().status == 200)
            #expect(client.closedByServer(timeoutMilliseconds: 3000))
            let (ok, stats) = await harness.waitUntil { $0.dropped(.idle) == 1 && $0.openConnections == 0 }
            #expect(ok, "\(stats)")
            #expect(stats.dropped(.headTimeout) == 0)
        }
    }

    @Test("with a keep-alive idle time, a connection outlives the head timeout between requests, and a request begun then still has only the head timeout")
    func keepAliveIdleTime() async throws {
        try await withMetricsServer({ $0.headTimeoutNanoseconds = 300_000_000; $0.keepAliveIdleNanoseconds = 5_000_000_000 }) { harness in
            let client = try HTTPTestClient(port: harness.port)
            try client.send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.response().status == 200)
            #expect(client.staysOpen(milliseconds: 900), "closed between requests, three head timeouts after the answer")
            try client.send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.response().status == 200)
            // Half a request: the head timeout, not the idle time, applies.
            try client.send("GET /-/healthy HTTP/1.1\r\n")
            let start = monotonicNanoseconds()
            #expect(client.closedByServer(timeoutMilliseconds: 4000))
            #expect((monotonicNanoseconds() - start) / 1_000_000 < 2500)
            let (ok, stats) = await harness.waitUntil { $0.dropped(.headTimeout) == 1 && $0.openConnections == 0 }
            #expect(ok, "\(stats)")
        }
    }

    @Test("a request head over 8 KiB gets 431 and the connection closes")
    func oversizedHead() async throws {
        try await withMetricsServer { harness in
            let client = try HTTPTestClient(port: harness.port)
            let filler = String(repeating: "X-Filler: " + String(repeating: "a", count: 100) + "\r\n", count: 90)
            try client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n" + filler + "\r\n")
            let r = try client.response()
            #expect(r.status == 431)
            #expect(r.headers["connection"] == "close")
            #expect(client.closedByServer(timeoutMilliseconds: 3000))
            let (ok, stats) = await harness.waitUntil { $0.dropped(.headTooLarge) == 1 && $0.openConnections == 0 }
            #expect(ok, "\(stats)")
        }
    }

    @Test("a client that trickles its head a byte at a time is closed when the head timeout passes")
    func tricklingClient() async throws {
        try await withMetricsServer({ $0.headTimeoutNanoseconds = 300_000_000 }) { harness in
            let client = try HTTPTestClient(port: harness.port)
            let start = monotonicNanoseconds()
            var closed = false
            // A byte every 50 ms would take 2 s for this head; the server must not wait that long.
            for byte in "GET /metrics HTTP/1.1\r\nHost: trickle.example\r\n".utf8 {
                if (try? client.connection.send([byte])) == nil || client.connection.poll(Int16(POLLIN), 50) {
                    closed = true
                    break
                }
            }
            if !closed { closed = client.closedByServer(timeoutMilliseconds: 3000) }
            let elapsedMilliseconds = (monotonicNanoseconds() - start) / 1_000_000
            #expect(closed, "still open after \(elapsedMilliseconds) ms")
            #expect(elapsedMilliseconds < 1500, "closed after \(elapsedMilliseconds) ms with a 300 ms head timeout")
            let (ok, stats) = await harness.waitUntil { $0.dropped(.headTimeout) == 1 && $0.openConnections == 0 }
            #expect(ok, "\(stats)")
            #expect(stats.requestsByCode.isEmpty, "no answer to half a request: \(stats)")
        }
    }

    @Test("garbage gets 400 and a close; a request with a body gets 413 and a close")
    func garbageAndBodies() async throws {
        try await withMetricsServer { harness in
            // A TLS ClientHello's first bytes, then random bytes.
            for garbage in [[UInt8]([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]),
                            Array("SSH-2.0-OpenSSH_9.2\r\n".utf8),
                            Array("GET /metrics\r\n\r\n".utf8)] {
                let client = try HTTPTestClient(port: harness.port)
                try client.connection.send(garbage)
                let r = try client.response()
                #expect(r.status == 400, "\(garbage)")
                #expect(client.closedByServer(timeoutMilliseconds: 3000))
            }
            for request in ["POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
                            "PUT /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"] {
                let client = try HTTPTestClient(port: harness.port)
                try client.send(request)
                #expect(try client.response().status == 413)
                #expect(client.closedByServer(timeoutMilliseconds: 3000))
            }
            let (ok, stats) = await harness.waitUntil { $0.dropped(.badRequest) == 3 && $0.dropped(.requestBody) == 2 && $0.openConnections == 0 }
            #expect(ok, "\(stats)")
            // The server still serves.
            let client = try HTTPTestClient(port: harness.port)
            try client.send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.response().status == 200)
        }
    }

    @Test("1,000 idle connections do not lock out a scrape: the oldest idle ones are closed to make room")
    func thousandIdleConnections() async throws {
        try #require(raiseDescriptorLimit() > 2 * 1000 + 200, "this test needs 2,200 descriptors")
        try await withMetricsServer { harness in
            var idle: [RawConnection] = []
            for _ in 0..<1000 { idle.append(try RawConnection(port: harness.port)) }
            // Half of them have said half a request: they hold no complete request either.
            for c in idle.prefix(500) { try c.send(Array("GET /metrics HTTP/1.1\r\n".utf8)) }
            let (settled, counted) = await harness.waitUntil { $0.connectionsAccepted == 1000 }
            #expect(settled, "\(counted)")
            let start = monotonicNanoseconds()
            let scrape = try HTTPTestClient(port: harness.port)
            try scrape.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            let r = try scrape.response()
            #expect(r.status == 200)
            #expect(r.text.contains("wirelat_build_info"))
            let milliseconds = (monotonicNanoseconds() - start) / 1_000_000
            #expect(milliseconds < 2000, "the scrape took \(milliseconds) ms")
            let stats = harness.server.stats
            #expect(stats.openConnections <= 256, "\(stats)")
            #expect(stats.dropped(.evicted) >= 1001 - 256, "\(stats)")
            // The oldest were the ones closed.
            #expect(idle.first!.readUntilClosed(timeoutMilliseconds: 1000).closed)
            #expect(!idle.last!.poll(Int16(POLLIN), 0), "the newest idle connection is still open")
            idle.removeAll()
        }
    }

    @Test("a client that never reads its response is closed when the response timeout passes")
    func clientThatNeverReads() async throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 16 << 20)
        try await withMetricsServer({ $0.responseTimeoutNanoseconds = 300_000_000 },
                                    handler: { _ in (200, "text/plain", big) }) { harness in
            let client = try HTTPTestClient(port: harness.port)
            try client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            let (ok, stats) = await harness.waitUntil { $0.dropped(.slowReader) == 1 && $0.openConnections == 0 }
            #expect(ok, "\(stats)")
            #expect(client.closedByServer(timeoutMilliseconds: 3000))
        }
    }

    @Test("a response larger than the output bound closes the connection")
    func outputBound() async throws {
        try await withMetricsServer({ $0.outputBytes = 1 << 20 },
                                    handler: { _ in (200, "text/plain", [UInt8](repeating: 0x41, count: 2 << 20)) }) { harness in
            let client = try HTTPTestClient(port: harness.port)
            try client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(client.closedByServer(timeoutMilliseconds: 3000))
            let (ok, stats) = await harness.waitUntil { $0.dropped(.responseTooLarge) == 1 }
            #expect(ok, "\(stats)")
        }
    }

    @Test("a port in use is a one-line error that says so")
    func portInUse() async throws {
        try await withMetricsServer { harness in
            do {
                _ = try MetricsHTTPServer(host: "127.0.0.1", port: harness.port, handler: { _ in (200, "text/plain", []) })
                Issue.record("a second server bound the same port")
            } catch {
                #expect("\(error)".contains("in use"), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
    }
}
