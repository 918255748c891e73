import Foundation
import Testing
import WirelatTestSupport
@preconcurrency import Glibc

// `wirelat agent` on loopback, the release binary: what Prometheus and an operator see.
// Every agent and server here is started by the test on its own ports and killed on the
// way out.

/// One sample line of the text exposition format: `name{a="x",b="y"} value`.
struct ExpositionSample {
    let name: String
    let labels: [String: String]
    let value: Double

    static func parse(_ text: String) -> [ExpositionSample] {
        text.split(separator: "\n").compactMap { raw -> ExpositionSample? in
            let line = String(raw)
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { return nil }
            let series = String(line[..<space])
            guard let value = Double(line[line.index(after: space)...]) ?? (line.hasSuffix("+Inf") ? .infinity : nil) else { return nil }
            guard let brace = series.firstIndex(of: "{") else { return ExpositionSample(name: series, labels: [:], value: value) }
            var labels: [String: String] = [:]
            var rest = series[series.index(after: brace)...].dropLast()
            while let eq = rest.firstIndex(of: "=") {
                let key = String(rest[..<eq]).trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                var i = rest.index(eq, offsetBy: 2)
                var value = ""
                while i < rest.endIndex && rest[i] != "\"" {
                    if rest[i] == "\\" { i = rest.index(after: i) }
                    value.append(rest[i])
                    i = rest.index(after: i)
                }
                labels[key] = value
                rest = i < rest.endIndex ? rest[rest.index(after: i)...] : rest[rest.endIndex...]
            }
            return ExpositionSample(name: String(series[..<brace]), labels: labels, value: value)
        }
    }
}

extension Array where Element == ExpositionSample {
    /// The sum of every sample named `name` whose labels include `labels`.
    func total(_ name: String, _ labels: [String: String] = [:]) -> Double {
        filter { sample in sample.name == name && labels.allSatisfy { k, v in sample.labels[k] == v } }.reduce(0) { $0 + $1.value }
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        first { sample in sample.name == name && labels.allSatisfy { k, v in sample.labels[k] == v } }?.value
    }
}

/// GET `url` with curl: the status code and the body; nil if curl could not connect.
func httpGet(_ url: String, timeout: Int = 5) throws -> (status: Int, body: String)? {
    guard let result = try TestChild.output("/usr/bin/curl", ["-s", "-m", "\(timeout)", "-w", "\n%{http_code}", url], timeout: .seconds(timeout + 5)),
          result.termination.status == 0 else { return nil }
    var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
    let code = Int(lines.removeLast()) ?? 0
    return (code, lines.joined(separator: "\n"))
}

/// A running agent on loopback, its configuration file, and its metrics.
struct LoopbackAgent {
    let process: Spawned
    let configPath: String
    let metricsPort: UInt16

    var url: String { "http://127.0.0.1:\(metricsPort)" }

    static func start(_ config: String, metricsPort: UInt16, in dir: ScratchDirectory, name: String = "agent") async throws -> LoopbackAgent {
        let path = dir.file("\(name).yaml")
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let process = try Spawned(try WirelatBinary.require(), ["agent", "--config", path], name: name, in: dir)
        guard await process.waitForOutput("wirelat agent:", timeout: .seconds(10)) else {
            process.kill()
            throw E2EFailure("the agent did not start within 10 s\n\(process.transcript)")
        }
        return LoopbackAgent(process: process, configPath: path, metricsPort: metricsPort)
    }

    func scrape() throws -> [ExpositionSample] {
        guard let r = try httpGet(url + "/metrics"), r.status == 200 else { throw E2EFailure("GET /metrics failed\n\(process.transcript)") }
        return ExpositionSample.parse(r.body)
    }

    /// Scrapes until `condition` holds (at most `timeout`); the last scrape.
    func scrape(until condition: ([ExpositionSample]) -> Bool, timeout: Duration) async throws -> [ExpositionSample] {
        let deadline = ContinuousClock.now + timeout
        var last = try scrape()
        while !condition(last) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            last = try scrape()
        }
        return last
    }
}

@Suite("wirelat agent on loopback, the release binary", .serialized, .timeLimit(.minutes(3)))
struct AgentEndToEnd {
    @Test("/metrics: both clocks for every method, probe counts, build info, the passive capture's reqresp and handshake; promtool check metrics passes; / and /-/healthy answer")
    func metricsPassPromtool() async throws {
        let dir = try ScratchDirectory("agent-metrics")
        defer { dir.remove() }
        let metricsPort = freePort(29_155), responder = freePort(29_555)
        let agent = try await LoopbackAgent.start("""
            listen: "127.0.0.1:\(metricsPort)"
            responder: {port: \(responder)}
            defaults: {interval: 1s, samples: 10, timeout: 300ms}
            targets:
              - {name: loop, host: 127.0.0.1, port: \(responder), methods: [reqresp, syn, connect, icmp]}
            capture:
              - {interface: lo, filter: "tcp port \(responder)", methods: [reqresp, handshake]}
            """, metricsPort: metricsPort, in: dir)
        defer { agent.process.kill() }
        let methods = ["reqresp", "syn", "connect", "icmp"]
        let samples = try await agent.scrape(until: { s in
            methods.allSatisfy { s.total("wirelat_probes_total", ["target": "loop", "method": $0, "result": "ok"]) >= 10 }
        }, timeout: .seconds(8))
        for method in methods {
            #expect(samples.total("wirelat_probes_total", ["target": "loop", "method": method, "result": "ok"]) >= 10, "\(method)\n\(agent.process.transcript)")
            for clock in ["wire", "app"] {
                let p50 = samples.value("wirelat_rtt_seconds", ["target": "loop", "method": method, "clock": clock, "quantile": "0.5"])
                #expect(p50.map { $0 > 0 && $0 < 0.1 } == true, "\(method) \(clock) p50 \(String(describing: p50))")
                let count = samples.value("wirelat_rtt_histogram_seconds_count", ["target": "loop", "method": method, "clock": clock]) ?? 0
                let inf = samples.value("wirelat_rtt_histogram_seconds_bucket", ["target": "loop", "method": method, "clock": clock, "le": "+Inf"]) ?? -1
                #expect(count >= 10 && inf == count, "\(method) \(clock): _count \(count), +Inf bucket \(inf)")
            }
            // The app clock holds the wire's round trip plus this host's system calls and wake-up.
            let wire = samples.value("wirelat_rtt_seconds", ["target": "loop", "method": method, "clock": "wire", "quantile": "0.5"]) ?? 0
            let app = samples.value("wirelat_rtt_seconds", ["target": "loop", "method": method, "clock": "app", "quantile": "0.5"]) ?? 0
            #expect(app >= wire, "\(method): app p50 \(app) s < wire p50 \(wire) s")
        }
        #expect(samples.total("wirelat_build_info") == 1)
        // The passive capture saw the same exchanges on the wire: request/response and the
        // connect probes' handshakes, and libpcap's counters.
        let passive = try await agent.scrape(until: {
            ($0.value("wirelat_passive_rtt_seconds_count", ["interface": "lo", "method": "reqresp"]) ?? 0) >= 5
                && ($0.value("wirelat_passive_rtt_seconds_count", ["interface": "lo", "method": "handshake"]) ?? 0) >= 5
                && $0.total("wirelat_capture_packets_total", ["interface": "lo"]) > 0
        }, timeout: .seconds(5))
        #expect((passive.value("wirelat_passive_rtt_seconds_count", ["interface": "lo", "method": "reqresp"]) ?? 0) >= 5, "\(agent.process.transcript)")
        #expect((passive.value("wirelat_passive_rtt_seconds_count", ["interface": "lo", "method": "handshake"]) ?? 0) >= 5)
        #expect(passive.total("wirelat_capture_packets_total", ["interface": "lo"]) > 0)
        #expect(passive.value("wirelat_passive_rtt_seconds_count", ["interface": "lo", "method": "ack"]) == nil, "only the methods asked for")

        guard let raw = try httpGet(agent.url + "/metrics") else { throw E2EFailure("no /metrics") }
        let file = dir.file("metrics.txt")
        try raw.body.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try #require(try TestChild.output("/bin/sh", ["-c", "promtool check metrics < '\(file)' 2>&1"]))
        // promtool exits 3 for lint remarks (1 for a parse error); the one remark allowed is
        // about the histogram's name, which INTERFACE.md fixes.
        let remarks = check.output.split(separator: "\n").filter { !$0.contains("wirelat_rtt_histogram_seconds metric name should not include type 'histogram'") }
        #expect(!check.termination.bySignal && (check.termination.status == 0 || check.termination.status == 3) && remarks.isEmpty,
                "promtool check metrics: \(check.termination) \(check.output)")

        let healthy = try #require(try httpGet(agent.url + "/-/healthy"))
        #expect(healthy.status == 200)
        let page = try #require(try httpGet(agent.url + "/"))
        #expect(page.status == 200 && page.body.contains("loop") && page.body.contains("<table"), "\(page.body.prefix(400))")
        let missing = try #require(try httpGet(agent.url + "/nothing-here"))
        #expect(missing.status == 404)
    }

    @Test("reload: a target added by SIGHUP appears in the next scrape; a broken file keeps the old config, names the line and counts the failure; a changed file reloads without SIGHUP")
    func reload() async throws {
        let dir = try ScratchDirectory("agent-reload")
        defer { dir.remove() }
        let metricsPort = freePort(29_255), responder = freePort(29_655)
        let base = """
            listen: "127.0.0.1:\(metricsPort)"
            responder: {port: \(responder)}
            defaults: {interval: 1s, samples: 10, timeout: 300ms, methods: [connect]}
            targets:
              - {name: first, host: 127.0.0.1, port: \(responder)}

            """
        let agent = try await LoopbackAgent.start(base, metricsPort: metricsPort, in: dir)
        defer { agent.process.kill() }
        _ = try await agent.scrape(until: { $0.total("wirelat_probes_total", ["target": "first", "result": "ok"]) >= 2 }, timeout: .seconds(5))

        try (base + "  - {name: second, host: 127.0.0.1, port: \(responder)}\n").write(toFile: agent.configPath, atomically: true, encoding: .utf8)
        agent.process.signal(SIGHUP)
        let added = try await agent.scrape(until: { $0.total("wirelat_probes_total", ["target": "second", "result": "ok"]) >= 1 }, timeout: .seconds(5))
        #expect(added.total("wirelat_probes_total", ["target": "second", "result": "ok"]) >= 1, "\(agent.process.transcript)")
        #expect(added.total("wirelat_config_reloads_total", ["result": "success"]) >= 1)
        let firstBefore = added.total("wirelat_probes_total", ["target": "first", "result": "ok"])

        try (base + "  - {name: third, host: 127.0.0.1, port: \(responder), intervall: 1s}\n").write(toFile: agent.configPath, atomically: true, encoding: .utf8)
        agent.process.signal(SIGHUP)
        let broken = try await agent.scrape(until: { $0.total("wirelat_config_reloads_total", ["result": "failure"]) >= 1 }, timeout: .seconds(5))
        #expect(broken.total("wirelat_config_reloads_total", ["result": "failure"]) >= 1, "\(agent.process.transcript)")
        #expect(broken.value("wirelat_config_last_reload_successful", [:]) == 0)
        #expect(agent.process.stdout.contains("line 6") || agent.process.stderr.contains("line 6"), "the failure names the line\n\(agent.process.transcript)")
        let kept = try await agent.scrape(until: { $0.total("wirelat_probes_total", ["target": "first", "result": "ok"]) > firstBefore + 2 }, timeout: .seconds(5))
        #expect(kept.total("wirelat_probes_total", ["target": "first", "result": "ok"]) > firstBefore + 2, "the old config is still probed")
        #expect(kept.total("wirelat_probes_total", ["target": "third"]) == 0)

        // No SIGHUP: the agent sees the file change by itself.
        try (base + "  - {name: fourth, host: 127.0.0.1, port: \(responder)}\n").write(toFile: agent.configPath, atomically: true, encoding: .utf8)
        let changed = try await agent.scrape(until: { $0.total("wirelat_probes_total", ["target": "fourth", "result": "ok"]) >= 1 }, timeout: .seconds(6))
        #expect(changed.total("wirelat_probes_total", ["target": "fourth", "result": "ok"]) >= 1, "\(agent.process.transcript)")
        #expect(!changed.contains { $0.labels["target"] == "second" }, "a target removed from the file leaves the scrape")
    }

    @Test("a target that stops answering shows as loss within two rounds, and recovers when it answers again")
    func lossAndRecovery() async throws {
        let dir = try ScratchDirectory("agent-loss")
        defer { dir.remove() }
        let metricsPort = freePort(29_355), targetPort = freePort(29_755)
        var server = try await startServer(["--port", "\(targetPort)"], in: dir, name: "target")
        defer { server.kill() }
        let agent = try await LoopbackAgent.start("""
            listen: "127.0.0.1:\(metricsPort)"
            defaults: {interval: 1s, samples: 10, timeout: 200ms}
            targets:
              - {name: db, host: 127.0.0.1, port: \(targetPort), methods: [reqresp, connect]}
            """, metricsPort: metricsPort, in: dir)
        defer { agent.process.kill() }
        let up = try await agent.scrape(until: { $0.total("wirelat_probes_total", ["target": "db", "method": "reqresp", "result": "ok"]) >= 5 }, timeout: .seconds(5))
        #expect(up.total("wirelat_probes_total", ["target": "db", "method": "reqresp", "result": "ok"]) >= 5, "\(agent.process.transcript)")
        let okBefore = up.total("wirelat_probes_total", ["target": "db", "result": "ok"])

        server.kill()
        let lost: (String) -> ([ExpositionSample]) -> Bool = { method in { s in
            s.total("wirelat_probes_total", ["target": "db", "method": method]) - s.total("wirelat_probes_total", ["target": "db", "method": method, "result": "ok"]) >= 3
        } }
        let down = try await agent.scrape(until: { lost("reqresp")($0) && lost("connect")($0) }, timeout: .seconds(2))
        #expect(lost("reqresp")(down) && lost("connect")(down), "no loss within two 1 s rounds\n\(agent.process.transcript)")
        #expect(down.total("wirelat_probes_total", ["target": "db", "method": "connect", "result": "refused"]) >= 3)

        server = try await startServer(["--port", "\(targetPort)"], in: dir, name: "target-again")
        let okDown = try agent.scrape().total("wirelat_probes_total", ["target": "db", "result": "ok"])
        #expect(okDown >= okBefore)
        let back = try await agent.scrape(until: { $0.total("wirelat_probes_total", ["target": "db", "method": "reqresp", "result": "ok"]) > okDown / 2 + 5
            && $0.total("wirelat_probes_total", ["target": "db", "method": "connect", "result": "ok"]) > 0 }, timeout: .seconds(6))
        let reqrespOK = back.total("wirelat_probes_total", ["target": "db", "method": "reqresp", "result": "ok"])
        let before = up.total("wirelat_probes_total", ["target": "db", "method": "reqresp", "result": "ok"])
        #expect(reqrespOK >= before + 3, "reqresp did not recover: ok \(before) → \(reqrespOK)\n\(agent.process.transcript)")
    }

    @Test("--check: a good file exits 0 listing the targets; a bad one exits 64 naming the line; a bad file at start exits 64; a port in use exits 1 with one line")
    func checkAndStartFailures() async throws {
        let dir = try ScratchDirectory("agent-check")
        defer { dir.remove() }
        let good = dir.file("good.yaml"), bad = dir.file("bad.yaml")
        try """
            listen: ":9155"
            defaults: {interval: 10s, samples: 20, timeout: 1s}
            targets:
              - {name: db01, host: 127.0.0.1, port: 1521, methods: [syn, connect, icmp]}
            """.write(toFile: good, atomically: true, encoding: .utf8)
        try """
            listen: ":9155"
            targets:
              - {name: db01, host: 127.0.0.1, port: 1521, methods: [syn, conect]}
            """.write(toFile: bad, atomically: true, encoding: .utf8)
        let ok = try await runWirelat(["agent", "--config", good, "--check"], in: dir)
        #expect(ok.exit.status == 0 && !ok.exit.bySignal, "\(ok.stderr)")
        #expect(ok.stdout.contains("db01") && ok.stdout.contains("syn, connect, icmp"), "\(ok.stdout)")
        for arguments in [["agent", "--config", bad, "--check"], ["agent", "--config", bad]] {
            let r = try await runWirelat(arguments, in: dir)
            #expect(r.exit.status == 64 && !r.exit.bySignal, "\(r.exit) \(r.stderr)")
            #expect(r.stderr.contains("line 3") && r.stderr.contains("conect"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        }
        let missing = try await runWirelat(["agent", "--config", dir.file("nope.yaml")], in: dir)
        #expect(missing.exit.status == 64 && missing.stderr.contains("nope.yaml"), "\(missing.stderr)")

        let busyPort = freePort(29_455)
        let holder = try await startServer(["--port", "\(busyPort)", "--bind", "127.0.0.1"], in: dir, name: "holder")
        defer { holder.kill() }
        let inUse = dir.file("inuse.yaml")
        try "listen: \"127.0.0.1:\(busyPort)\"\n".write(toFile: inUse, atomically: true, encoding: .utf8)
        let r = try await runWirelat(["agent", "--config", inUse], in: dir, timeout: .seconds(10))
        #expect(r.exit.status == 1 && !r.exit.bySignal, "\(r.exit) \(r.stderr)")
        #expect(r.stderr.contains("\(busyPort)") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }

    @Test("docs/fleet: the example agent configuration passes --check, the alerting and recording rules pass promtool check rules, the Prometheus configuration passes promtool check config")
    func fleetExamples() async throws {
        let dir = try ScratchDirectory("agent-fleet-docs")
        defer { dir.remove() }
        let fleet = WirelatBinary.packageRoot + "/docs/fleet"
        let check = try await runWirelat(["agent", "--config", fleet + "/agent.yaml", "--check"], in: dir)
        #expect(check.exit.status == 0 && !check.exit.bySignal, "\(check.stderr)")
        #expect(check.stdout.contains("db01") && check.stdout.contains("10.0.0.14 (10.0.0.14:5555, peer)"), "\(check.stdout)")
        let rules = try #require(try TestChild.output("/bin/sh", ["-c", "promtool check rules '\(fleet)/wirelat-rules.yml' 2>&1"]))
        #expect(rules.termination.status == 0, "\(rules.output)")
        #expect(rules.output.contains("SUCCESS: 9 rules found"), "\(rules.output)")
        let config = try #require(try TestChild.output("/bin/sh", ["-c", "cd '\(fleet)' && promtool check config prometheus.yml 2>&1"]))
        #expect(config.termination.status == 0, "\(config.output)")
    }
}
