import Foundation
import Testing
import WirelatTestSupport
@preconcurrency import Glibc

// The application protocols beside the other methods: `compare --app` against a real
// listener, and the agent's protocol methods exported to Prometheus.

@Suite("compare --app and the agent's protocol methods against real listeners", .serialized, .timeLimit(.minutes(2)))
struct AppCompareAgentEndToEnd {
    @Test("compare 127.0.0.1 --app redis: rows for ICMP, SYN, connect and redis, every round answered on both clocks; --app without --port takes the protocol's port; an unknown protocol exits 64",
          .enabled(if: AppServers.haveRedis))
    func compareRedis() async throws {
        let dir = try ScratchDirectory("compare-app")
        defer { dir.remove() }
        let port = freePort(26_479)
        let server = try await startRedis(port: port, in: dir)
        defer { server.kill() }
        let json = dir.file("compare.json")
        let r = try await runWirelat(["compare", "127.0.0.1", "--port", "\(port)", "--app", "redis", "--count", "50", "--interval", "2ms", "--json", json], in: dir)
        #expect(r.exit.status == 0 && !r.exit.bySignal, "\(r.exit)\n\(r.stdout)\n\(r.stderr)")
        let report = try #require((try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))) as? [String: Any])
        let methods = report["methods"] as? [[String: Any]] ?? []
        #expect(methods.map { $0["method"] as? String ?? "?" } == ["icmp-echo", "tcp-syn", "tcp-connect", "redis"], "\(methods.map { $0["method"] ?? "?" })")
        let redis = try #require(methods.first { $0["method"] as? String == "redis" })
        #expect(redis["samples"] as? Int == 50, "\(redis)")
        #expect(redis["wire_rtt_ns"] is [String: Any] && redis["app_rtt_ns"] is [String: Any], "both clocks: \(redis.keys.sorted())")
        #expect(r.stdout.contains("redis"), "\(r.stdout)")

        let bad = try await runWirelat(["compare", "127.0.0.1", "--app", "memcached"], in: dir)
        #expect(bad.exit.status == 64 && bad.stderr.contains("--app"), "\(bad.exit) \(bad.stderr)")
    }

    @Test("agent methods redis and pg-less login-free probes: a redis target is probed with PING on both clocks and counted ok; nothing listening counts refused",
          .enabled(if: AppServers.haveRedis))
    func agentRedis() async throws {
        let dir = try ScratchDirectory("agent-app")
        defer { dir.remove() }
        let port = freePort(26_579), closed = freePort(26_679), metricsPort = freePort(29_555)
        let server = try await startRedis(port: port, in: dir)
        defer { server.kill() }
        let agent = try await LoopbackAgent.start("""
            listen: "127.0.0.1:\(metricsPort)"
            defaults: {interval: 1s, samples: 10, timeout: 300ms}
            targets:
              - {name: cache, host: 127.0.0.1, port: \(port), methods: [redis, connect]}
              - {name: nothing, host: 127.0.0.1, port: \(closed), methods: [redis, http, pg, mysql, tns]}
            """, metricsPort: metricsPort, in: dir)
        defer { agent.process.kill() }
        let s = try await agent.scrape(until: {
            $0.total("wirelat_probes_total", ["target": "cache", "method": "redis", "result": "ok"]) >= 5
                && $0.total("wirelat_probes_total", ["target": "nothing", "method": "tns", "result": "refused"]) >= 3
        }, timeout: .seconds(6))
        #expect(s.total("wirelat_probes_total", ["target": "cache", "method": "redis", "result": "ok"]) >= 5, "\(agent.process.transcript)")
        for clock in ["wire", "app"] {
            let p50 = s.value("wirelat_rtt_seconds", ["target": "cache", "method": "redis", "clock": clock, "quantile": "0.5"])
            #expect(p50.map { $0 > 0 && $0 < 0.1 } == true, "redis \(clock) p50 \(String(describing: p50))")
        }
        for method in ["redis", "http", "pg", "mysql", "tns"] {
            #expect(s.total("wirelat_probes_total", ["target": "nothing", "method": method, "result": "refused"]) >= 3, "\(method) against a closed port")
            #expect(s.total("wirelat_probes_total", ["target": "nothing", "method": method, "result": "ok"]) == 0)
        }
    }
}
