import Foundation
import Testing
import WirelatTestSupport
@preconcurrency import Glibc

// The fleet on one machine: an agent in every host of a 4-host lab, one configuration
// file for all of them (the peers are the mesh), scraped by a real Prometheus, read back
// by `wirelat mesh`. Part of the lab's serialized suite, so it never shares the lab.

extension LabEndToEnd {
    static let prometheus = ["/usr/bin/prometheus"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let curl = ["/usr/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `ip netns exec wirelat-X ARGS` to completion; its standard output.
    func inHost(_ letter: String, _ arguments: [String]) async throws -> String {
        try await runCommand(try #require(NamespaceSupport.ip), ["netns", "exec", "wirelat-\(letter)"] + arguments)
    }

    /// Starts a long-running process in host `letter` (ip netns exec replaces itself with
    /// it, so killing the child kills the process).
    func startInHost(_ letter: String, _ arguments: [String], name: String) throws -> Spawned {
        try Spawned(try #require(NamespaceSupport.ip), ["netns", "exec", "wirelat-\(letter)"] + arguments, name: name, in: dir)
    }

    /// Each agent's own summary of the wire clock's reqresp p50 toward every peer, read from
    /// its /metrics inside its host: [prober index][target index] in µs.
    func agentMedians(hosts: Int) async throws -> [[Double?]] {
        var matrix = [[Double?]](repeating: [Double?](repeating: nil, count: hosts), count: hosts)
        for i in 0..<hosts {
            let text = try await inHost(Self.host(i).letter, [try #require(Self.curl), "-s", "-m", "5", "http://127.0.0.1:9155/metrics"])
            for sample in ExpositionSample.parse(text) where sample.name == "wirelat_rtt_seconds"
                && sample.labels["method"] == "reqresp" && sample.labels["clock"] == "wire" && sample.labels["quantile"] == "0.5" {
                if let target = sample.labels["target"], let j = (0..<hosts).first(where: { Self.host($0).ipv4 == target }), sample.value.isFinite {
                    matrix[i][j] = sample.value * 1e6
                }
            }
        }
        return matrix
    }

    @Test("agents in a 4-host lab (spokes 0.2, 0.4, 0.6, 0.8 ms), one config with the 4 hosts as peers, scraped by a real Prometheus: every pair's reqresp p50 (wire) is 2 × (Di + Dj) plus the star's own at delay 0, within 10% + 20 µs; wirelat mesh prints the 4 × 4 matrix",
          .enabled(if: LabSupport.available && LabEndToEnd.prometheus != nil && LabEndToEnd.curl != nil, "needs the lab, prometheus and curl"))
    func agentMeshThroughPrometheus() async throws {
        let hosts = 4
        let delays = [0.2, 0.4, 0.6, 0.8]
        let config = dir.file("agent.yaml")
        try """
            listen: ":9155"
            responder: {port: 5555}
            defaults: {interval: 1s, samples: 20, timeout: 500ms, methods: [reqresp]}
            peers: {hosts: [\((0..<hosts).map { Self.host($0).ipv4 }.joined(separator: ", "))]}
            summary_window: 8s
            """.write(toFile: config, atomically: true, encoding: .utf8)
        var agents: [Spawned] = []
        defer {
            for a in agents { a.kill() }
            LabSupport.downNow()
        }
        func startAgents() async throws {
            agents = try (0..<hosts).map { try startInHost(Self.host($0).letter, [binary, "agent", "--config", config], name: "agent-\(Self.host($0).letter)-\(UInt32.random(in: 0...UInt32.max))") }
            for a in agents {
                try #require(await a.waitForOutput("wirelat agent:", timeout: .seconds(10)), "an agent did not start\n\(a.transcript)")
                #expect(a.stdout.contains("probing 3 targets"), "each agent probes the 3 other peers\n\(a.stdout)")
            }
        }

        // The star's own round trip, reqresp on the wire clock, at delay 0.
        _ = try await upHosts(["--hosts", "\(hosts)", "--delay", "0"])
        try await startAgents()
        try await Task.sleep(for: .seconds(6))
        let base = try await agentMedians(hosts: hosts)
        for a in agents { a.kill() }
        agents = []

        _ = try await upHosts(["--hosts", "\(hosts)", "--delay", delays.map { "\($0)ms" }.joined(separator: ",")])
        try await startAgents()
        let promDir = dir.file("prometheus")
        try FileManager.default.createDirectory(atPath: promDir, withIntermediateDirectories: true)
        try """
            global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
            scrape_configs:
              - job_name: wirelat
                static_configs:
                  - targets: [\((0..<hosts).map { "'\(Self.host($0).ipv4):9155'" }.joined(separator: ", "))]
            """.write(toFile: promDir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try startInHost("a", [try #require(Self.prometheus), "--config.file", promDir + "/prometheus.yml",
                                               "--storage.tsdb.path", promDir + "/data", "--web.listen-address", "127.0.0.1:9090"], name: "prometheus")
        agents.append(prometheus)
        let curl = try #require(Self.curl)
        func query(_ promql: String) async throws -> [[String: Any]] {
            let text = try await inHost("a", [curl, "-s", "-m", "5", "-G", "http://127.0.0.1:9090/api/v1/query", "--data-urlencode", "query=\(promql)"])
            let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
            return ((json?["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
        }
        // Every agent scraped several times, each with its full window of delayed round trips.
        let deadline = ContinuousClock.now + .seconds(40)
        while ContinuousClock.now < deadline {
            let up = try await query("sum(up{job=\"wirelat\"})").first.flatMap { (($0["value"] as? [Any])?.last as? String).flatMap(Double.init) }
            let scrapes = try await query("min(count_over_time(up{job=\"wirelat\"}[1m]))").first.flatMap { (($0["value"] as? [Any])?.last as? String).flatMap(Double.init) }
            if up == Double(hosts), (scrapes ?? 0) >= 10 { break }
            try await Task.sleep(for: .seconds(1))
        }
        let medians = try await query("wirelat_rtt_seconds{method=\"reqresp\",clock=\"wire\",quantile=\"0.5\"}")
        var measured = [[Double?]](repeating: [Double?](repeating: nil, count: hosts), count: hosts)
        for series in medians {
            let labels = series["metric"] as? [String: String] ?? [:]
            guard let instance = labels["instance"], let target = labels["target"],
                  let i = (0..<hosts).first(where: { instance == "\(Self.host($0).ipv4):9155" }),
                  let j = (0..<hosts).first(where: { Self.host($0).ipv4 == target }),
                  let value = ((series["value"] as? [Any])?.last as? String).flatMap(Double.init), value.isFinite else { continue }
            measured[i][j] = value * 1e6
        }
        var lines = ["agent mesh through Prometheus, reqresp p50 on the wire clock, µs (measured / expected = 2 × (Di + Dj) + base at delay 0):"]
        for i in 0..<hosts {
            var row = "  \(Self.host(i).letter) (\(delays[i]) ms):"
            for j in 0..<hosts where j != i {
                let expected = 2 * (delays[i] + delays[j]) * 1000 + (base[i][j] ?? 0)
                let got = measured[i][j]
                row += "  →\(Self.host(j).letter) \(got.map { String(format: "%.1f", $0) } ?? "none") / \(String(format: "%.1f", expected)) (base \(base[i][j].map { String(format: "%.1f", $0) } ?? "none"))"
                #expect(base[i][j] != nil, "no base RTT for \(Self.host(i).letter) → \(Self.host(j).letter)")
                let value = try #require(got, "Prometheus has no p50 for \(Self.host(i).letter) → \(Self.host(j).letter)\n\(agents.map(\.transcript).joined(separator: "\n"))")
                #expect(abs(value - expected) <= 0.1 * expected + 20, "\(Self.host(i).letter) → \(Self.host(j).letter): \(value) µs, expected \(expected) µs")
            }
            lines.append(row)
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))

        // wirelat mesh reads the same matrix back (histogram_quantile over the buckets).
        let mesh = try await inHost("a", [binary, "mesh", "--prometheus", "http://127.0.0.1:9090", "--window", "20s", "--json", "-"])
        let report = try #require((try? JSONSerialization.jsonObject(with: Data(mesh.utf8))) as? [String: Any], "mesh printed: \(mesh)")
        let names = report["hosts"] as? [String] ?? []
        #expect(names == (0..<hosts).map { Self.host($0).ipv4 }, "\(names)")
        let p50 = report["p50_ns"] as? [[Any]] ?? []
        for i in 0..<min(hosts, p50.count) {
            for j in 0..<min(hosts, p50[i].count) where i != j {
                let expected = 2 * (delays[i] + delays[j]) * 1e6
                let value = (p50[i][j] as? NSNumber)?.doubleValue
                #expect(value.map { abs($0 - expected) <= 0.2 * expected } == true, "mesh \(names[i]) → \(names[j]): \(String(describing: value)) ns, about \(expected) ns")
            }
        }
        let text = try await inHost("a", [binary, "mesh", "--prometheus", "http://127.0.0.1:9090", "--window", "20s"])
        FileHandle.standardError.write(Data("wirelat mesh (window 20 s):\n\(text)\n".utf8))
    }
}
