import Foundation
import Testing

@Suite("wirelat model, the release binary", .timeLimit(.minutes(1)))
struct ModelCommandEndToEnd {
    private func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any], "not a JSON object:\n\(text)")
    }

    @Test("the worked example as JSON on standard output")
    func workedExampleJSON() async throws {
        let dir = try ScratchDirectory("model-json")
        defer { dir.remove() }
        let result = try await runWirelat(["model", "--rtt", "0.685ms", "--tps", "854", "--predict", "0.161ms,0.021ms", "--json", "-"], in: dir)
        #expect(result.exit.status == 0 && !result.exit.bySignal, "\(result.exit)\n\(result.stderr)")
        #expect(result.stderr.isEmpty, "stderr: \(result.stderr)")
        let report = try json(result.stdout)
        #expect(report["command"] as? String == "model")
        #expect(String(format: "%.3f", number(report["processing_ms"]) ?? 0) == "0.486")
        #expect(number(report["rtt_ms"]) == 0.685)
        #expect(number(report["tps"]) == 854)
        #expect(number(report["roundtrips"]) == 1)
        #expect(abs((number(report["network_share"]) ?? 0) - 0.58499) < 1e-9)
        let predictions = try #require(report["predictions"] as? [[String: Any]])
        #expect(predictions.map { number($0["rtt_ms"]) } == [0.161, 0.021])
        #expect(predictions.map { String(format: "%.1f", number($0["tps"]) ?? 0) } == ["1545.7", "1972.5"])
        #expect(report["fit"] == nil, "no sweep was given, so there is no fit")
        #expect((report["conclusion"] as? String)?.hasPrefix("at 0.685 ms, 58% of each transaction is network; on a 0.161 ms network this workload would do about 1546 TPS (+81%)") == true)
    }

    @Test("the table, the sentence and a self-contained page")
    func tableAndPage() async throws {
        let dir = try ScratchDirectory("model-text")
        defer { dir.remove() }
        let page = dir.file("model.html")
        let result = try await runWirelat(["model", "--rtt", "0.161ms", "--tps", "1567", "--predict", "0.685ms", "--html", page], in: dir)
        #expect(result.exit.status == 0, "\(result.exit)\n\(result.stderr)")
        for text in ["processing      0.477 ms", "1567.0  measured", "At 0.161 ms, 25% of each transaction is network"] {
            #expect(result.stdout.contains(text), "the table lacks \"\(text)\":\n\(result.stdout)")
        }
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("measured 1567 TPS @ 0.161 ms"))
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href="))
    }

    @Test("impossible values and bad reports: one line on stderr, exit 2", arguments: [
        (["--rtt", "1.2ms", "--tps", "854"], "must stay under 1 s"),
        (["--rtt", "0.5ms", "--tps", "1000", "--roundtrips", "2"], "must stay under 1 s"),
        (["--rtt", "-1ms", "--tps", "854"], "--rtt: an RTT cannot be negative"),
        (["--rtt", "0.685ms", "--tps", "0"], "--tps must be more than 0"),
        (["--rtt", "0.685ms", "--tps", "-854"], "--tps must be more than 0"),
        (["--rtt", "0.685ms", "--tps", "854", "--predict", "0.1ms,-0.2ms"], "--predict: an RTT cannot be negative"),
        (["--rtt", "0.685ms", "--tps", "854", "--from", "empty.json"], "empty.json is empty"),
        (["--rtt", "0.685ms", "--tps", "854", "--from", "missing.json"], "cannot read"),
        (["--rtt", "0.685ms", "--tps", "854", "--from", "compare.json"], "is a compare report"),
        (["--tps", "854", "--from", "async.json"], "in async mode"),
    ])
    func impossible(arguments: [String], message: String) async throws {
        let dir = try ScratchDirectory("model-bad")
        defer { dir.remove() }
        try Data().write(to: URL(fileURLWithPath: dir.file("empty.json")))
        try Data(#"{"command":"compare","methods":[]}"#.utf8).write(to: URL(fileURLWithPath: dir.file("compare.json")))
        let async = #"{"command":"client","mode":"async","target":"a:1","length":0,"connections":1,"samples":5,"roundtrips_per_s":5,"duration_s":1,"rtt_ns":{"mean":1,"p50":1}}"#
        try Data(async.utf8).write(to: URL(fileURLWithPath: dir.file("async.json")))
        let resolved = arguments.map { $0.hasSuffix(".json") ? dir.file($0) : $0 }
        let result = try await runWirelat(["model"] + resolved, in: dir)
        #expect(result.exit.status == 2 && !result.exit.bySignal, "\(arguments): \(result.exit)\n\(result.stderr)")
        #expect(lines(result.stderr).count == 1, "\(arguments): not one line:\n\(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): stderr lacks \"\(message)\":\n\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(arguments): printed a model anyway:\n\(result.stdout)")
    }

    @Test("bad option syntax exits 64 naming the option", arguments: [
        (["--rtt", "12xs", "--tps", "854"], "--rtt"),
        (["--rtt", "0.685ms", "--tps", "lots"], "--tps"),
        (["--rtt", "0.685ms", "--tps", "854", "--predict", "0.1ms,,0.2ms"], "--predict"),
        (["--rtt", "0.685ms", "--tps", "854", "--fit-on", "max"], "--fit-on"),
        (["--tps", "854"], "--rtt"),
        (["--rtt", "0.685ms"], "--tps"),
    ])
    func badSyntax(arguments: [String], option: String) async throws {
        let dir = try ScratchDirectory("model-usage")
        defer { dir.remove() }
        let result = try await runWirelat(["model"] + arguments, in: dir)
        #expect(result.exit.status == 64 && !result.exit.bySignal, "\(arguments): \(result.exit)\n\(result.stderr)")
        #expect(result.stderr.contains(option), "\(arguments): stderr does not name \(option):\n\(result.stderr)")
    }

    @Test("--from a real client --sweep on loopback: a fitted line over every size")
    func sweepFit() async throws {
        let dir = try ScratchDirectory("model-sweep")
        defer { dir.remove() }
        let port = freePort(23_700)
        let server = try await startServer(["--bind", "127.0.0.1", "--port", "\(port)"], in: dir)
        defer { server.kill() }
        let sweepPath = dir.file("sweep.json")
        // 64 KiB joins the brief's 0, 1000 and 8000: on loopback a few KiB cost well under a
        // microsecond, inside the noise of a busy machine; 64 KiB costs several.
        let client = try await runWirelat(
            ["client", "127.0.0.1", "--port", "\(port)", "--sweep", "0,1000,8000,65536", "--duration", "1s", "--json", sweepPath],
            in: dir, name: "client", timeout: .seconds(30))
        #expect(client.exit.status == 0, "\(client.exit)\n\(client.stderr)")

        let result = try await runWirelat(["model", "--from", sweepPath, "--tps", "1000", "--payload", "8000", "--json", "-"], in: dir)
        #expect(result.exit.status == 0, "\(result.exit)\n\(result.stderr)")
        let report = try json(result.stdout)
        let fit = try #require(report["fit"] as? [String: Any], "no fit:\n\(result.stdout)")
        // The slope of a real loopback sweep is inside the noise of a busy machine, so
        // its sign is not asserted here (the synthetic fit in ModelTests checks the
        // arithmetic); what a user relies on is a complete fit over every size.
        let perByte = try #require(number(fit["per_byte_us"]))
        #expect(perByte.isFinite)
        let r2 = try #require(number(fit["r2"]))
        #expect(r2 >= 0 && r2 <= 1)
        #expect(number(fit["base_ms"]) != nil)
        #expect((fit["points"] as? [Any])?.count == 4)
        #expect(fit["statistic"] as? String == "p50")
        #expect(number(report["payload_bytes"]) == 8000)
        // With no --rtt the line gives the RTT at the payload.
        let base = number(fit["base_ms"]) ?? 0
        #expect(abs((number(report["rtt_ms"]) ?? 0) - (base + 8000 * perByte / 1000)) < 1e-9)
    }

    @Test("--from a client report against a server with think time: processing is the think time")
    func clientReport() async throws {
        let dir = try ScratchDirectory("model-client")
        defer { dir.remove() }
        let port = freePort(23_800)
        let server = try await startServer(["--bind", "127.0.0.1", "--port", "\(port)", "--think-time", "300us"], in: dir)
        defer { server.kill() }
        let clientPath = dir.file("client.json")
        let client = try await runWirelat(
            ["client", "127.0.0.1", "--port", "\(port)", "--duration", "1s", "--json", clientPath], in: dir, name: "client")
        #expect(client.exit.status == 0, "\(client.exit)\n\(client.stderr)")

        let result = try await runWirelat(["model", "--from", clientPath, "--json", "-"], in: dir)
        #expect(result.exit.status == 0, "\(result.exit)\n\(result.stderr)")
        let report = try json(result.stdout)
        let processing = try #require(number(report["processing_ms"]))
        // The think time, plus the client's own time between a reply and the next request.
        #expect(processing >= 0.3 && processing < 2, "processing \(processing) ms:\n\(result.stdout)")
        let sources = try #require(report["sources"] as? [[String: Any]])
        #expect(sources.first?["provides"] as? [String] == ["rtt", "tps"])
    }
}
