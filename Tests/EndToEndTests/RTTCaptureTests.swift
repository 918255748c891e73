import Foundation
import Testing
@preconcurrency import Glibc

// `wirelat capture --rtt`, the release binary, on real traffic between two namespaces
// (live and from tcpdump's file), against the client's own measurements, tshark's
// tcp.analysis.ack_rtt and ping; on a generated flood of unanswered SYNs; and its usage
// errors. Helpers: RTTSupport.swift.
//
// The tests run one at a time: the 2-core VM is busy enough with a server, a client and a
// capture, and the comparisons below are between two measurements of the same exchanges.

@Suite("wirelat capture --rtt: wire round trips against the client, tshark and ping", .serialized, .timeLimit(.minutes(5)))
struct RTTCaptureEndToEnd {
    static let methodNames = ["handshake", "reqresp", "ack", "tsecr", "icmp"]
    static let summaryKeys = ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"]

    // MARK: 1. live, beside the client

    @Test("live -i VETH --rtt during a 2 s sync test: reqresp counts the client's round trips, p50 not above the client's",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs root and iproute2"))
    func liveBesideTheClient() async throws {
        let binary = try WirelatBinary.require()
        let dir = try ScratchDirectory("rtt-live")
        defer { dir.remove() }
        let reportPath = dir.file("capture.json")
        let samplesPath = dir.file("samples.jsonl")
        let clientPath = dir.file("client.json")
        try await withServerAndClientNamespaces(in: dir) { pair, inClient in
            // -B 256 MiB: on 2 cores the client and server take both, and the capture may fall
            // behind for a while; the ring then holds the whole 2 s, so nothing is dropped and
            // the counts can be compared one for one.
            let capture = try await startListening(inClient, [binary, "capture", "-i", pair.clientLink, "-B", "262144", "--rtt",
                                                              "--json", reportPath, "--samples", samplesPath, "port", "\(rttServerPort)"],
                                                   name: "rtt-capture", in: dir)
            defer { capture.kill() }
            let client = try Spawned(inClient[0], Array(inClient.dropFirst()) + [binary, "client", pair.serverAddress, "--port", "\(rttServerPort)",
                                                                               "--duration", "2s", "--json", clientPath],
                                     name: "client", in: dir)
            defer { client.kill() }
            let clientExit = try #require(await client.waitForExit(timeout: .seconds(30)), "the client did not finish\n\(client.transcript)")
            try #require(clientExit.status == 0 && !clientExit.bySignal, "the client failed: \(clientExit)\n\(client.transcript)")
            try? await Task.sleep(for: .milliseconds(300))
            let exit = try #require(await interrupt(capture), "wirelat capture did not stop within 20 s of SIGINT\n\(capture.transcript)")
            #expect(exit.status == 0 && !exit.bySignal, "wirelat capture: \(exit)\n\(capture.transcript)")

            // The JSON report.
            let json = try readJSON(reportPath)
            #expect(json["command"] as? String == "capture")
            let entries = try #require(json["methods"] as? [[String: Any]], "no methods array in \(json)")
            let methods = rttMethods(json)
            #expect(entries.compactMap { $0["method"] as? String } == Self.methodNames, "methods: \(entries.map { $0["method"] ?? "?" })")
            for name in Self.methodNames {
                let entry = try #require(methods[name], "no \(name) entry")
                #expect(integer(entry["samples"]) != nil, "\(name).samples is missing")
                let rtt = try #require(entry["rtt_ns"] as? [String: Any], "\(name).rtt_ns is missing")
                for key in Self.summaryKeys { #expect(number(rtt[key]) != nil, "\(name).rtt_ns.\(key) is missing") }
            }

            // Against the client: the same exchanges, seen from the socket and from the wire.
            let dropped = reports(capture.stderr, "0 packets dropped by kernel")
            #expect(dropped, "the capture dropped packets, so counts cannot match:\n\(capture.stderr)")
            let clientReport = try readJSON(clientPath)
            let clientSamples = try #require(integer(clientReport["samples"]), "client.samples is missing")
            // The client's app clock (send call → receive returned): its wire clock is the capture's own.
            let clientP50 = try #require(number((clientReport["app_rtt_ns"] as? [String: Any])?["p50"]), "client app_rtt_ns.p50 is missing")
            let wireSamples = integer(methods["reqresp"]?["samples"]) ?? -1
            let wireP50 = rttSummary(methods["reqresp"], "p50") ?? .infinity
            // The hello (request → ready) and end (end → summary) exchanges are on the wire too.
            #expect(clientSamples > 1000, "the client made only \(clientSamples) round trips")
            #expect(abs(wireSamples - clientSamples) <= clientSamples / 100 + 4,
                    "reqresp samples on the wire: \(wireSamples), the client's round trips: \(clientSamples)")
            // The client's clock adds its own wake-up and system calls to the wire's round trip.
            #expect(wireP50 <= clientP50 + 2_000, "wire reqresp p50 \(wireP50) ns > client p50 \(clientP50) ns + 2 µs")
            #expect((integer(methods["handshake"]?["samples"]) ?? 0) >= 1, "no handshake sample: \(methods["handshake"] ?? [:])")
            #expect((integer(methods["ack"]?["samples"]) ?? 0) >= wireSamples, "fewer ack samples than reqresp samples")

            // Every --samples line, and the flows in them.
            let (samples, invalid) = try readSampleLines(samplesPath)
            #expect(invalid.isEmpty, "\(invalid.count) lines of --samples are not {method,time_ns,rtt_ns,flow}: \(invalid.prefix(3))")
            let totalSamples = Self.methodNames.reduce(0) { $0 + (integer(methods[$1]?["samples"]) ?? 0) }
            #expect(samples.count == totalSamples, "--samples holds \(samples.count) lines, the report \(totalSamples) samples")
            var counts: [String: Int] = [:]
            var badFlows: [String] = []
            var flowsByMethod: [String: Set<String>] = [:]
            for sample in samples {
                counts[sample.method, default: 0] += 1
                flowsByMethod[sample.method, default: []].insert(sample.flow)
                if sample.rttNanoseconds <= 0 || sample.timeNanoseconds < 1_600_000_000_000_000_000 {
                    badFlows.append("\(sample.method) \(sample.flow) rtt \(sample.rttNanoseconds) time \(sample.timeNanoseconds)")
                }
            }
            for (method, flows) in flowsByMethod {
                for flow in flows {
                    guard let (from, to) = tcpFlowEndpoints(flow) else {
                        badFlows.append("\(method) \(flow)")
                        continue
                    }
                    let clientToServer = from.address == pair.clientAddress && to.address == pair.serverAddress && to.port == rttServerPort
                    let serverToClient = from.address == pair.serverAddress && from.port == rttServerPort && to.address == pair.clientAddress
                    // handshake and reqresp run from the initiator; ack and tsecr from whichever side sent first.
                    if !(["handshake", "reqresp"].contains(method) ? clientToServer : (clientToServer || serverToClient)) {
                        badFlows.append("\(method) \(flow)")
                    }
                }
            }
            // One connection: one flow, seen in one or both directions.
            #expect(Set(flowsByMethod.values.flatMap { $0 }).count <= 2, "flows: \(flowsByMethod)")
            #expect(badFlows.isEmpty, "\(badFlows.count) samples with an unexpected flow, RTT or time: \(badFlows.prefix(5))")
            for name in Self.methodNames {
                #expect(counts[name, default: 0] == integer(methods[name]?["samples"]) ?? -1,
                        "--samples holds \(counts[name, default: 0]) \(name) lines, the report says \(methods[name]?["samples"] ?? "?")")
            }
            let reqresp = samples.filter { $0.method == "reqresp" }.map { $0.rttNanoseconds }.sorted()
            #expect(!reqresp.isEmpty && Double(reqresp[(reqresp.count - 1) / 2]) <= clientP50 + 2_000,
                    "the median reqresp line is above the client's p50")

            // The text: per-interval lines while live, then the report.
            let stdout = capture.stdout
            #expect(!intervalLines(stdout).isEmpty, "no interval line was printed:\n\(stdout.prefix(1500))")
            #expect(stdout.contains("request→response RTT"), "the report does not name request→response RTT:\n\(stdout.prefix(3000))")
        }
    }

    // MARK: 1b. live, falling behind

    @Test("live --rtt falling behind the traffic (nice 10, on the client's and server's CPU): SIGINT stops it before the traffic ends, interval lines not replayed in a burst",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces && RTTTools.haveTasksetAndNice, "needs root, iproute2, taskset and nice"))
    func liveUnderLoad() async throws {
        let binary = try WirelatBinary.require()
        let ip = try #require(NamespaceSupport.ip)
        let taskset = try #require(RTTTools.taskset)
        let nice = try #require(RTTTools.nice)
        let dir = try ScratchDirectory("rtt-load")
        defer { dir.remove() }
        let reportPath = dir.file("capture.json")
        let pair = NamespacePair()
        var children: [Spawned] = []
        do {
            try await pair.up(in: dir)
            // Server, client and capture share CPU 0, the capture at a low priority (nice 10):
            // it reads slower than the sync test sends, as a capture on a busy host does, yet
            // gets a few per cent of the CPU, plenty to act on SIGINT within a second.
            let onCPU0 = [taskset, "-c", "0"]
            let server = try await startServer(["--port", "\(rttServerPort)"], prefix: [ip, "netns", "exec", pair.serverNamespace] + onCPU0, in: dir)
            children.append(server)
            let inClient = [ip, "netns", "exec", pair.clientNamespace] + onCPU0
            let capture = try await startListening(inClient + [nice, "-n", "10"],
                                                   [binary, "capture", "-i", pair.clientLink, "--rtt", "--interval", "1s",
                                                    "--json", reportPath, "port", "\(rttServerPort)"],
                                                   name: "rtt-capture", in: dir)
            children.append(capture)
            let client = try Spawned(inClient[0], Array(inClient.dropFirst()) + [binary, "client", pair.serverAddress, "--port", "\(rttServerPort)",
                                                                               "--duration", "6s"],
                                     name: "client", in: dir)
            children.append(client)
            try? await Task.sleep(for: .milliseconds(1500))
            try #require(client.isRunning, "the client ended early\n\(client.transcript)")
            // Ctrl-C 1.5 s into a 6 s test: the capture should stop (and report) long before
            // the test ends. tcpdump, even at nice 19 on that CPU, stops within about a second.
            capture.signal(SIGINT)
            let deadline = ContinuousClock.now + .seconds(20)
            while capture.isRunning && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let clientStillRunning = client.isRunning
            let exit = try #require(await capture.waitForExit(timeout: .seconds(1)), "wirelat capture did not stop within 20 s of SIGINT\n\(capture.transcript)")
            let clientExit = await client.waitForExit(timeout: .seconds(30))
            #expect(clientExit?.status == 0 && clientExit?.bySignal == false, "the client failed\n\(client.transcript)")
            #expect(exit.status == 0 && !exit.bySignal, "wirelat capture: \(exit)\n\(capture.transcript)")
            #expect(clientStillRunning, """
                SIGINT was sent 1.5 s into a 6 s sync test, but wirelat capture only stopped once the traffic did \
                (it reads the ring until it is empty, and the ring is never empty while it falls behind)
                \(capture.stderr)
                """)
            #expect(FileManager.default.fileExists(atPath: reportPath), "no JSON report after SIGINT")
            // Lines due every second carry their wall-clock second: two with the same stamp
            // are missed ticks replayed back to back ("no round trips" for seconds that had
            // plenty, the traffic of several seconds lumped into one line).
            let intervals = intervalLines(capture.stdout)
            let stamps = intervals.map { $0.prefix(10) }
            let repeated = zip(stamps, stamps.dropFirst()).filter { $0 == $1 }.map { String($0.0) }
            #expect(repeated.isEmpty, """
                interval lines replayed back to back with the same stamp \(repeated):
                \(intervals.map { String($0.prefix(110)) }.joined(separator: "\n"))
                """)
            if let json = try? readJSON(reportPath) {
                let total = integer(rttMethods(json)["reqresp"]?["samples"]) ?? -1
                let sum = intervals.reduce(0) { $0 + intervalCount($1, "reqresp") }
                #expect(sum <= total, "interval lines hold \(sum) reqresp samples, the report only \(total)")
            }
        } catch {
            for child in children { child.kill() }
            await pair.down(in: dir)
            throw error
        }
        for child in children { child.kill() }
        for child in children { _ = await child.waitForExit(timeout: .seconds(5)) }
        await pair.down(in: dir)
        #expect(!pair.exists, "namespace \(pair.serverNamespace) or \(pair.clientNamespace) was left behind")
    }

    // MARK: 2. offline, against tshark

    @Test("-r FILE (tcpdump, nanosecond) --ack-rule tshark: ack samples = tshark's tcp.analysis.ack_rtt, one for one; karn the same without retransmissions",
          .enabled(if: RTTTools.haveTshark, "needs tcpdump, tshark, root and iproute2"))
    func ackAgainstTshark() async throws {
        let binary = try WirelatBinary.require()
        let tcpdump = try #require(CaptureTools.tcpdump)
        let tshark = try #require(RTTTools.tshark)
        let dir = try ScratchDirectory("rtt-tshark")
        defer { dir.remove() }
        let file = dir.file("traffic.pcap")
        try await withServerAndClientNamespaces(in: dir) { pair, inClient in
            // -Z root: Debian's tcpdump drops to the user tcpdump before creating the file.
            // -s 200 keeps the headers (the payload is not needed and would fill the disk).
            let recorder = try await startListening(inClient, [tcpdump, "-i", pair.clientLink, "-w", file, "--time-stamp-precision=nano",
                                                               "-Z", "root", "-B", "262144", "-s", "200", "port", "\(rttServerPort)"],
                                                    name: "tcpdump", in: dir)
            defer { recorder.kill() }
            // Full-speed 12-byte requests, then 30 kB requests on two connections (several
            // segments per request, cumulative ACKs).
            for (index, extra) in [["--duration", "700ms"], ["--duration", "300ms", "--length", "30000", "--connections", "2"]].enumerated() {
                let client = try Spawned(inClient[0], Array(inClient.dropFirst()) + [binary, "client", pair.serverAddress,
                                                                                   "--port", "\(rttServerPort)"] + extra,
                                         name: "client\(index)", in: dir)
                defer { client.kill() }
                let exit = try #require(await client.waitForExit(timeout: .seconds(30)), "the client did not finish\n\(client.transcript)")
                try #require(exit.status == 0 && !exit.bySignal, "the client failed: \(exit)\n\(client.transcript)")
            }
            try? await Task.sleep(for: .milliseconds(200))
            let exit = try #require(await interrupt(recorder), "tcpdump did not stop on SIGINT\n\(recorder.transcript)")
            try #require(exit.status == 0 && !exit.bySignal, "tcpdump: \(exit)\n\(recorder.transcript)")
        }
        try #require(pcapMagic(file) == pcapNanosecondMagic, "tcpdump did not write a nanosecond pcap")

        let fromTshark = try await runTool([tshark, "-n", "-r", file, "-Y", "tcp.analysis.ack_rtt", "-T", "fields",
                                            "-e", "frame.number", "-e", "tcp.analysis.ack_rtt"], in: dir, timeout: .seconds(240))
        try #require(fromTshark.succeeded, "tshark failed: \(fromTshark.summary)")
        var expected: [(frame: String, rtt: Int64)] = []
        for line in lines(fromTshark.stdout) {
            let fields = line.split(separator: "\t")
            let value = try #require(fields.count == 2 ? Double(fields[1]) : nil, "tshark printed \"\(line)\"")
            expected.append((String(fields[0]), Int64((value * 1e9).rounded())))
        }
        try #require(expected.count > 1000, "tshark found only \(expected.count) ACK RTTs")

        for rule in ["tshark", "karn"] {
            let samplesPath = dir.file("samples-\(rule).jsonl")
            let reportPath = dir.file("report-\(rule).json")
            let run = try await runTool([binary, "capture", "-r", file, "--rtt", "--ack-rule", rule, "--samples", samplesPath,
                                         "--json", reportPath], in: dir, timeout: .seconds(60))
            try #require(run.succeeded, "wirelat capture --ack-rule \(rule): \(run.summary)")
            let (samples, invalid) = try readSampleLines(samplesPath)
            #expect(invalid.isEmpty, "\(invalid.count) invalid --samples lines: \(invalid.prefix(3))")
            let ack = samples.filter { $0.method == "ack" }.map { $0.rttNanoseconds }
            let report = try readJSON(reportPath)
            let counters = report["counters"] as? [String: Any] ?? [:]
            let resent = ["retransmissions", "out_of_order", "keep_alives"].reduce(0) { $0 + (integer(counters[$1]) ?? 0) }
            if rule == "karn" && resent > 0 {
                // Karn leaves out what tshark times from a retransmission; nothing else.
                #expect(ack.count < expected.count, "karn: \(ack.count) ack samples, tshark \(expected.count), with \(resent) resent segments")
                continue
            }
            #expect(ack.count == expected.count, "--ack-rule \(rule): \(ack.count) ack samples, tshark printed \(expected.count)")
            var mismatches: [String] = []
            for (index, (ours, theirs)) in zip(ack, expected).enumerated() where abs(ours - theirs.rtt) >= 1_000 {
                if mismatches.count < 5 {
                    mismatches.append("sample \(index + 1): wirelat \(ours) ns, tshark \(theirs.rtt) ns (frame \(theirs.frame))")
                }
                if mismatches.count == 5 { mismatches.append("…"); break }
            }
            #expect(mismatches.isEmpty, "--ack-rule \(rule) against tshark, in order of the closing frame:\n\(mismatches.joined(separator: "\n"))")
        }
    }

    // MARK: 3. ICMP, against ping

    @Test("live --rtt icmp during ping -c 5: 5 icmp samples, p50 within 30 % + 20 µs of ping's",
          .enabled(if: RTTTools.havePing, "needs ping, root and iproute2"))
    func icmpAgainstPing() async throws {
        let binary = try WirelatBinary.require()
        let ping = try #require(CaptureTools.ping)
        let dir = try ScratchDirectory("rtt-icmp")
        defer { dir.remove() }
        let reportPath = dir.file("capture.json")
        let samplesPath = dir.file("samples.jsonl")
        try await withServerAndClientNamespaces(in: dir) { pair, inClient in
            let capture = try await startListening(inClient, [binary, "capture", "-i", pair.clientLink, "--rtt", "--json", reportPath,
                                                              "--samples", samplesPath, "icmp"],
                                                   name: "rtt-capture", in: dir)
            defer { capture.kill() }
            let pinged = try await runTool(inClient + [ping, "-n", "-c", "5", "-i", "0.2", "-W", "2", pair.serverAddress], in: dir, timeout: .seconds(20))
            try #require(pinged.succeeded, "ping failed: \(pinged.summary)\n\(pinged.stdout)")
            try? await Task.sleep(for: .milliseconds(200))
            let exit = try #require(await interrupt(capture), "wirelat capture did not stop within 20 s of SIGINT\n\(capture.transcript)")
            #expect(exit.status == 0 && !exit.bySignal, "wirelat capture: \(exit)\n\(capture.transcript)")

            // ping's "64 bytes from …: icmp_seq=1 ttl=64 time=0.057 ms".
            let pingTimes = lines(pinged.stdout).compactMap { line -> Double? in
                guard let range = line.range(of: "time=") else { return nil }
                return Double(line[range.upperBound...].prefix { $0 == "." || $0.isNumber }).map { $0 * 1e6 }
            }
            try #require(pingTimes.count == 5, "ping printed \(pingTimes.count) times:\n\(pinged.stdout)")
            let json = try readJSON(reportPath)
            let icmp = rttMethods(json)["icmp"]
            #expect(integer(icmp?["samples"]) == 5, "icmp: \(icmp ?? [:])")
            #expect(integer(icmp?["unanswered"]) == 0, "icmp: \(icmp ?? [:])")
            let pingP50 = try #require(median(pingTimes))
            let wireP50 = try #require(rttSummary(icmp, "p50"), "icmp rtt_ns.p50 is missing")
            #expect(abs(wireP50 - pingP50) <= 0.3 * pingP50 + 20_000,
                    "icmp p50 on the wire \(wireP50) ns, ping's p50 \(pingP50) ns (ping: \(pingTimes))")
            let (samples, invalid) = try readSampleLines(samplesPath)
            #expect(invalid.isEmpty && samples.count == 5, "--samples: \(samples.count) lines, invalid \(invalid)")
            let flowPrefix = "\(pair.clientAddress)>\(pair.serverAddress) id "
            #expect(samples.allSatisfy { $0.method == "icmp" && $0.flow.hasPrefix(flowPrefix) && Int($0.flow.dropFirst(flowPrefix.count)) != nil },
                    "icmp flows: \(samples.map(\.flow))")
        }
    }

    // MARK: 4. bounded memory

    @Test("-r FILE of 200 000 unanswered SYNs from distinct flows --max-flows 1000: all counted unanswered, ≥ 199 000 evicted",
          .enabled(if: RTTTools.havePython, "needs python3 to write the capture"))
    func unansweredSYNFlood() async throws {
        let binary = try WirelatBinary.require()
        let dir = try ScratchDirectory("rtt-synflood")
        defer { dir.remove() }
        let file = dir.file("syn-flood.pcap")
        let count = 200_000
        try await makeSYNFlood(file, count: count, in: dir)
        let reportPath = dir.file("report.json")
        let run = try await runTool([binary, "capture", "-r", file, "--rtt", "--max-flows", "1000", "--json", reportPath],
                                    in: dir, timeout: .seconds(60))
        #expect(run.succeeded, "\(run.summary)")
        let json = try readJSON(reportPath)
        let counters = try #require(json["counters"] as? [String: Any], "no counters in the report")
        #expect(integer(counters["packets"]) == count, "counters: \(counters)")
        #expect(integer(counters["flows"]) == count, "counters: \(counters)")
        #expect(integer(counters["unanswered"]) == count, "counters.unanswered: \(counters)")
        #expect(integer(rttMethods(json)["handshake"]?["unanswered"]) == count, "handshake: \(rttMethods(json)["handshake"] ?? [:])")
        #expect((integer(counters["evicted"]) ?? 0) >= count - 1000, "counters.evicted: \(counters)")
        #expect((integer(counters["active_flows"]) ?? .max) <= 1000, "counters.active_flows: \(counters)")
        #expect(integer(rttMethods(json)["handshake"]?["samples"]) == 0)
    }

    // MARK: 5. usage errors

    @Test("bad usage exits 64, and stderr names the option",
          arguments: [
            (["--samples", "S"], "--samples"),
            (["--rtt", "--ack-rule", "bogus"], "--ack-rule"),
            (["--rtt", "--max-flows", "1"], "--max-flows"),
            (["--max-flows", "1000"], "--max-flows goes with --rtt"),
            (["--ack-rule", "tshark"], "--ack-rule goes with --rtt"),
            (["--interval", "2s", "--ack-rule", "karn"], "--interval, --ack-rule go with --rtt"),
          ])
    func badUsage(_ arguments: [String], _ option: String) async throws {
        let binary = try WirelatBinary.require()
        let dir = try ScratchDirectory("rtt-usage")
        defer { dir.remove() }
        let file = dir.file("empty.pcap")
        try writeEmptyPcap(file)
        let samples = dir.file("samples.jsonl")
        let wrong = try await runTool([binary, "capture", "-r", file] + arguments.map { $0 == "S" ? samples : $0 }, in: dir)
        #expect(!wrong.exit.bySignal && wrong.exit.status == 64, "\(wrong.summary)")
        #expect(wrong.stderr.contains(option), "stderr does not name \(option):\n\(wrong.stderr)")
        #expect(wrong.stdout.isEmpty, "printed: \(wrong.stdout)")
        // The same file with good --rtt options is fine: the 64 above is the options' doing.
        let right = try await runTool([binary, "capture", "-r", file, "--rtt", "--samples", samples, "--ack-rule", "tshark",
                                       "--max-flows", "16"], in: dir)
        #expect(right.succeeded, "\(right.summary)")
    }
}

@Suite("capture --rtt --hgrm: the wire clock's distributions for HdrHistogram's tools")
struct CaptureHgrmTests {
    @Test("every method with samples has a `clock=wire` section whose percentiles equal the JSON's, and clock is wire in the JSON")
    func parsedBack() async throws {
        let binary = try WirelatBinary.require()
        let dir = try ScratchDirectory("rtt-hgrm")
        defer { dir.remove() }
        let file = WirelatBinary.packageRoot + "/Tests/WirelatCoreTests/Fixtures/any-sll2.pcap"
        let run = try await runTool([binary, "capture", "-r", file, "--rtt", "--json", dir.file("r.json"), "--hgrm", dir.file("r.hgrm")],
                                    in: dir)
        try #require(run.succeeded, "\(run.summary)")
        let methods = rttMethods(try readJSON(dir.file("r.json")))
        let sections = try readHgrmSections(dir.file("r.hgrm"))
        let withSamples = methods.filter { (integer($0.value["samples"]) ?? 0) > 0 }.map(\.key).sorted()
        try #require(withSamples.count >= 3, "the fixture should give samples of several methods: \(methods.keys)")
        #expect(sections.map(\.method).sorted() == withSamples)
        for section in sections {
            #expect(section.clock == "wire")
            let method = methods[section.method]
            #expect(method?["clock"] as? String == "wire")
            #expect(section.totalCount == integer(method?["samples"]), "\(section.method): .hgrm total count")
            expectHgrm(section, matches: method?["rtt_ns"] as? [String: Any], section.method)
        }
    }
}
