import Foundation
import Testing
@preconcurrency import Glibc

@Suite("wirelat client and server, the release binary", .timeLimit(.minutes(1)))
struct ClientServerEndToEnd {
    @Test("client --help exits 0 and lists the options")
    func help() async throws {
        let dir = try ScratchDirectory("help")
        defer { dir.remove() }
        let result = try await runWirelat(["client", "--help"], in: dir)
        #expect(result.exit.status == 0 && !result.exit.bySignal, "\(result.exit)\n\(result.stderr)")
        for option in ["--mode", "--length", "--duration", "--connections", "--sweep", "--json"] {
            #expect(result.stdout.contains(option), "--help does not mention \(option)")
        }
    }

    @Test("bad options exit 64 with a message naming the option", arguments: [
        (["client", "127.0.0.1", "--connections", "0"], "--connections"),
        (["client", "127.0.0.1", "--duration", "12xs"], "--duration"),
        (["client", "127.0.0.1", "--mode", "bogus"], "--mode"),
        (["client", "127.0.0.1", "-num_conn=0"], "--connections"),
    ])
    func badOptions(arguments: [String], option: String) async throws {
        let dir = try ScratchDirectory("usage")
        defer { dir.remove() }
        let result = try await runWirelat(arguments, in: dir)
        #expect(result.exit.status == 64 && !result.exit.bySignal, "\(arguments): \(result.exit)")
        #expect(result.stderr.contains(option), "\(arguments): stderr does not name \(option):\n\(result.stderr)")
        #expect(!result.stdout.contains("[Requesting a test]"), "\(arguments): a test was started")
    }

    @Test("the oratcptest note's worked example, spelled exactly as there")
    func workedExample() async throws {
        try await withLoopbackServer("worked", port: 23_100, serverArguments: { ["-port=\($0)"] }) { dir, port, _ in
            let client = try await runWirelat(
                ["client", "127.0.0.1", "-mode=sync", "-length=0", "-duration=1s", "-interval=1s", "-port=\(port)"], in: dir, name: "client")
            #expect(client.exit.status == 0 && !client.exit.bySignal, "\(client.exit)\n\(client.stderr)")
            for text in ["[Requesting a test]", "The server is ready.", "Test finished.", "Avg. latency", "p99.9", "127.0.0.1:\(port)"] {
                #expect(client.stdout.contains(text), "the report lacks \"\(text)\":\n\(client.stdout)")
            }
            #expect(client.stderr.isEmpty, "stderr: \(client.stderr)")
        }
    }

    @Test("--json holds every key INTERFACE.md lists for client reports")
    func jsonKeys() async throws {
        try await withLoopbackServer("json", port: 23_200) { dir, port, _ in
            let jsonPath = dir.file("report.json")
            let client = try await runWirelat(
                ["client", "127.0.0.1", "--port", "\(port)", "--duration", "2s", "--interval", "1s", "--json", jsonPath], in: dir, name: "client")
            #expect(client.exit.status == 0, "\(client.exit)\n\(client.stderr)")
            let json = try readJSON(jsonPath)
            #expect(json["command"] as? String == "client")
            #expect(json["method"] as? String == "tcp-reqresp")
            #expect(json["target"] as? String == "127.0.0.1:\(port)")
            #expect(json["mode"] as? String == "sync")
            #expect(integer(json["length"]) == 0)
            #expect(integer(json["connections"]) == 1)
            #expect((integer(json["samples"]) ?? 0) > 0, "samples: \(String(describing: json["samples"]))")
            #expect((number(json["roundtrips_per_s"]) ?? 0) > 0)
            #expect(number(json["throughput_bytes_per_s"]) != nil)
            let rtt = try #require(json["rtt_ns"] as? [String: Any], "rtt_ns is missing or not an object")
            for key in ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"] {
                #expect(number(rtt[key]) != nil, "rtt_ns.\(key) is missing")
            }
            #expect((integer(rtt["min"]) ?? 0) > 0)
            #expect((integer(rtt["min"]) ?? 0) <= (integer(rtt["max"]) ?? 0))
            let intervals = try #require(json["intervals"] as? [[String: Any]], "intervals is missing or not an array of objects")
            #expect(!intervals.isEmpty)
            for interval in intervals {
                #expect(integer(interval["samples"]) != nil, "an interval without samples: \(interval)")
                #expect(interval["rtt_ns"] is [String: Any], "an interval without rtt_ns: \(interval)")
            }
            #expect(json["completed"] as? Bool == true)
        }
    }

    @Test("--json -: standard output is the JSON object alone, the text report goes to standard error")
    func jsonToStandardOutput() async throws {
        try await withLoopbackServer("json-stdout", port: 23_250) { dir, port, _ in
            let client = try await runWirelat(
                ["client", "127.0.0.1", "--port", "\(port)", "--duration", "1s", "--json", "-"], in: dir, name: "client")
            #expect(client.exit.status == 0, "\(client.exit)\n\(client.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(client.stdout.utf8)) as? [String: Any]
            #expect(object?["command"] as? String == "client", "stdout is not one JSON object:\n\(client.stdout)")
            #expect(client.stderr.contains("Test finished."), "the text report is not on stderr:\n\(client.stderr)")
        }
    }

    @Test("the server killed mid-test: exit 1, one line on stderr, and a JSON report of what was measured")
    func serverKilledMidTest() async throws {
        try await withLoopbackServer("kill", port: 23_300) { dir, port, server in
            let jsonPath = dir.file("report.json")
            let client = try await startClient(["127.0.0.1", "--port", "\(port)", "--duration", "30s", "--json", jsonPath], in: dir)
            defer { client.kill() }
            try await Task.sleep(for: .seconds(1))
            server.signal(SIGKILL)
            let exit = try #require(await client.waitForExit(timeout: .seconds(15)), "the client did not notice its server died\n\(client.transcript)")
            #expect(exit.status == 1 && !exit.bySignal, "\(exit)\n\(client.transcript)")
            let errorLines = lines(client.stderr)
            #expect(errorLines.count == 1, "stderr should be one line:\n\(client.stderr)")
            #expect(errorLines.first?.hasPrefix("wirelat: ") == true)
            let json = try readJSON(jsonPath)
            #expect(json["completed"] as? Bool == false)
            #expect((integer(json["samples"]) ?? 0) > 0)
            #expect((json["error"] as? String)?.isEmpty == false)
        }
    }

    @Test("a server that stops answering mid-test (strace holds its first reply 60 s): 5 s after the test ends with nothing from it, exit 1 saying so, and a JSON report")
    func serverSilentMidTest() async throws {
        let dir = try ScratchDirectory("silent")
        defer { dir.remove() }
        let port = freePort(23_800)
        // The server's first send(2) is the ready message; the second, its first reply, waits 60 s.
        let strace = ["/usr/bin/strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=sendto",
                      "-e", "inject=sendto:delay_enter=60000000:when=2+", "-o", "/dev/null"]
        let server = try await startServer(["--port", "\(port)"], prefix: strace, in: dir)
        defer { killTraced(server) }
        let jsonPath = dir.file("report.json")
        let client = try await runWirelat(
            ["client", "127.0.0.1", "--port", "\(port)", "--duration", "1s", "--json", jsonPath], in: dir, name: "client", timeout: .seconds(30))
        #expect(client.exit.status == 1 && !client.exit.bySignal, "\(client.exit)\n\(client.stdout)\n\(client.stderr)")
        let errorLines = lines(client.stderr)
        #expect(errorLines.count == 1, "stderr should be one line:\n\(client.stderr)")
        #expect(errorLines.first?.contains("nothing from the server for 5s") == true, "\(client.stderr)")
        #expect(client.stdout.contains("The server is ready."), "\(client.stdout)")
        let json = try readJSON(jsonPath)
        #expect(json["completed"] as? Bool == false)
        #expect((json["error"] as? String)?.contains("nothing from the server") == true, "\(String(describing: json["error"]))")
    }

    @Test("nothing listening: exit 1 with one line on stderr")
    func connectionRefused() async throws {
        let dir = try ScratchDirectory("refused")
        defer { dir.remove() }
        let port = freePort(23_400)
        let client = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--duration", "1s"], in: dir)
        #expect(client.exit.status == 1 && !client.exit.bySignal, "\(client.exit)\n\(client.stderr)")
        let errorLines = lines(client.stderr)
        #expect(errorLines.count == 1, "stderr should be one line:\n\(client.stderr)")
        #expect(errorLines.first?.lowercased().contains("refused") == true, "\(client.stderr)")
    }

    @Test("Ctrl-C mid-test: exit 0, the report is printed, and the JSON says interrupted")
    func interrupted() async throws {
        try await withLoopbackServer("sigint", port: 23_500) { dir, port, _ in
            let jsonPath = dir.file("report.json")
            let client = try await startClient(["127.0.0.1", "--port", "\(port)", "--duration", "30s", "--json", jsonPath], in: dir)
            defer { client.kill() }
            try await Task.sleep(for: .milliseconds(1500))
            client.signal(SIGINT)
            let exit = try #require(await client.waitForExit(timeout: .seconds(15)), "the client ignored SIGINT\n\(client.transcript)")
            #expect(exit.status == 0 && !exit.bySignal, "\(exit)\n\(client.transcript)")
            #expect(client.stdout.contains("Test finished."), "\(client.stdout)")
            #expect(client.stdout.contains("Avg. latency"), "\(client.stdout)")
            let json = try readJSON(jsonPath)
            #expect(json["interrupted"] as? Bool == true)
            #expect((integer(json["samples"]) ?? 0) > 0)
            #expect((number(json["duration_s"]) ?? 30) < 30, "the report covers the whole 30 s: \(String(describing: json["duration_s"]))")
        }
    }

    @Test("--sweep 0,100: a table with both lengths, and a 2-element sweep array in the JSON")
    func sweep() async throws {
        try await withLoopbackServer("sweep", port: 23_600) { dir, port, _ in
            let jsonPath = dir.file("report.json")
            let client = try await runWirelat(
                ["client", "127.0.0.1", "--port", "\(port)", "--sweep", "0,100", "--duration", "1s", "--json", jsonPath], in: dir, name: "client")
            #expect(client.exit.status == 0, "\(client.exit)\n\(client.stderr)")
            let table = try #require(client.stdout.range(of: "Payload sweep,"), "no sweep table:\n\(client.stdout)")
            let rows = lines(String(client.stdout[table.upperBound...])).dropFirst(2).map { $0.split(separator: " ") }
            #expect(rows.contains { $0.first == "0" && $0.count >= 8 }, "no row for length 0:\n\(client.stdout)")
            #expect(rows.contains { $0.first == "100" && $0.count >= 8 }, "no row for length 100:\n\(client.stdout)")
            let json = try readJSON(jsonPath)
            let sweep = try #require(json["sweep"] as? [[String: Any]], "no sweep array in the JSON")
            #expect(sweep.count == 2)
            #expect(sweep.map { integer($0["length"]) } == [0, 100])
            for report in sweep {
                #expect((integer(report["samples"]) ?? 0) > 0, "\(report)")
            }
        }
    }

    @Test("a slow disk (strace delays every fsync 50 ms): async --write ends with a backlog longer than 5 s to drain; the client waits for it while acks keep coming, every message is written and fsynced, and the file is removed at the end")
    func slowDiskBacklog() async throws {
        let dir = try ScratchDirectory("slowdisk")
        defer { dir.remove() }
        let disk = dir.file("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let port = freePort(23_700)
        let strace = ["/usr/bin/strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=fsync", "-e", "inject=fsync:delay_exit=50000", "-o", "/dev/null"]
        let server = try await startServer(["--port", "\(port)", "--write-dir", disk], prefix: strace, in: dir)
        defer { killTraced(server) }
        let jsonPath = dir.file("report.json")
        let length = 16_000
        let started = ContinuousClock.now
        let client = try await runWirelat(
            ["client", "127.0.0.1", "--port", "\(port)", "--mode", "async", "--length", "\(length)", "--write",
             "--duration", "1s", "--json", jsonPath], in: dir, name: "client", timeout: .seconds(45))
        let elapsed = ContinuousClock.now - started
        #expect(client.exit.status == 0, "\(client.exit)\n\(client.stderr)")
        #expect(elapsed > .seconds(6), "the client finished in \(elapsed): the backlog did not outlast the 5 s without replies it tolerates, so this proves nothing")
        let json = try readJSON(jsonPath)
        #expect(json["completed"] as? Bool == true, "\(String(describing: json["error"]))")
        let side = try #require(json["server"] as? [String: Any], "no server summary in the JSON")
        let messages = try #require(integer(side["messages"]))
        #expect(messages > 0)
        #expect(integer(side["fsyncs"]) == messages, "\(String(describing: side["fsyncs"])) fsyncs for \(messages) messages")
        #expect((integer(side["fsync_mean_ns"]) ?? 0) >= 50_000_000, "fsync mean \(String(describing: side["fsync_mean_ns"])) ns: strace did not slow the disk")
        #expect(await server.waitForOutput("disk_bytes=\(messages * length) ", timeout: .seconds(5)),
                "the server's line does not show \(messages) messages of \(length) bytes written\n\(server.transcript)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty, "the server left its data file in \(disk)")
    }
}

/// Kills a process started under strace: the traced children first (killing strace alone
/// would leave them running, detached), then strace. Also kills an untraced process.
func killTraced(_ tracer: Spawned) {
    let children = (try? String(contentsOfFile: "/proc/\(tracer.pid)/task/\(tracer.pid)/children", encoding: .utf8)) ?? ""
    for child in children.split(separator: " ").compactMap({ pid_t($0) }) { _ = Glibc.kill(child, SIGKILL) }
    tracer.kill()
}
