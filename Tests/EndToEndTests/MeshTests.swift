import Foundation
import Testing
@preconcurrency import Glibc

// `wirelat mesh` against a real Prometheus, which scrapes small fake agents: python3 HTTP
// servers whose /metrics grow on every scrape with a known distribution per target.

/// The fake agent: `python3 agent.py CONFIG.json INDEX`. It serves /metrics on the
/// agent's loopback port; on every scrape each target's histogram gains `samples`
/// round trips, all in bucket `bucket` (so histogram_quantile's p50 is that bucket's
/// middle), and its probe counters gain `ok` successes and `fail` timeouts. An app-clock
/// series in the slowest bucket and a `syn` series check that the queries filter. The
/// scrape count goes to SCRATCH/agentINDEX.scrapes.
private let fakeAgentScript = #"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

config = json.load(open(sys.argv[1]))
index = int(sys.argv[2])
agent = config["agents"][index]
bounds = config["bounds"]
lock = threading.Lock()
scrapes = 0

def labels(**kv):
    return "{" + ",".join('%s="%s"' % (k, v) for k, v in kv.items()) + "}"

def histogram(out, target, method, clock, bucket, count):
    cumulative = 0
    for i, le in enumerate(bounds + ["+Inf"]):
        if i == bucket:
            cumulative = count
        out.append("wirelat_rtt_histogram_seconds_bucket%s %d" % (labels(target=target, method=method, clock=clock, le=le), cumulative))
    middle = (bounds[bucket - 1] if bucket > 0 else 0) / 2 + bounds[bucket] / 2
    out.append("wirelat_rtt_histogram_seconds_sum%s %.9f" % (labels(target=target, method=method, clock=clock), count * middle))
    out.append("wirelat_rtt_histogram_seconds_count%s %d" % (labels(target=target, method=method, clock=clock), count))

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global scrapes
        if self.path != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        with lock:
            scrapes += 1
            n = scrapes
        out = ["# TYPE wirelat_rtt_histogram_seconds histogram"]
        for t in agent["targets"]:
            histogram(out, t["target"], "reqresp", "wire", t["bucket"], n * t["samples"])
            histogram(out, t["target"], "reqresp", "app", len(bounds) - 1, n * t["samples"])
            histogram(out, t["target"], "syn", "wire", 0, n * t["samples"])
        out.append("# TYPE wirelat_probes_total counter")
        for t in agent["targets"]:
            out.append("wirelat_probes_total%s %d" % (labels(target=t["target"], method="reqresp", result="ok"), n * t["ok"]))
            if t["fail"] > 0:
                out.append("wirelat_probes_total%s %d" % (labels(target=t["target"], method="reqresp", result="timeout"), n * t["fail"]))
            out.append("wirelat_probes_total%s %d" % (labels(target=t["target"], method="syn", result="ok"), n * t["ok"]))
        body = ("\n".join(out) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(config["scratch"] + "/agent%d.scrapes" % index, "w") as f:
            f.write(str(n))

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", agent["port"]), Handler).serve_forever()
"""#

/// The histogram's upper bounds (seconds); bucket 1 is (50 µs, 100 µs], p50 75 µs;
/// bucket 3 is (250 µs, 500 µs], p50 375 µs.
private let bounds = [0.00005, 0.0001, 0.00025, 0.0005, 0.001]

private struct FakeTarget {
    var target: String
    var bucket: Int
    var samples = 10
    var ok = 10
    var fail = 0

    var json: [String: Any] { ["target": target, "bucket": bucket, "samples": samples, "ok": ok, "fail": fail] }
}

/// Four agents, 10.77.0.1–4, and a named target, db01, that only agent 1 probes. Every
/// link's p50 is 75 µs except 10.77.0.2 → 10.77.0.3 (375 µs, 20% loss: the bad link);
/// 10.77.0.4 → 10.77.0.1 loses 0.5% (no outlier); 10.77.0.4 does not probe 10.77.0.3.
private let mesh: [[FakeTarget]] = [
    [FakeTarget(target: "10.77.0.2", bucket: 1), FakeTarget(target: "10.77.0.3", bucket: 1),
     FakeTarget(target: "10.77.0.4", bucket: 1), FakeTarget(target: "db01", bucket: 1)],
    [FakeTarget(target: "10.77.0.1", bucket: 1), FakeTarget(target: "10.77.0.3", bucket: 3, ok: 8, fail: 2),
     FakeTarget(target: "10.77.0.4", bucket: 1)],
    [FakeTarget(target: "10.77.0.1", bucket: 1), FakeTarget(target: "10.77.0.2", bucket: 1), FakeTarget(target: "10.77.0.4", bucket: 1)],
    [FakeTarget(target: "10.77.0.1", bucket: 1, ok: 199, fail: 1), FakeTarget(target: "10.77.0.2", bucket: 1)],
]

/// The fake agents and Prometheus scraping them, for one test; `stop()` kills them all.
private final class MeshFixture {
    let dir: ScratchDirectory
    var processes: [Spawned] = []
    var prometheusPort: UInt16 = 0

    init() throws {
        dir = try ScratchDirectory("mesh")
    }

    var url: String { "http://127.0.0.1:\(prometheusPort)" }

    func start() async throws {
        let python = try #require(["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }, "python3 is missing")
        let prometheus = try #require(["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                      "prometheus is missing: run scripts/setup")
        var agents: [[String: Any]] = []
        var scrapeConfigs = ""
        for (i, targets) in mesh.enumerated() {
            let port = freePort(19_300 + UInt16(i) * 40)
            agents.append(["port": Int(port), "targets": targets.map(\.json)])
            scrapeConfigs += "      - targets: [\"127.0.0.1:\(port)\"]\n        labels: {instance: \"10.77.0.\(i + 1):9155\"}\n"
        }
        let config: [String: Any] = ["bounds": bounds, "agents": agents, "scratch": dir.path]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir.file("agents.json")))
        try fakeAgentScript.write(toFile: dir.file("agent.py"), atomically: true, encoding: .utf8)
        for i in mesh.indices {
            processes.append(try Spawned(python, [dir.file("agent.py"), dir.file("agents.json"), "\(i)"], name: "agent\(i)", in: dir))
        }
        let yaml = """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: wirelat
            static_configs:

        """ + scrapeConfigs
        try yaml.write(toFile: dir.file("prometheus.yml"), atomically: true, encoding: .utf8)
        prometheusPort = freePort(19_500)
        processes.append(try Spawned(prometheus, ["--config.file", dir.file("prometheus.yml"), "--storage.tsdb.path", dir.file("tsdb"),
                                                  "--web.listen-address", "127.0.0.1:\(prometheusPort)"], name: "prometheus", in: dir))
        // Four scrapes of every agent: the third is surely stored, and rate() has points to work on.
        let deadline = ContinuousClock.now + .seconds(40)
        while ContinuousClock.now < deadline {
            let counts = mesh.indices.map { Int((try? String(contentsOfFile: dir.file("agent\($0).scrapes"), encoding: .utf8)) ?? "") ?? 0 }
            if counts.allSatisfy({ $0 >= 4 }) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw E2EFailure("Prometheus did not scrape every fake agent 4 times within 40 s\n" + processes.map(\.transcript).joined(separator: "\n"))
    }

    /// Kills every process, waits (bounded) until each is gone — Prometheus writes into
    /// the scratch directory until then — and removes the directory.
    func stop() async {
        for p in processes { p.kill() }
        for p in processes { _ = await p.waitForExit(timeout: .seconds(10)) }
        dir.remove()
    }
}

/// Runs `body` with the fake agents and Prometheus running; stops them and removes the
/// scratch directory afterwards, also when `body` or the start fails.
private func withMeshFixture(_ body: (MeshFixture) async throws -> Void) async throws {
    let fixture = try MeshFixture()
    do {
        try await fixture.start()
        try await body(fixture)
    } catch {
        await fixture.stop()
        throw error
    }
    await fixture.stop()
}

/// A stand-in for Prometheus that misbehaves on purpose: `python3 fakeprom.py MODE PORT
/// QUERIES`. `error` answers every query with the API's error JSON (HTTP 400); `stall`
/// accepts and never answers; `chunked` answers a small vector in 7-byte chunks (p50
/// 100 µs, loss 5%) between two IPv6 hosts. Every query, decoded, is appended to QUERIES.
private let fakePrometheusScript = #"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

mode, port, queries = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query).get("query", [""])[0]
        with open(queries, "a") as f:
            f.write(url.path + " " + query + "\n")
        if mode == "stall":
            time.sleep(60)
            return
        if mode == "error":
            body = json.dumps({"status": "error", "errorType": "bad_data", "error": "1:1: parse error: this server refuses everything"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        value = "0.0001" if query.startswith("histogram_quantile") else "0.05"
        result = [{"metric": {"instance": "[fd00:77::1]:9155", "target": "fd00:77::2"}, "value": [1765000000.5, value]},
                  {"metric": {"instance": "[fd00:77::2]:9155", "target": "[fd00:77::1]"}, "value": [1765000000.5, value]}]
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 7):
            piece = body[i:i + 7]
            self.wfile.write(b"%x;piece=%d\r\n" % (len(piece), i) + piece + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
"""#

/// Runs `body` with the fake Prometheus in `mode` listening; kills it and removes the
/// scratch directory afterwards.
private func withFakePrometheus(_ mode: String, _ body: (ScratchDirectory, String) async throws -> Void) async throws {
    let dir = try ScratchDirectory("mesh-\(mode)")
    defer { dir.remove() }
    try fakePrometheusScript.write(toFile: dir.file("fakeprom.py"), atomically: true, encoding: .utf8)
    let port = freePort(19_800)
    let server = try Spawned("/usr/bin/python3", [dir.file("fakeprom.py"), mode, "\(port)", dir.file("queries.txt")], name: "fakeprom", in: dir)
    do {
        guard await server.waitForOutput("ready", timeout: .seconds(10)) else { throw E2EFailure("the fake Prometheus did not start\n\(server.transcript)") }
        try await body(dir, "http://127.0.0.1:\(port)")
    } catch {
        server.kill()
        _ = await server.waitForExit(timeout: .seconds(10))
        throw error
    }
    server.kill()
    _ = await server.waitForExit(timeout: .seconds(10))
}

@Suite("wirelat mesh, the release binary against a real Prometheus", .serialized, .timeLimit(.minutes(3)))
struct MeshEndToEnd {
    @Test("the matrix, its nulls, its loss and the one bad link, as JSON, text and a page")
    func matrixFromPrometheus() async throws {
        try await withMeshFixture { fixture in

            let json = try await runWirelat(["mesh", "--prometheus", fixture.url, "--window", "1m", "--json", "-"], in: fixture.dir, name: "mesh-json")
            #expect(json.exit.status == 0 && !json.exit.bySignal, "\(json.exit)\n\(json.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8), options: [.fragmentsAllowed])
            let report = try #require(object as? [String: Any], "not a JSON object:\n\(json.stdout)")
            #expect(report["command"] as? String == "mesh")
            #expect(report["method"] as? String == "reqresp")
            #expect(report["clock"] as? String == "wire")
            #expect(number(report["window_s"]) == 60)
            let hosts = try #require(report["hosts"] as? [String])
            #expect(hosts == ["10.77.0.1", "10.77.0.2", "10.77.0.3", "10.77.0.4", "db01"])
            let p50 = try #require(report["p50_ns"] as? [[Any]])
            let loss = try #require(report["loss"] as? [[Any]])
            #expect(p50.count == 5 && p50.allSatisfy { $0.count == 5 } && loss.count == 5 && loss.allSatisfy { $0.count == 5 })
            func isNull(_ v: Any) -> Bool { v is NSNull }
            for i in 0 ..< 5 {
                for j in 0 ..< 5 {
                    let expected: Double? = {
                        guard i < mesh.count, i != j, let t = mesh[i].first(where: { $0.target == hosts[j] }) else { return nil }
                        return (t.bucket > 0 ? bounds[t.bucket - 1] : 0) / 2 + bounds[t.bucket] / 2
                    }()
                    let expectedLoss: Double? = {
                        guard i < mesh.count, i != j, let t = mesh[i].first(where: { $0.target == hosts[j] }) else { return nil }
                        return Double(t.fail) / Double(t.ok + t.fail)
                    }()
                    let cell = "\(hosts[i]) → \(hosts[j])"
                    if let expected {
                        // All samples in one bucket: histogram_quantile interpolates to its middle.
                        let value = try #require(number(p50[i][j]), "\(cell): p50 is \(p50[i][j])")
                        #expect(abs(value - expected * 1e9) <= expected * 1e9 * 0.01, "\(cell): p50 \(value) ns, expected \(expected * 1e9)")
                        let share = try #require(number(loss[i][j]), "\(cell): loss is \(loss[i][j])")
                        #expect(abs(share - (expectedLoss ?? 0)) < 1e-6, "\(cell): loss \(share), expected \(expectedLoss ?? 0)")
                    } else {
                        #expect(isNull(p50[i][j]) && isNull(loss[i][j]), "\(cell): expected null, got \(p50[i][j]) and \(loss[i][j])")
                    }
                }
            }
            let outliers = try #require(report["outliers"] as? [[String: Any]])
            #expect(outliers.count == 1, "\(outliers)")
            #expect(outliers.first?["from"] as? String == "10.77.0.2" && outliers.first?["to"] as? String == "10.77.0.3", "\(outliers)")
            let why = outliers.first?["why"] as? String ?? ""
            #expect(why.contains("p50 375.0 µs") && why.contains("loss 20.0%"), "\(why)")

            let page = fixture.dir.file("mesh.html")
            let text = try await runWirelat(["mesh", "--prometheus", fixture.url + "/", "--window", "1m", "--clock", "app", "--html", page], in: fixture.dir, name: "mesh-text")
            #expect(text.exit.status == 0, "\(text.exit)\n\(text.stderr)")
            #expect(text.stderr.isEmpty, "\(text.stderr)")
            // On the app clock every link sits in the slowest bucket, (500 µs, 1 ms]: 750 µs, no outlier.
            #expect(text.stdout.contains("\n2 10.77.0.2  750     ·   750*  750     -\n"), "\(text.stdout)")
            #expect(text.stdout.contains("p50 round trip (µs)") && text.stdout.contains("outliers:\n  10.77.0.2 → 10.77.0.3: loss 20.0%"), "\(text.stdout)")
            #expect(text.stdout.contains("\n4 10.77.0.4  0.5     0     -     ·     -\n"), "\(text.stdout)")
            let html = try String(contentsOfFile: page, encoding: .utf8)
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("class=\"outlier\"") && html.contains("10.77.0.2 → 10.77.0.3"))
            #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href="))

            let syn = try await runWirelat(["mesh", "--prometheus", fixture.url, "--window", "1m", "--method", "redis"], in: fixture.dir, name: "mesh-none")
            #expect(syn.exit.status == 1, "\(syn.exit)\n\(syn.stdout)")
            #expect(lines(syn.stderr).count == 1 && syn.stderr.contains("no wirelat data for method redis") && syn.stderr.contains("reqresp, syn"), "\(syn.stderr)")
        }
    }

    @Test("an unreachable Prometheus: exit 1 and one line")
    func unreachable() async throws {
        let dir = try ScratchDirectory("mesh-refused")
        defer { dir.remove() }
        let port = freePort(19_700)
        let result = try await runWirelat(["mesh", "--prometheus", "http://127.0.0.1:\(port)", "--json", "-"], in: dir)
        #expect(result.exit.status == 1 && !result.exit.bySignal, "\(result.exit)")
        #expect(lines(result.stderr) == ["wirelat: cannot reach Prometheus at http://127.0.0.1:\(port): connection refused"], "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
    }

    @Test("a chunked answer is read, and the queries are the documented PromQL with the defaults")
    func chunkedAnswer() async throws {
        try await withFakePrometheus("chunked") { dir, url in
            let result = try await runWirelat(["mesh", "--prometheus", url, "--json", "-"], in: dir)
            #expect(result.exit.status == 0, "\(result.exit)\n\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
            #expect(report["hosts"] as? [String] == ["fd00:77::1", "fd00:77::2"])
            #expect((report["p50_ns"] as? [[Any]])?.map { $0.map { integer($0) } } == [[nil, 100_000], [100_000, nil]])
            #expect((report["loss"] as? [[Any]])?.map { $0.map { number($0) } } == [[nil, 0.05], [0.05, nil]])
            #expect(number(report["window_s"]) == 300)
            let queries = try String(contentsOfFile: dir.file("queries.txt"), encoding: .utf8)
            let p50 = #"histogram_quantile(0.5, sum by (instance, target, le) (rate(wirelat_rtt_histogram_seconds_bucket{method="reqresp",clock="wire"}[5m])))"#
            let loss = #"(sum by (instance, target) (increase(wirelat_probes_total{method="reqresp",result!="ok"}[5m])) or (0 * sum by (instance, target) (increase(wirelat_probes_total{method="reqresp"}[5m])))) / sum by (instance, target) (increase(wirelat_probes_total{method="reqresp"}[5m]))"#
            #expect(queries == "/api/v1/query \(p50)\n/api/v1/query \(loss)\n", "\(queries)")
        }
    }

    @Test("Prometheus' error answer: exit 1 and its message on one line")
    func prometheusError() async throws {
        try await withFakePrometheus("error") { dir, url in
            let result = try await runWirelat(["mesh", "--prometheus", url], in: dir)
            #expect(result.exit.status == 1, "\(result.exit)")
            #expect(lines(result.stderr) == ["wirelat: Prometheus at \(url) refused the query (bad_data): 1:1: parse error: this server refuses everything"], "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
        }
    }

    @Test("a Prometheus that never answers: exit 1 after --timeout")
    func stalled() async throws {
        try await withFakePrometheus("stall") { dir, url in
            let started = ContinuousClock.now
            let result = try await runWirelat(["mesh", "--prometheus", url, "--timeout", "1s"], in: dir)
            #expect(result.exit.status == 1, "\(result.exit)")
            #expect(lines(result.stderr) == ["wirelat: cannot reach Prometheus at \(url): no complete answer within 1s"], "\(result.stderr)")
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("https is refused as bad usage")
    func https() async throws {
        let dir = try ScratchDirectory("mesh-https")
        defer { dir.remove() }
        let result = try await runWirelat(["mesh", "--prometheus", "https://127.0.0.1:9090"], in: dir)
        #expect(result.exit.status == 64, "\(result.exit)")
        #expect(result.stderr.contains("https is not supported"), "\(result.stderr)")
    }
}
