import Foundation
import Testing
import WirelatTestSupport
@preconcurrency import Glibc
import WirelatIO

// `wirelat lab` end to end: the real binary makes the namespaces and starts its delay line;
// ping and the wirelat client measure across it. The lab's names are fixed, so the suite is
// serialized, and every test takes the lab down on the way out, whatever happened.

enum LabSupport {
    static let available: Bool = {
        let ok = NamespaceSupport.available && FileManager.default.fileExists(atPath: "/dev/net/tun")
            && FileManager.default.isExecutableFile(atPath: ping)
        if !ok {
            FileHandle.standardError.write(Data("EndToEndTests: SKIPPING the lab tests: they need root, iproute2, ping and /dev/net/tun\n".utf8))
        }
        return ok
    }()

    static let ping = ["/usr/bin/ping", "/bin/ping"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/ping"
    static let stateDirectories = ["/run/wirelat-lab", "/tmp/wirelat-lab"]
    /// Every namespace a lab may make: the hosts a to p of `--hosts 16` and the router.
    static let namespaces = "abcdefghijklmnop".map { "wirelat-\($0)" } + ["wirelat-router"]

    /// `wirelat lab down`, synchronously, for `defer`: it is bounded by the command's own
    /// 2-second kill timeout.
    static func downNow() {
        guard let binary = try? WirelatBinary.require() else { return }
        guard let child = try? TestChild(binary, ["lab", "down"]) else { return }
        _ = child.waitBlocking(timeout: .seconds(20))
    }

    /// True when nothing of a lab is left: no namespace of the lab's names, no delay line,
    /// no state directory; otherwise what is left.
    static func leftovers() -> [String] {
        namespaces.filter { FileManager.default.fileExists(atPath: "/run/netns/\($0)") }.map { "namespace \($0)" }
            + delayLinePids().map { "delay line pid \($0)" }
            + stateDirectories.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Live `wirelat lab delay-line` processes, from /proc.
    static func delayLinePids() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard argv.count >= 3, argv[1] == "lab", argv[2] == "delay-line" else { return false }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return !stat.contains(") Z ")
        }
    }
}

/// What ping printed: counts, the summary line's average and every reply's time.
struct PingResult {
    var transmitted = 0
    var received = 0
    var averageMilliseconds: Double?
    var replyMilliseconds: [Double] = []
    var lossPercent: Double { transmitted == 0 ? 100 : 100 * Double(transmitted - received) / Double(transmitted) }

    var medianMilliseconds: Double? {
        guard !replyMilliseconds.isEmpty else { return nil }
        let sorted = replyMilliseconds.sorted()
        return sorted[sorted.count / 2]
    }

    init(parsing text: String) {
        for line in lines(text) {
            if let range = line.range(of: "time=") {
                let value = line[range.upperBound...].prefix { $0.isNumber || $0 == "." }
                if let v = Double(value) { replyMilliseconds.append(v) }
            } else if line.contains("packets transmitted") {
                let numbers = line.split(separator: " ").compactMap { Int($0) }
                if numbers.count >= 2 { transmitted = numbers[0]; received = numbers[1] }
            } else if line.hasPrefix("rtt ") || line.hasPrefix("round-trip") {
                let fields = line.split(separator: "=").last?.split(separator: "/") ?? []
                if fields.count >= 2 { averageMilliseconds = Double(fields[1].trimmingCharacters(in: .whitespaces)) }
            }
        }
    }
}

@Suite("wirelat lab: two namespaces joined by the delay line", .serialized)
struct LabEndToEnd {
    let binary: String
    let dir: ScratchDirectory

    init() throws {
        binary = try WirelatBinary.require()
        dir = try ScratchDirectory("lab")
    }

    func lab(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (exit: Spawned.Exit, stdout: String, stderr: String) {
        try await runWirelat(["lab"] + arguments, in: dir, name: "lab-\(arguments.first ?? "")-\(UInt32.random(in: 0...UInt32.max))", timeout: timeout)
    }

    func up(_ arguments: [String]) async throws {
        LabSupport.downNow()
        let r = try await lab(["up"] + arguments)
        try #require(r.exit.status == 0 && !r.exit.bySignal, "lab up \(arguments) failed (\(r.exit)): \(r.stderr)")
        #expect(r.stdout.contains("10.77.0.1") && r.stdout.contains("10.77.0.2") && r.stdout.contains("fd00:77::2"), "\(r.stdout)")
    }

    func ping(from side: String, _ target: String, count: Int, interval: String = "0.01", extra: [String] = []) async throws -> PingResult {
        let r = try await lab(["exec", side, "--", LabSupport.ping, "-n", "-c", "\(count)", "-i", interval, "-W", "1"] + extra + [target],
                              timeout: .seconds(60))
        return PingResult(parsing: r.stdout)
    }

    func status() async throws -> [String: Any] {
        let r = try await lab(["status", "--json", "-"])
        try #require(r.exit.status == 0, "lab status failed (\(r.exit)): \(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        return try #require(object as? [String: Any], "lab status --json - printed \(r.stdout)")
    }

    func directions(_ status: [String: Any]) -> [String: [String: Any]] {
        let list = status["directions"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: list.map { (($0["direction"] as? String) ?? "?", $0) })
    }

    /// Runs a wirelat server in b (one test) and a client in a; the client's JSON report.
    func clientAcross(_ clientArguments: [String], server serverArguments: [String] = [],
                      timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        let port: UInt16 = 5601
        let server = try await startServer(["--port", "\(port)", "--max-tests", "1"] + serverArguments,
                                           prefix: [binary, "lab", "exec", "b", "--"], in: dir)
        defer { server.kill() }
        let json = dir.file("client-\(UInt32.random(in: 0...UInt32.max)).json")
        let client = try await lab(["exec", "a", "--", binary, "client", "10.77.0.2", "--port", "\(port)", "--json", json] + clientArguments,
                                   timeout: timeout)
        try #require(client.exit.status == 0, "client failed (\(client.exit))\n\(client.stdout)\n\(client.stderr)")
        _ = await server.waitForExit(timeout: .seconds(5))
        return try readJSON(json)
    }

    @Test("delay 1ms: ping (IPv4 and IPv6) and the wirelat client both see a 2 ms round trip; exec passes exit codes through",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func delayRoundTrip() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        try await up(["--delay", "1ms"])
        let upper = 2.0 * 1.02 + 0.05
        // A few pings first: the first packet after the link was idle waits for the delay
        // line to be woken (see docs/LAB.md), and one such outlier moves a mean.
        _ = try await ping(from: "a", "10.77.0.2", count: 3)
        let v4 = try await ping(from: "a", "10.77.0.2", count: 100)
        #expect(v4.received == 100, "\(v4)")
        // The median, not ping's mean: a reply that waited for a busy CPU (ping's own, the
        // delay line's) is the machine's, not the link's, and one such moves a mean.
        let v4avg = try #require(v4.medianMilliseconds)
        #expect(v4avg >= 1.999 && v4avg <= upper, "ping median \(v4avg) ms, expected 2 ms (≤ \(upper))")
        #expect(v4.replyMilliseconds.allSatisfy { $0 >= 1.999 }, "a reply came back faster than 2 × 1 ms: \(v4.replyMilliseconds.min() ?? 0)")
        _ = try await ping(from: "b", "fd00:77::1", count: 3)
        let v6 = try await ping(from: "b", "fd00:77::1", count: 100)
        #expect(v6.received == 100, "\(v6)")
        let v6avg = try #require(v6.medianMilliseconds)
        #expect(v6avg >= 1.999 && v6avg <= upper, "ping -6 median \(v6avg) ms")

        // Kernel timestamps, as ping takes its own (SO_TIMESTAMP): a user-space clock would
        // add the client's wake-up after 2 ms asleep, which on an idle VM is 30–150 µs and
        // belongs to the client, not to the link.
        let report = try await clientAcross(["--duration", "2s", "--timestamps", "kernel"])
        let rtt = try #require(report["rtt_ns"] as? [String: Any])
        let p50 = Double(try #require(integer(rtt["p50"]))) / 1e6
        // Beside ping on the same link in the same test: ICMP is answered in the peer's
        // kernel, the request in the server process, whose wake-up after 2 ms asleep (20–50 µs
        // on this VM) and both TCP stacks come on top; 100 µs allows for them.
        let clientUpper = v4avg + 0.1
        #expect(p50 >= 1.999 && p50 <= clientUpper, "client p50 \(p50) ms, expected 2 ms (≤ ping's median \(v4avg) ms + 0.1 ms)")
        // How many round trips fit in 2 s depends on how busy the machine is (the server's and
        // the client's wake-ups are inside each exchange); the link's counters must account for
        // every one of them and every ping.
        let samples = integer(report["samples"]) ?? 0
        #expect(samples > 0)
        print("lab delay 1ms: ping median \(v4avg) ms (IPv6 \(v6avg) ms), wirelat client sync p50 \(p50) ms, mean \((number(rtt["mean"]) ?? 0) / 1e6) ms")

        // The delay line rewrites its status every 100 ms; let it catch up with the last packets.
        try await Task.sleep(for: .milliseconds(300))
        let s = try await status()
        #expect(integer(s["delay_ns"]) == 1_000_000)
        let crossings = 2 * (3 + 100) + samples
        for (name, d) in directions(s) {
            #expect((integer(d["sent_packets"]) ?? 0) >= crossings, "\(name): \(d), expected at least \(crossings) packets")
            #expect(integer(d["write_errors"]) == 0 && integer(d["sent_packets"]) == integer(d["read_packets"]),
                    "\(name): with no loss set, every packet read is sent: \(d)")
            let own = d["own_latency"] as? [String: Any] ?? [:]
            #expect((integer(own["samples"]) ?? 0) >= crossings, "\(name): \(own)")
        }
        let text = try await lab(["status"])
        #expect(text.exit.status == 0 && text.stdout.contains("a → b") && text.stdout.contains("own added latency"), "\(text.stdout)")

        let code = try await lab(["exec", "a", "--", "/bin/sh", "-c", "exit 7"])
        #expect(code.exit.status == 7 && !code.exit.bySignal, "\(code.exit)")
        let addresses = try await lab(["exec", "b", "--", NamespaceSupport.ip ?? "ip", "-o", "addr", "show", "dev", "wirelat0"])
        #expect(addresses.stdout.contains("10.77.0.2/24") && addresses.stdout.contains("fd00:77::2/64"), "\(addresses.stdout)")
    }

    @Test("the model, fitted at 200us one way against a server thinking 400us, predicts the TPS measured at 1ms one way within 5%",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func modelPredictsAnotherDelay() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        /// The network's RTT (mean, against a server that answers at once) and the TPS of
        /// a server that thinks 400 µs per request, at one one-way delay.
        func measure(_ delay: String) async throws -> (rttMilliseconds: Double, tps: Double) {
            try await up(["--delay", delay])
            _ = try await ping(from: "a", "10.77.0.2", count: 3)
            let network = try await clientAcross(["--duration", "2s"])
            let thinking = try await clientAcross(["--duration", "3s"], server: ["--think-time", "400us"])
            let rtt = try #require(number((network["rtt_ns"] as? [String: Any])?["mean"]), "\(network)") / 1e6
            let tps = try #require(number(thinking["roundtrips_per_s"]), "\(thinking)")
            return (rtt, tps)
        }
        /// Time per transaction not in transit, in ms: the server's 400 µs think time plus
        /// the two processes' own work, about 0.45 ms on a quiet machine.
        func outside(_ point: (rttMilliseconds: Double, tps: Double)) -> Double { 1000 / point.tps - point.rttMilliseconds }
        // The model holds the time outside the network constant. On a machine so busy that
        // the processes add more than 0.2 ms of their own to the 400 µs think time, or that
        // the network's RTT was measured inflated (the time outside then comes out below the
        // think time), it is not, and the pair is measured again (at most 3 times).
        var attempts: [String] = []
        var pair: (near: (rttMilliseconds: Double, tps: Double), far: (rttMilliseconds: Double, tps: Double))?
        for _ in 0..<3 {
            let near = try await measure("200us")
            let far = try await measure("1ms")
            attempts.append(String(format: "outside the network %.3f ms at 200us, %.3f ms at 1ms", outside(near), outside(far)))
            if [outside(near), outside(far)].allSatisfy({ (0.38...0.6).contains($0) }) {
                pair = (near, far)
                break
            }
        }
        guard let (near, far) = pair else {
            let why = "the machine was too busy to hold a 400 µs think time: \(attempts.joined(separator: "; "))"
            print("model in the lab: not judged, \(why)")
            try Test.cancel("not judged: \(why)")
        }
        let model = try await runWirelat(["model", "--rtt", "\(near.rttMilliseconds)ms", "--tps", "\(near.tps)",
                                          "--predict", "\(far.rttMilliseconds)ms", "--json", "-"], in: dir, name: "model")
        try #require(model.exit.status == 0, "model failed (\(model.exit)): \(model.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(model.stdout.utf8)) as? [String: Any])
        let predictions = try #require(json["predictions"] as? [[String: Any]], "\(json)")
        let predicted = try #require(number(predictions.first?["tps"]), "\(predictions)")
        let error = (predicted - far.tps) / far.tps
        print("model in the lab: fitted at 200us (RTT \(near.rttMilliseconds) ms, \(near.tps) TPS); at 1ms (RTT \(far.rttMilliseconds) ms) predicted \(predicted) TPS, measured \(far.tps): \(error * 100) % (\(attempts.count) attempt\(attempts.count == 1 ? "" : "s"): \(attempts.joined(separator: "; ")))")
        #expect(abs(error) <= 0.05, "predicted \(predicted) TPS at 1ms, measured \(far.tps)")
    }

    @Test("10% loss each way: about 19% of 300 pings are lost (between 10% and 28%)",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func loss() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        try await up(["--loss", "10"])
        let result = try await ping(from: "a", "10.77.0.2", count: 300)
        #expect(result.transmitted == 300, "\(result)")
        #expect(result.lossPercent >= 10 && result.lossPercent <= 28, "ping lost \(result.lossPercent)% with 10% each way")
        print("lab loss 10% each way: ping lost \(result.transmitted - result.received) of \(result.transmitted) (\(result.lossPercent)%)")
        let s = try await status()
        for (name, d) in directions(s) {
            let read = Double(integer(d["read_packets"]) ?? 0)
            let lost = Double(integer(d["dropped_loss"]) ?? 0)
            #expect(read > 0 && lost / read > 0.03 && lost / read < 0.2, "\(name): \(Int(lost)) of \(Int(read)) lost")
        }
    }

    @Test("10 Mbit/s: bulk TCP payload through the lab runs at 8.5–10.5 Mbit/s",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func rate() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        try await up(["--rate", "10M", "--delay", "1ms", "--queue", "100"])
        // Sync requests of 256 KiB: each is a bulk transfer of 181 full segments, and the
        // 2 ms turn-around between them costs about 1 % of the time. (Async mode, which
        // streams, currently breaks the protocol when the socket fills: see docs/LAB.md.)
        let report = try await clientAcross(["--mode", "sync", "--length", "262144", "--duration", "3s"])
        let bytesPerSecond = try #require(number(report["throughput_bytes_per_s"]))
        let megabits = bytesPerSecond * 8 / 1e6
        print("lab rate: wirelat client, sync 256 KiB requests through a 10 Mbit/s lab: \(megabits) Mbit/s of payload")
        #expect(megabits >= 8.5 && megabits <= 10.5, "payload throughput \(megabits) Mbit/s through a 10 Mbit/s link")
        let s = try await status()
        let ab = try #require(directions(s)["a>b"])
        #expect((integer(ab["sent_bytes"]) ?? 0) > 2_000_000, "\(ab)")
    }

    @Test("`lab up` twice fails with exit 1 and leaves one delay line; `lab down` removes everything; with nothing up it succeeds",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(1)))
    func upTwiceAndDown() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        LabSupport.downNow()
        let nothing = try await lab(["down"])
        #expect(nothing.exit.status == 0, "lab down with nothing up: \(nothing.exit) \(nothing.stderr)")
        #expect(nothing.stderr.isEmpty, "\(nothing.stderr)")

        try await up([])
        let pids = LabSupport.delayLinePids()
        #expect(pids.count == 1, "delay lines running: \(pids)")
        let second = try await lab(["up", "--delay", "5ms"])
        #expect(second.exit.status == 1, "second lab up: \(second.exit)")
        #expect(second.stderr.contains("already up"), "\(second.stderr)")
        #expect(LabSupport.delayLinePids() == pids, "a second delay line was started")
        let ping = try await ping(from: "a", "10.77.0.2", count: 3)
        #expect(ping.received == 3, "the first lab stopped working after the second `up`")

        let down = try await lab(["down"])
        #expect(down.exit.status == 0, "\(down.exit) \(down.stderr)")
        #expect(LabSupport.delayLinePids().isEmpty, "a delay line is still running")
        for ns in LabSupport.namespaces {
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(ns)"), "namespace \(ns) left behind")
        }
        for d in LabSupport.stateDirectories {
            #expect(!FileManager.default.fileExists(atPath: d), "\(d) left behind")
        }
        let ip = try #require(NamespaceSupport.ip)
        let links = try await runCommand(ip, ["-o", "link", "show"])
        #expect(!links.contains("wirelat0"), "a TUN device is left in the root namespace: \(links)")
        let tuntap = try await runCommand(ip, ["tuntap", "show"])
        #expect(!tuntap.contains("wirelat0"), "\(tuntap)")
    }

    @Test("a killed delay line: `lab status` says it died (exit 1), `lab down` cleans up",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(1)))
    func deadDaemon() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        try await up([])
        let pid = try #require(LabSupport.delayLinePids().first)
        kill(pid, SIGKILL)
        for _ in 0..<200 where LabSupport.delayLinePids().contains(pid) { try await Task.sleep(for: .milliseconds(10)) }
        let status = try await lab(["status"])
        #expect(status.exit.status == 1, "\(status.exit)")
        #expect(status.stderr.contains("not running") && status.stderr.contains("lab down"), "\(status.stderr)")
        let down = try await lab(["down"])
        #expect(down.exit.status == 0, "\(down.exit) \(down.stderr)")
        for ns in LabSupport.namespaces {
            #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(ns)"), "namespace \(ns) left behind")
        }
        for d in LabSupport.stateDirectories {
            #expect(!FileManager.default.fileExists(atPath: d), "\(d) left behind")
        }
        let after = try await lab(["status"])
        #expect(after.exit.status == 1 && after.stderr.contains("not up"), "\(after.stderr)")
    }

    @Test("a namespace named wirelat-a that the lab did not make: `lab up` refuses and names it, `lab down` and `lab exec` leave it alone",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(1)))
    func foreignNamespace() async throws {
        let ip = try #require(NamespaceSupport.ip)
        LabSupport.downNow()
        _ = try await runCommand(ip, ["netns", "add", "wirelat-a"])
        defer {
            _ = try? runCommandNow(ip, ["netns", "del", "wirelat-a"])
            LabSupport.downNow()
            dir.remove()
        }
        let foreign = "/run/netns/wirelat-a"
        try #require(FileManager.default.fileExists(atPath: foreign), "ip netns add wirelat-a made nothing")

        let refused = try await lab(["up"])
        #expect(refused.exit.status == 1, "lab up beside a foreign wirelat-a: \(refused.exit)")
        #expect(refused.stderr.contains("wirelat-a") && refused.stderr.contains("did not make"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("lab down"), "lab up must not send the user to `lab down` for a namespace it did not make: \(refused.stderr)")
        #expect(LabSupport.delayLinePids().isEmpty, "a delay line was started")
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/wirelat-b"), "lab up left wirelat-b behind")

        let exec = try await lab(["exec", "a", "--", "true"])
        #expect(exec.exit.status == 1 && exec.stderr.contains("did not make"), "lab exec into a foreign namespace: \(exec.exit) \(exec.stderr)")

        let down = try await lab(["down"])
        #expect(down.exit.status == 0, "\(down.exit) \(down.stderr)")
        #expect(down.stderr.contains("wirelat-a") && down.stderr.contains("left alone"), "\(down.stderr)")
        #expect(FileManager.default.fileExists(atPath: foreign), "lab down deleted a namespace the lab did not make")

        // A lab that is up beside the foreign namespace's name being reused: the record
        // names the lab's own namespace; one deleted and made again by someone else is not it.
        _ = try await runCommand(ip, ["netns", "del", "wirelat-a"])
        try await up([])
        _ = try await runCommand(ip, ["netns", "del", "wirelat-a"])
        _ = try await runCommand(ip, ["netns", "add", "wirelat-a"])
        let downAgain = try await lab(["down"])
        #expect(downAgain.exit.status == 0, "\(downAgain.exit) \(downAgain.stderr)")
        #expect(FileManager.default.fileExists(atPath: foreign), "lab down deleted a wirelat-a made after the lab's own was deleted")
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/wirelat-b"), "lab down left its own wirelat-b")
        #expect(LabSupport.delayLinePids().isEmpty, "a delay line is still running")
    }

    @Test("without CAP_NET_ADMIN, lab up exits 3 and names CAP_NET_ADMIN",
          .enabled(if: LabSupport.available && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")),
          .timeLimit(.minutes(1)))
    func withoutPrivilege() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        let child = try Spawned("/usr/bin/setpriv",
                                ["--bounding-set", "-net_admin,-sys_admin", "--inh-caps", "-net_admin,-sys_admin", binary, "lab", "up"],
                                name: "unprivileged", in: dir)
        defer { child.kill() }
        let exit = try #require(await child.waitForExit(timeout: .seconds(20)))
        #expect(exit.status == 3, "\(exit)\n\(child.transcript)")
        #expect(child.stderr.contains("CAP_NET_ADMIN"), "\(child.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/wirelat-a"))
    }

    /// Pings across the lab (up with `labArguments`) and across `pair`'s veth, 4 × 100 each,
    /// interleaved: the added latency per direction, from the medians, in µs.
    func addedLatency(_ labArguments: [String], against pair: NamespacePair) async throws -> Double {
        try await up(["--delay", "0"] + labArguments)
        var labReplies: [Double] = [], vethReplies: [Double] = []
        for _ in 0..<4 {
            labReplies += try await ping(from: "a", "10.77.0.2", count: 100).replyMilliseconds
            let veth = try await runCommand(NamespaceSupport.ip!, ["netns", "exec", pair.clientNamespace, LabSupport.ping, "-n", "-c", "100", "-i", "0.01", pair.serverAddress])
            vethReplies += PingResult(parsing: veth).replyMilliseconds
        }
        try #require(labReplies.count >= 390 && vethReplies.count >= 390, "lab \(labReplies.count), veth \(vethReplies.count) replies")
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] * 1000 }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) * 1000 }
        let perDirection = (median(labReplies) - median(vethReplies)) / 2
        let s = try await status()
        var own: [String] = []
        for (name, d) in directions(s).sorted(by: { $0.key < $1.key }) {
            let o = d["own_latency"] as? [String: Any] ?? [:]
            own.append("\(name) mean \(String(format: "%.2f", (number(o["mean_ns"]) ?? 0) / 1000)) µs p99 \(String(format: "%.2f", (number(o["p99_ns"]) ?? 0) / 1000)) µs")
        }
        let f = { (v: Double) in String(format: "%.1f", v) }
        print("""
            lab \((["--delay", "0"] + labArguments).joined(separator: " ")) vs veth, ping -i 0.01, 400 each: \
            RTT median \(f(median(labReplies))) µs vs \(f(median(vethReplies))) µs, mean \(f(mean(labReplies))) µs vs \(f(mean(vethReplies))) µs; \
            added per direction (medians) \(f(perDirection)) µs; delay line's own (user space): \(own.joined(separator: "; "))
            """)
        LabSupport.downNow()
        return perDirection
    }

    @Test("delay 0: what the delay line adds per direction, against a veth pair in the same run, polling and sleeping",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func ownLatencyAgainstVeth() async throws {
        let pair = NamespacePair()
        defer { LabSupport.downNow(); dir.remove() }
        try await pair.up(in: dir)
        do {
            let polling = try await addedLatency([], against: pair)
            let sleeping = try await addedLatency(["--poll-linger", "0"], against: pair)
            await pair.down(in: dir)
            // By default the delay line polls while packets flow (ping -i 0.01 keeps it
            // polling). With --poll-linger 0 each packet waits for the delay line to be woken,
            // which on an idle VM costs tens of µs. The target is ~15 µs per direction; the
            // bounds leave room for a machine busy with other tests.
            #expect(polling <= 20, "the polling delay line adds \(polling) µs per direction (median) over veth")
            #expect(sleeping <= 60, "the sleeping delay line adds \(sleeping) µs per direction (median) over veth")
        } catch {
            await pair.down(in: dir)
            throw error
        }
    }

    // MARK: N hosts

    /// `lab up` with `arguments` (`--hosts N …`), after taking down whatever was up.
    func upHosts(_ arguments: [String]) async throws -> String {
        LabSupport.downNow()
        let r = try await lab(["up"] + arguments)
        try #require(r.exit.status == 0 && !r.exit.bySignal, "lab up \(arguments) failed (\(r.exit)): \(r.stderr)")
        return r.stdout
    }

    /// Host `index`'s (from 0) letter and addresses in a lab with `--hosts`.
    static func host(_ index: Int) -> (letter: String, ipv4: String, ipv6: String) {
        (String("abcdefghijklmnop".dropFirst(index).prefix(1)), "10.77.0.\(index + 1)", "fd00:77::\(index + 1)")
    }

    /// Asserts that no namespace, delay line or state directory of the lab is left, and no
    /// TUN device of it in the root namespace.
    func expectNothingLeft() async throws {
        #expect(LabSupport.leftovers().isEmpty, "left behind: \(LabSupport.leftovers())")
        let links = try await runCommand(try #require(NamespaceSupport.ip), ["-o", "link", "show"])
        #expect(!links.contains("wirelat0") && !links.contains("spoke-"), "a TUN device is left in the root namespace: \(links)")
    }

    @Test("--hosts 4 with spoke delays 0.2, 0.4, 0.6, 0.8 ms: `lab status` lists 4 hosts and the router; each pair's ping median is 2 × (Di + Dj) plus the star's RTT at delay 0 (within 10% + 0.1 ms); IPv6 and TCP cross the router; `lab down` leaves nothing",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(3)))
    func fourHostMatrix() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        let count = 4
        let delaysMilliseconds = [0.2, 0.4, 0.6, 0.8]
        let pairs = (0..<count).flatMap { i in (0..<count).filter { $0 != i }.map { (i, $0) } }

        // The star's own round trip at delay 0: four passes through the delay line and the
        // router's forwarding, both ways. Every pair, 20 pings each, after 3 to warm up.
        _ = try await upHosts(["--hosts", "\(count)", "--delay", "0"])
        var baseReplies: [Double] = []
        for (i, j) in pairs {
            _ = try await ping(from: Self.host(i).letter, Self.host(j).ipv4, count: 3)
            let r = try await ping(from: Self.host(i).letter, Self.host(j).ipv4, count: 20)
            #expect(r.received == 20, "\(Self.host(i).letter) → \(Self.host(j).ipv4) at delay 0: \(r)")
            baseReplies += r.replyMilliseconds
            let v6 = try await ping(from: Self.host(i).letter, Self.host(j).ipv6, count: 3)
            #expect(v6.received == 3, "\(Self.host(i).letter) → \(Self.host(j).ipv6) at delay 0: \(v6)")
        }
        try #require(baseReplies.count >= pairs.count * 15, "only \(baseReplies.count) replies at delay 0")
        let base = baseReplies.sorted()[baseReplies.count / 2]

        // TCP over IPv4 and IPv6: a wirelat server in d, clients in a and in b.
        let port: UInt16 = 5602
        for (client, target) in [("a", "10.77.0.4"), ("b", "fd00:77::4")] {
            let server = try await startServer(["--port", "\(port)", "--max-tests", "1"], prefix: [binary, "lab", "exec", "d", "--"], in: dir,
                                               name: "server-\(client)")
            defer { server.kill() }
            let json = dir.file("client-\(client).json")
            let r = try await lab(["exec", client, "--", binary, "client", target, "--port", "\(port)", "--duration", "1s", "--json", json])
            #expect(r.exit.status == 0, "TCP from \(client) to \(target): \(r.exit)\n\(r.stderr)")
            if r.exit.status == 0 {
                #expect((integer(try readJSON(json)["samples"]) ?? 0) > 0, "no round trips from \(client) to \(target)")
            }
            _ = await server.waitForExit(timeout: .seconds(5))
        }

        let delays = delaysMilliseconds.map { "\($0)ms" }.joined(separator: ",")
        let upText = try await upHosts(["--hosts", "\(count)", "--delay", delays])
        #expect((0..<count).allSatisfy { upText.contains(Self.host($0).ipv4) } && upText.contains("wirelat-router"), "\(upText)")
        let s = try await status()
        let hosts = try #require(s["hosts"] as? [[String: Any]], "lab status --json has no hosts: \(s)")
        #expect(hosts.count == count, "\(hosts)")
        for (index, h) in hosts.enumerated() where index < count {
            #expect(h["letter"] as? String == Self.host(index).letter && h["ipv4"] as? String == Self.host(index).ipv4
                    && h["ipv6"] as? String == Self.host(index).ipv6, "\(h)")
            #expect(integer(h["delay_ns"]) == Int(delaysMilliseconds[index] * 1e6), "\(h)")
        }
        #expect((s["router"] as? [String: Any])?["namespace"] as? String == "wirelat-router", "\(s["router"] ?? "no router")")
        #expect(directions(s).count == 2 * count, "\(directions(s).keys.sorted())")
        let text = try await lab(["status"])
        #expect(text.exit.status == 0 && (0..<count).allSatisfy { text.stdout.contains(Self.host($0).ipv4) }
                && text.stdout.contains("wirelat-router") && text.stdout.contains("800us"), "\(text.stdout)")

        var rows: [String] = []
        for (i, j) in pairs {
            _ = try await ping(from: Self.host(i).letter, Self.host(j).ipv4, count: 3)
            let r = try await ping(from: Self.host(i).letter, Self.host(j).ipv4, count: 20)
            #expect(r.received == 20, "\(Self.host(i).letter) → \(Self.host(j).ipv4): \(r)")
            guard let median = r.medianMilliseconds else { continue }
            let links = 2 * (delaysMilliseconds[i] + delaysMilliseconds[j])
            let expected = links + base
            #expect(abs(median - expected) <= 0.1 * expected + 0.1,
                    "\(Self.host(i).letter) → \(Self.host(j).letter): ping median \(median) ms, expected 2 × (Di + Dj) = \(links) ms + base \(base) ms")
            #expect(r.replyMilliseconds.allSatisfy { $0 >= links - 0.001 }, "a reply came back faster than \(links) ms: \(r.replyMilliseconds.min() ?? 0)")
            rows.append("\(Self.host(i).letter)→\(Self.host(j).letter) \(String(format: "%.3f", median)) ms (2 × (Di + Dj) \(String(format: "%.1f", links)) ms, + base \(String(format: "%.3f", expected)) ms)")
        }
        print("lab --hosts 4: base RTT at delay 0 (ping median of \(baseReplies.count) replies over all pairs) \(String(format: "%.3f", base)) ms; medians: \(rows.joined(separator: "; "))")

        let down = try await lab(["down"])
        #expect(down.exit.status == 0 && down.stdout.contains("wirelat-router"), "\(down.exit) \(down.stdout) \(down.stderr)")
        try await expectNothingLeft()
    }

    @Test("--hosts: a --delay count other than 1 or N, --hosts 17 and a list without --hosts exit 64 and make nothing; a foreign wirelat-router blocks --hosts but not the two-host lab; up beside a lab fails; exec into a host the lab lacks fails",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(1)))
    func hostsUsageAndForeignRouter() async throws {
        let ip = try #require(NamespaceSupport.ip)
        defer {
            _ = try? runCommandNow(ip, ["netns", "del", "wirelat-router"])
            LabSupport.downNow()
            dir.remove()
        }
        LabSupport.downNow()
        for (arguments, mention) in [(["--hosts", "4", "--delay", "1ms,2ms"], "--delay"), (["--hosts", "17"], "--hosts"),
                                     (["--hosts", "1"], "--hosts"), (["--delay", "1ms,2ms"], "--delay")] {
            let r = try await lab(["up"] + arguments)
            #expect(r.exit.status == 64, "lab up \(arguments): \(r.exit)")
            #expect(r.stderr.contains(mention) && lines(r.stderr).count <= 4, "lab up \(arguments): \(r.stderr)")
            #expect(LabSupport.leftovers().isEmpty, "lab up \(arguments) left \(LabSupport.leftovers())")
        }

        _ = try await runCommand(ip, ["netns", "add", "wirelat-router"])
        try #require(FileManager.default.fileExists(atPath: "/run/netns/wirelat-router"), "ip netns add wirelat-router made nothing")
        let refused = try await lab(["up", "--hosts", "3"])
        #expect(refused.exit.status == 1 && refused.stderr.contains("wirelat-router") && refused.stderr.contains("did not make"),
                "lab up --hosts 3 beside a foreign wirelat-router: \(refused.exit) \(refused.stderr)")
        #expect(LabSupport.delayLinePids().isEmpty, "a delay line was started")
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/wirelat-a"), "lab up left wirelat-a behind")

        try await up([])
        let again = try await lab(["up", "--hosts", "3"])
        #expect(again.exit.status == 1 && again.stderr.contains("already up"), "lab up --hosts 3 beside the two-host lab: \(again.exit) \(again.stderr)")
        #expect(LabSupport.delayLinePids().count == 1, "\(LabSupport.delayLinePids())")
        let exec = try await lab(["exec", "c", "--", "true"])
        #expect(exec.exit.status == 1 && exec.stderr.contains("no host c"), "lab exec c in the two-host lab: \(exec.exit) \(exec.stderr)")
        let router = try await lab(["exec", "router", "--", "true"])
        #expect(router.exit.status == 1 && router.stderr.contains("did not make"), "lab exec router into a foreign namespace: \(router.exit) \(router.stderr)")

        let down = try await lab(["down"])
        #expect(down.exit.status == 0 && down.stderr.contains("wirelat-router") && down.stderr.contains("left alone"), "\(down.exit) \(down.stderr)")
        #expect(FileManager.default.fileExists(atPath: "/run/netns/wirelat-router"), "lab down deleted a namespace the lab did not make")
        #expect(LabSupport.leftovers() == ["namespace wirelat-router"], "\(LabSupport.leftovers())")
    }

    @Test("delay 0 with --hosts: what the star (two spokes and the router's forwarding) adds per direction between a and b, against a veth pair in the same run, with 2 and with 16 hosts",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func starAddedLatencyAgainstVeth() async throws {
        let pair = NamespacePair()
        defer { LabSupport.downNow(); dir.remove() }
        try await pair.up(in: dir)
        do {
            let two = try await addedLatency(["--hosts", "2"], against: pair)
            let sixteen = try await addedLatency(["--hosts", "16"], against: pair)
            await pair.down(in: dir)
            // A packet crosses the delay line twice each way (host → router, router → host)
            // and the router forwards it: about twice what the two-host lab adds. With 16
            // hosts the polling delay line sweeps 32 devices instead of 4.
            #expect(two <= 40, "the star of 2 adds \(two) µs per direction (median) over veth")
            #expect(sixteen <= 60, "the star of 16 adds \(sixteen) µs per direction (median) over veth")
        } catch {
            await pair.down(in: dir)
            throw error
        }
    }

    @Test("--hosts 16: all 16 hosts and the router come up, a reaches p and p reaches a (IPv4 and IPv6), `lab down` removes all 17 namespaces",
          .enabled(if: LabSupport.available), .timeLimit(.minutes(2)))
    func sixteenHosts() async throws {
        defer { LabSupport.downNow(); dir.remove() }
        let text = try await upHosts(["--hosts", "16", "--delay", "0.1ms"])
        #expect(text.contains("10.77.0.16") && text.contains("fd00:77::16"), "\(text)")
        for ns in LabSupport.namespaces {
            #expect(FileManager.default.fileExists(atPath: "/run/netns/\(ns)"), "namespace \(ns) is missing")
        }
        let s = try await status()
        #expect((s["hosts"] as? [Any])?.count == 16 && directions(s).count == 32, "\(s["hosts"] ?? "no hosts")")
        for (from, target) in [("a", "10.77.0.16"), ("p", "10.77.0.1"), ("a", "fd00:77::16"), ("p", "fd00:77::1")] {
            let r = try await ping(from: from, target, count: 3)
            #expect(r.received == 3, "\(from) → \(target): \(r)")
            if let median = r.medianMilliseconds { #expect(median >= 0.399, "\(from) → \(target): \(median) ms, below 2 × (0.1 + 0.1) ms") }
        }
        let down = try await lab(["down"])
        #expect(down.exit.status == 0 && down.stdout.contains("wirelat-p"), "\(down.exit) \(down.stdout) \(down.stderr)")
        try await expectNothingLeft()
    }
}

/// Runs a command to completion (at most 30 s); its standard output.
func runCommand(_ path: String, _ arguments: [String]) async throws -> String {
    let dir = try ScratchDirectory("cmd")
    defer { dir.remove() }
    let child = try Spawned(path, arguments, name: "cmd", in: dir)
    defer { child.kill() }
    guard await child.waitForExit(timeout: .seconds(30)) != nil else {
        throw E2EFailure("\(path) \(arguments.joined(separator: " ")) did not finish within 30 s")
    }
    return child.stdout
}

/// Runs a short command (`ip netns del …`) to completion synchronously, for `defer`. Its
/// exit status.
@discardableResult
func runCommandNow(_ path: String, _ arguments: [String]) throws -> Int32 {
    let child = try TestChild(path, arguments)
    guard let end = child.waitBlocking(timeout: .seconds(10)) else { return 128 + SIGKILL }
    return end.bySignal ? 128 + end.status : end.status
}
