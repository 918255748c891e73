import Foundation
import Testing

/// The client's two clocks (issue 12) across two namespaces, held against a passive
/// capture of the same exchanges on the client's interface.
@Suite("client: wire and app clocks beside capture --rtt, --samples and --hgrm read back", .serialized, .timeLimit(.minutes(3)))
struct ClientClockEndToEnd {
    static let summaryKeys = ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"]

    @Test("client sync across a veth pair: wire p50 within 10 µs of the capture's reqresp p50, app p50 > wire p50; text, --samples and --hgrm agree with the JSON",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs root and iproute2"))
    func clocksAgainstTheCapture() async throws {
        let binary = try WirelatBinary.require()
        let dir = try ScratchDirectory("client-clocks")
        defer { dir.remove() }
        let capturePath = dir.file("capture.json")
        let clientPath = dir.file("client.json")
        let samplesPath = dir.file("client.samples.jsonl")
        let hgrmPath = dir.file("client.hgrm")
        try await withServerAndClientNamespaces(in: dir) { pair, inClient in
            let capture = try await startListening(inClient, [binary, "capture", "-i", pair.clientLink, "-B", "262144", "--rtt",
                                                              "--json", capturePath, "port", "\(rttServerPort)"],
                                                   name: "clock-capture", in: dir)
            defer { capture.kill() }
            let client = try Spawned(inClient[0], Array(inClient.dropFirst()) + [binary, "client", pair.serverAddress, "--port", "\(rttServerPort)",
                                                                               "--duration", "2s", "--json", clientPath,
                                                                               "--samples", samplesPath, "--hgrm", hgrmPath],
                                     name: "clock-client", in: dir)
            defer { client.kill() }
            let clientExit = try #require(await client.waitForExit(timeout: .seconds(30)), "the client did not finish\n\(client.transcript)")
            try #require(clientExit.status == 0 && !clientExit.bySignal, "the client failed: \(clientExit)\n\(client.transcript)")
            try? await Task.sleep(for: .milliseconds(300))
            let exit = try #require(await interrupt(capture), "wirelat capture did not stop within 20 s of SIGINT\n\(capture.transcript)")
            #expect(exit.status == 0 && !exit.bySignal, "wirelat capture: \(exit)\n\(capture.transcript)")

            // The JSON: rtt_ns is the wire clock, both clocks present with rtt_ns's keys.
            let report = try readJSON(clientPath)
            #expect(report["clock"] as? String == "wire", "clock: \(report["clock"] ?? "absent")")
            #expect(report["wire_clock_missing"] == nil)
            let rtt = try #require(report["rtt_ns"] as? [String: Any])
            let wire = try #require(report["wire_rtt_ns"] as? [String: Any], "wire_rtt_ns is missing")
            let app = try #require(report["app_rtt_ns"] as? [String: Any], "app_rtt_ns is missing")
            for summary in [rtt, wire, app] { #expect(Set(summary.keys) == Set(Self.summaryKeys), "keys: \(summary.keys.sorted())") }
            #expect(number(rtt["p50"]) == number(wire["p50"]) && number(rtt["max"]) == number(wire["max"]), "rtt_ns is not the wire clock")
            let intervals = try #require(report["intervals"] as? [[String: Any]])
            #expect(!intervals.isEmpty && intervals.allSatisfy { $0["wire_rtt_ns"] is [String: Any] && $0["app_rtt_ns"] is [String: Any] },
                    "an interval lacks a clock")
            let samples = try #require(integer(report["samples"]))
            #expect(samples > 1000, "only \(samples) round trips")
            #expect(integer(report["kernel_timestamp_fallbacks"]) == 0, "round trips without a kernel timestamp: \(report["kernel_timestamp_fallbacks"] ?? "?")")

            // Against the wire as the capture saw it, and the application's own wait.
            let wireP50 = try #require(number(wire["p50"]))
            let appP50 = try #require(number(app["p50"]))
            let captured = try #require(rttSummary(rttMethods(try readJSON(capturePath))["reqresp"], "p50"), "no reqresp p50 in the capture")
            #expect(abs(wireP50 - captured) <= 10_000, "client wire p50 \(wireP50) ns, capture reqresp p50 \(captured) ns: more than 10 µs apart")
            // The app clock holds the wire's round trip plus at least the send and receive calls.
            #expect(appP50 > wireP50, "app p50 \(appP50) ns ≤ wire p50 \(wireP50) ns")

            // The text: a wire row, an app row, and the host overhead line with the JSON's difference.
            let text = client.stdout
            let rows = lines(text).filter { $0.hasPrefix("  wire ") || $0.hasPrefix("  app ") }
            #expect(rows.count == 2, "the table's rows: \(rows)\n\(text)")
            let overhead = String(format: "%.1f", (appP50 - wireP50) / 1000)
            #expect(text.contains("  host overhead (app − wire) p50 \(overhead) µs: system calls and wake-ups on this host\n"),
                    "no host overhead line of \(overhead) µs:\n\(text)")

            // --samples: one line per round trip, both clocks, app never below wire.
            let sampleText = try String(contentsOfFile: samplesPath, encoding: .utf8)
            var wires: [Int] = []
            var bad: [String] = []
            for line in sampleText.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["method"] as? String == "tcp-reqresp",
                      let time = integer(object["time_ns"]), time > 1_600_000_000_000_000_000,
                      let w = integer(object["wire_rtt_ns"]), let a = integer(object["app_rtt_ns"]), w > 0, a >= w else {
                    bad.append(String(line))
                    continue
                }
                wires.append(w)
            }
            #expect(bad.isEmpty, "\(bad.count) --samples lines are not {method,time_ns,wire_rtt_ns,app_rtt_ns} with app ≥ wire: \(bad.prefix(3))")
            #expect(wires.count == samples, "--samples holds \(wires.count) round trips, the report \(samples)")
            wires.sort()
            if !wires.isEmpty {
                let median = Double(wires[(wires.count - 1) / 2])
                #expect(abs(median - wireP50) <= wireP50 * 0.01 + 1_000, "--samples' wire median \(median) ns, the report's p50 \(wireP50) ns")
            }

            // --hgrm: one section per clock; its percentiles and count are the JSON's, within
            // the histogram's precision (0.1%) and the text's (1 µs: values in ms, 3 decimals).
            let sections = try readHgrmSections(hgrmPath)
            let names = sections.map { "\($0.method) \($0.clock)" }
            #expect(names.sorted() == ["tcp-reqresp app", "tcp-reqresp wire"], "sections: \(names)")
            for (name, summary) in [("tcp-reqresp wire", wire), ("tcp-reqresp app", app)] {
                let section = try #require(sections.first { "\($0.method) \($0.clock)" == name })
                for (percentile, key) in [(0.5, "p50"), (0.9, "p90")] {
                    let fromFile = try #require(section.nanoseconds(atPercentile: percentile), "\(name): no \(key) line")
                    let fromJSON = try #require(number(summary[key]))
                    #expect(abs(fromFile - fromJSON) <= fromJSON * 0.001 + 1_000, "\(name) \(key): .hgrm \(fromFile) ns, JSON \(fromJSON) ns")
                }
                #expect(section.totalCount == samples, "\(name): .hgrm counts \(section.totalCount ?? -1), the report \(samples)")
                let max = try #require(number(summary["max"]))
                let maxFromFile = try #require(section.maxMilliseconds, "\(name): no #[Max] line") * 1e6
                #expect(abs(maxFromFile - max) <= max * 0.001 + 1_000, "\(name) max: .hgrm \(maxFromFile) ns, JSON \(max) ns")
            }
        }
    }

    @Test("--timestamps monotonic and async mode: the app clock alone, the report says why the wire clock is missing; bad --timestamps and --wire-every values exit 64")
    func appClockOnly() async throws {
        try await withLoopbackServer("clock-app", port: 23_612) { dir, port, _ in
            let jsonPath = dir.file("app.json")
            let r = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--duration", "300ms", "--timestamps", "monotonic",
                                          "--json", jsonPath], in: dir)
            #expect(r.exit.status == 0, "\(r.stderr)")
            let json = try readJSON(jsonPath)
            #expect(json["clock"] as? String == "app" && json["app_rtt_ns"] is [String: Any] && json["wire_rtt_ns"] == nil)
            #expect((json["wire_clock_missing"] as? String)?.contains("--timestamps monotonic") == true, "\(json["wire_clock_missing"] ?? "absent")")
            #expect(number((json["rtt_ns"] as? [String: Any])?["p50"]) == number((json["app_rtt_ns"] as? [String: Any])?["p50"]))
            #expect(r.stdout.contains("  wire clock missing: --timestamps monotonic") && !r.stdout.contains("host overhead"), "\(r.stdout)")

            let bad = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--timestamps", "tsc"], in: dir)
            #expect(bad.exit.status == 64, "\(bad.exit)")
            #expect(bad.stderr.contains("monotonic") && bad.stderr.contains("kernel"), "\(bad.stderr)")

            // Async mode: the app clock, and why not the wire one.
            let asyncPath = dir.file("async.json")
            let streamed = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--duration", "300ms", "--mode", "async",
                                                 "--length", "1000", "--json", asyncPath], in: dir)
            #expect(streamed.exit.status == 0, "\(streamed.stderr)")
            let asyncReport = try readJSON(asyncPath)
            #expect(asyncReport["clock"] as? String == "app" && asyncReport["wire_rtt_ns"] == nil && asyncReport["app_rtt_ns"] is [String: Any])
            #expect((asyncReport["wire_clock_missing"] as? String)?.hasPrefix("async mode") == true, "\(asyncReport["wire_clock_missing"] ?? "absent")")

            let never = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--wire-every", "0"], in: dir)
            #expect(never.exit.status == 64 && never.stderr.contains("--wire-every"), "\(never.exit) \(never.stderr)")
        }
    }
}
