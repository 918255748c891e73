import Foundation
import Testing
@preconcurrency import Glibc

// `wirelat capture`, the release binary, against tcpdump and tcpstat on the same files.
// The shared capture (CaptureSupport.swift) is made once from real traffic between two
// namespaces; live captures run in a namespace of their own.

/// One golden comparison: wirelat's arguments and tcpdump's spelling of the same request.
struct GoldenCase: Sendable, CustomTestStringConvertible {
    let wirelat: [String]
    let tcpdump: [String]
    init(_ wirelat: [String], _ tcpdump: [String]) {
        self.wirelat = wirelat
        self.tcpdump = tcpdump
    }
    var testDescription: String { wirelat.isEmpty ? "(no flags)" : wirelat.joined(separator: " ") }
}

/// One tcpstat comparison: wirelat's --stats spelling, tcpstat's interval, the -o format
/// (nil: both defaults) and a filter.
struct StatsCase: Sendable, CustomTestStringConvertible {
    let wirelatInterval: String
    let tcpstatInterval: String
    let format: String?
    var filter: [String] = []
    var testDescription: String {
        "--stats \(wirelatInterval)" + (format.map { " -o \"\($0)\"" } ?? " (default format)")
            + (filter.isEmpty ? "" : " " + filter.joined(separator: " "))
    }
}

/// A damaged or foreign input file: its name, how to make it from the shared capture, and
/// how many of the capture's packets come before the damage (nil: none can be read).
struct BadFileCase: Sendable, CustomTestStringConvertible {
    enum Cut: Sendable { case text, empty, insideFileHeader, insideRecordHeader, insidePacketData, missing }
    let cut: Cut
    var testDescription: String {
        switch cut {
        case .text: "a text file"
        case .empty: "an empty file"
        case .insideFileHeader: "a capture cut inside its file header"
        case .insideRecordHeader: "a capture cut inside the 11th packet's record header"
        case .insidePacketData: "a capture cut in the middle of the 11th packet's data"
        case .missing: "a file that does not exist"
        }
    }
    static let packetsBeforeCut = 10
}

@Suite("wirelat capture -r: the same lines as tcpdump and tcpstat for the same file", .timeLimit(.minutes(3)))
struct CaptureFileEndToEnd {
    static let goldenCases: [GoldenCase] = [
        GoldenCase([], []),
        GoldenCase(["-t"], ["-t"]),
        GoldenCase(["--tt"], ["-tt"]),
        GoldenCase(["--ttt"], ["-ttt"]),
        GoldenCase(["--tttt"], ["-tttt"]),
        GoldenCase(["--ttttt"], ["-ttttt"]),
        GoldenCase(["--nano", "--ttt"], ["--nano", "-ttt"]),
        GoldenCase(["--nano", "--tttt"], ["--nano", "-tttt"]),
        GoldenCase(["--nano"], ["--nano"]),
        GoldenCase(["tcp", "and", "port", "5555"], ["tcp", "and", "port", "5555"]),
        GoldenCase(["-c", "5"], ["-c", "5"]),
        GoldenCase(["-c", "5", "--tt", "tcp", "and", "port", "5555"], ["-c", "5", "-tt", "tcp", "and", "port", "5555"]),
        GoldenCase(["--ttt", "icmp", "or", "icmp6"], ["-ttt", "icmp", "or", "icmp6"]),
        GoldenCase(["--nano", "--ttttt", "ip6", "and", "tcp"], ["--nano", "-ttttt", "ip6", "and", "tcp"]),
    ]

    @Test("wirelat capture -r FILE prints exactly what tcpdump -n -r FILE prints",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs tcpdump, root and iproute2 to make the capture"),
          arguments: goldenCases)
    func sameLinesAsTcpdump(_ golden: GoldenCase) async throws {
        let capture = try await TrafficCaptures.shared.capture()
        let dir = try ScratchDirectory("cap-golden")
        defer { dir.remove() }
        let expected = try await runTcpdumpUTC(["-n", "-r", capture.path] + golden.tcpdump, in: dir)
        try #require(expected.succeeded, "tcpdump itself failed: \(expected.summary)")
        let expectedOutput = expected.stdoutData
        #expect(lineCount(expectedOutput) > 0, "tcpdump printed nothing for \(golden.tcpdump)")
        let actual = try await runWirelatUTC(["capture", "-r", capture.path] + golden.wirelat, in: dir)
        #expect(actual.succeeded, "\(actual.summary)")
        #expect(actual.stderr.isEmpty, "wirelat wrote to stderr: \(actual.stderr)")
        if let difference = firstDifference(expected: expectedOutput, actual: actual.stdoutData) {
            Issue.record("TZ=UTC wirelat capture -r FILE \(golden.wirelat.joined(separator: " ")) differs from TZ=UTC tcpdump -n -r FILE \(golden.tcpdump.joined(separator: " ")):\n\(difference)")
        }
    }

    @Test("-w OUT from -r IN with a filter keeps exactly the matching packets, in a nanosecond pcap tcpdump reads",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs tcpdump, root and iproute2 to make the capture"))
    func writeFiltered() async throws {
        let capture = try await TrafficCaptures.shared.capture()
        let dir = try ScratchDirectory("cap-write")
        defer { dir.remove() }
        let filter = ["icmp", "or", "icmp6", "or", "(tcp", "and", "port", "\(capture.port)", "and", "tcp[tcpflags]", "&", "tcp-syn", "!=", "0)"]
        let out = dir.file("out.pcap")
        let written = try await runWirelatUTC(["capture", "-r", capture.path, "-w", out] + filter, in: dir)
        #expect(written.succeeded, "\(written.summary)")
        #expect(written.stdoutData.isEmpty, "with -w and no --print nothing should be printed, got:\n\(written.stdout.prefix(500))")
        let magic = pcapMagic(out)
        #expect(magic == pcapNanosecondMagic, "\(out) starts with magic \(magic.map { String($0, radix: 16) } ?? "nothing"), not a1b23c4d (nanosecond pcap)")

        let expected = try await runTcpdumpUTC(["-n", "--nano", "-r", capture.path] + filter, in: dir)
        try #require(expected.succeeded, "\(expected.summary)")
        let readBack = try await runTcpdumpUTC(["-n", "--nano", "-r", out], in: dir)
        #expect(readBack.succeeded, "tcpdump cannot read wirelat's -w file: \(readBack.summary)")
        let wanted = lineCount(expected.stdoutData)
        #expect(wanted > 2, "the filter matched only \(wanted) packets in the fixture")
        #expect(lineCount(readBack.stdoutData) == wanted, "tcpdump -r OUT shows \(lineCount(readBack.stdoutData)) packets, tcpdump -r IN FILTER \(wanted)")
        if let difference = firstDifference(expected: expected.stdoutData, actual: readBack.stdoutData,
                                            expectedName: "tcpdump --nano -r IN FILTER", actualName: "tcpdump --nano -r OUT") {
            Issue.record("the packets in OUT are not the filtered packets of IN, to the nanosecond:\n\(difference)")
        }
    }

    @Test("-w from a microsecond pcap writes a nanosecond pcap with the same times",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs tcpdump, root and iproute2 to make the capture"))
    func writeFromMicrosecondFile() async throws {
        let capture = try await TrafficCaptures.shared.capture()
        let dir = try ScratchDirectory("cap-write-us")
        defer { dir.remove() }
        // tcpdump -r -w keeps the reading handle's (microsecond) precision.
        let micro = dir.file("micro.pcap")
        let copy = try await runTcpdumpUTC(["-r", capture.path, "-w", micro, "-Z", "root", "-c", "3000"], in: dir)
        try #require(copy.succeeded && pcapMagic(micro) == pcapMicrosecondMagic, "could not make a microsecond copy: \(copy.summary)")
        let out = dir.file("out.pcap")
        let written = try await runWirelatUTC(["capture", "-r", micro, "-w", out], in: dir)
        #expect(written.succeeded, "\(written.summary)")
        #expect(pcapMagic(out) == pcapNanosecondMagic, "-w did not write a nanosecond pcap")
        let expected = try await runTcpdumpUTC(["-n", "--nano", "-r", micro], in: dir)
        let readBack = try await runTcpdumpUTC(["-n", "--nano", "-r", out], in: dir)
        #expect(readBack.succeeded, "\(readBack.summary)")
        if let difference = firstDifference(expected: expected.stdoutData, actual: readBack.stdoutData,
                                            expectedName: "tcpdump --nano -r MICRO", actualName: "tcpdump --nano -r OUT") {
            Issue.record(Comment(rawValue: difference))
        }
    }

    static let tcpstatFull = "%R\\t%n\\t%p\\t%a\\t%d\\t%m\\t%M\\t%b\\t%B\\n"
    static let statsCases: [StatsCase] = {
        var cases: [StatsCase] = []
        let formats: [String?] = [
            nil,
            tcpstatFull,
            "%S %b\\n",                                  // the man page's gnuplot example
            "%R %n %a %d %b\\n",                         // wirelat capture --help's example
            "%s\\t%r\\t%N\\t%T\\t%U\\t%I\\t%V\\t%C\\t%A\\n", // timestamps, bytes, per-protocol counts
            "n=%n p=%p\\n",
        ]
        for (wirelat, tcpstat) in [("1s", "1"), ("0.5s", "0.5"), ("1", "1"), ("0.5", "0.5")] {
            for format in formats {
                // Bare seconds once each interval, with the two main formats.
                if !wirelat.hasSuffix("s") && format != nil && format != tcpstatFull { continue }
                cases.append(StatsCase(wirelatInterval: wirelat, tcpstatInterval: tcpstat, format: format))
            }
        }
        cases.append(StatsCase(wirelatInterval: "250ms", tcpstatInterval: "0.25", format: tcpstatFull))
        cases.append(StatsCase(wirelatInterval: "0.5s", tcpstatInterval: "0.5", format: tcpstatFull, filter: ["tcp", "and", "port", "5555"]))
        // The pings: a few packets with gaps, so some intervals are empty.
        cases.append(StatsCase(wirelatInterval: "0.25s", tcpstatInterval: "0.25", format: nil, filter: ["icmp", "or", "icmp6"]))
        return cases
    }()

    @Test("--stats INTERVAL -o FORMAT prints exactly what tcpstat -r FILE -o FORMAT INTERVAL prints",
          .enabled(if: CaptureTools.haveTcpstatAndNamespaces, "needs tcpstat, tcpdump, root and iproute2"),
          arguments: statsCases)
    func sameStatisticsAsTcpstat(_ stats: StatsCase) async throws {
        let capture = try await TrafficCaptures.shared.capture()
        let dir = try ScratchDirectory("cap-stats")
        defer { dir.remove() }
        let tcpstat = try #require(CaptureTools.tcpstat)
        var peer = [tcpstat, "-r", capture.path]
        if let format = stats.format { peer += ["-o", format] }
        if !stats.filter.isEmpty { peer += ["-f", stats.filter.joined(separator: " ")] }
        let expected = try await runTool(peer + [stats.tcpstatInterval], environment: ["TZ": "UTC"], in: dir)
        try #require(expected.succeeded, "tcpstat itself failed: \(expected.summary)")
        #expect(lineCount(expected.stdoutData) > 0, "tcpstat printed nothing")
        var arguments = ["capture", "-r", capture.path, "--stats", stats.wirelatInterval]
        if let format = stats.format { arguments += ["-o", format] }
        let actual = try await runWirelatUTC(arguments + stats.filter, in: dir)
        #expect(actual.succeeded, "\(actual.summary)")
        if let difference = firstDifference(expected: expected.stdoutData, actual: actual.stdoutData, expectedName: "tcpstat") {
            Issue.record("wirelat \(arguments.dropFirst(3).joined(separator: " ")) \(stats.filter.joined(separator: " ")) differs from \(peer.dropFirst(3).joined(separator: " ")) \(stats.tcpstatInterval):\n\(difference)")
        }
    }

    @Test("a bad input file: exit 2, the packets before the damage, and one line on stderr",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs tcpdump, root and iproute2 to make the capture"),
          arguments: [BadFileCase.Cut.text, .empty, .insideFileHeader, .insideRecordHeader, .insidePacketData, .missing].map(BadFileCase.init))
    func badFile(_ bad: BadFileCase) async throws {
        let capture = try await TrafficCaptures.shared.capture()
        let dir = try ScratchDirectory("cap-bad")
        defer { dir.remove() }
        let original = try Data(contentsOf: URL(fileURLWithPath: capture.path))
        let offsets = pcapRecordOffsets(original)
        let k = BadFileCase.packetsBeforeCut
        try #require(offsets.count > k + 1, "the fixture has only \(offsets.count) packets")
        let path = dir.file("input.pcap")
        var expectedPackets = 0
        switch bad.cut {
        case .text:
            try Data("this is not a capture\njust some text\n".utf8).write(to: URL(fileURLWithPath: path))
        case .empty:
            try Data().write(to: URL(fileURLWithPath: path))
        case .insideFileHeader:
            try original.prefix(12).write(to: URL(fileURLWithPath: path))
        case .insideRecordHeader:
            try original.prefix(offsets[k] + 8).write(to: URL(fileURLWithPath: path))
            expectedPackets = k
        case .insidePacketData:
            let length = original.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: offsets[k] + 8, as: UInt32.self)) }
            try original.prefix(offsets[k] + 16 + length / 2).write(to: URL(fileURLWithPath: path))
            expectedPackets = k
        case .missing:
            break
        }
        let result = try await runWirelatUTC(["capture", "-r", path], in: dir)
        #expect(!result.exit.bySignal && result.exit.status == 2, "\(bad.testDescription): \(result.summary)")
        #expect(result.stderrLines.count == 1, "\(bad.testDescription): stderr should be one line, got:\n\(result.stderr)")
        if expectedPackets > 0 {
            // What tcpdump prints for the same damaged file: the packets before the cut.
            let expected = try await runTcpdumpUTC(["-n", "-r", capture.path, "-c", "\(expectedPackets)"], in: dir)
            let tcpdumpOnCut = try await runTcpdumpUTC(["-n", "-r", path], in: dir)
            #expect(tcpdumpOnCut.stdoutData == expected.stdoutData, "tcpdump itself reads the cut file differently; the test's cut is wrong")
            if let difference = firstDifference(expected: expected.stdoutData, actual: result.stdoutData) {
                Issue.record("\(bad.testDescription): the \(expectedPackets) packets before the cut are not printed as tcpdump prints them:\n\(difference)")
            }
        } else {
            #expect(result.stdoutData.isEmpty, "\(bad.testDescription): printed \(result.stdout.prefix(300))")
        }
    }

    @Test("bad usage exits 64", arguments: [
        (["capture", "-r", "FIXTURE", "port", "notaport"], "notaport"),
        (["capture", "-r", "FIXTURE", "tcp", "and", "and"], ""),
        (["capture", "-i", "lo", "-r", "FIXTURE"], "-i"),
        (["capture", "-r", "FIXTURE", "--ttt", "--tt"], "--tt"),
        (["capture"], "-r"),
        (["capture", "-r", "FIXTURE", "-c", "0"], "-c"),
        (["capture", "-r", "FIXTURE", "--stats", "soon"], "--stats"),
        (["capture", "-r", "FIXTURE", "-o", "%n\\n"], "-o"),
    ])
    func badUsage(arguments: [String], mention: String) async throws {
        let dir = try ScratchDirectory("cap-usage")
        defer { dir.remove() }
        // A real (tiny) capture, so only the usage can be wrong.
        let fixture = dir.file("one.pcap")
        try Self.onePacketCapture.write(to: URL(fileURLWithPath: fixture))
        let argv = arguments.map { $0 == "FIXTURE" ? fixture : $0 }
        let result = try await runWirelatUTC(argv, in: dir)
        #expect(!result.exit.bySignal && result.exit.status == 64, "\(argv.joined(separator: " ")): \(result.summary)")
        #expect(!result.stderr.isEmpty, "\(argv.joined(separator: " ")): nothing on stderr")
        if !mention.isEmpty {
            #expect(result.stderr.contains(mention), "\(argv.joined(separator: " ")): stderr does not mention \(mention):\n\(result.stderr)")
        }
        #expect(result.stdoutData.isEmpty, "\(argv.joined(separator: " ")): printed \(result.stdout.prefix(300))")
        if argv.contains("notaport") {
            #expect(result.stderrLines.count == 1, "a bad filter should be one line on stderr, got:\n\(result.stderr)")
        }
    }

    /// A nanosecond pcap (Ethernet) holding one UDP packet 10.0.0.1:1000 → 10.0.0.2:2000.
    static let onePacketCapture: Data = {
        var bytes: [UInt8] = []
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        func le16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        le32(pcapNanosecondMagic); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
        let frame: [UInt8] = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
                              0x45, 0, 0, 30, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
                              0x03, 0xe8, 0x07, 0xd0, 0, 10, 0, 0, 0x61, 0x62]
        le32(1_700_000_000); le32(123_456_789); le32(UInt32(frame.count)); le32(UInt32(frame.count))
        bytes += frame
        return Data(bytes)
    }()
}

@Suite("wirelat capture -i: live captures in a namespace of its own", .timeLimit(.minutes(2)))
struct CaptureLiveEndToEnd {
    /// Starts a server and a capture in a fresh namespace, runs a 1 s sync client there,
    /// and hands the finished capture to `check`.
    private func withLiveCapture(_ captureArguments: [String], count: Int, in dir: ScratchDirectory,
                                 check: (Spawned, Spawned.Exit) async throws -> Void) async throws {
        let binary = try WirelatBinary.require()
        let ns = LoopbackNamespace()
        let port = 5555 // alone in its namespace
        var children: [Spawned] = []
        do {
            try await ns.up(in: dir)
            let server = try await startServer(["--port", "\(port)"], prefix: ns.exec, in: dir)
            children.append(server)
            let exec = ns.exec
            let capture = try Spawned(exec[0], Array(exec.dropFirst()) + [binary, "capture", "-i", "lo", "-c", "\(count)"] + captureArguments + ["port", "\(port)"],
                                      name: "live-capture", in: dir)
            children.append(capture)
            guard await capture.waitForError("listening on", timeout: .seconds(10)) else {
                throw E2EFailure("wirelat capture did not say it is listening within 10 s\n\(capture.transcript)")
            }
            let client = try Spawned(exec[0], Array(exec.dropFirst()) + [binary, "client", "127.0.0.1", "--port", "\(port)", "--duration", "1s"],
                                     name: "live-client", in: dir)
            children.append(client)
            guard let exit = await capture.waitForExit(timeout: .seconds(20)) else {
                throw E2EFailure("wirelat capture -c \(count) did not exit within 20 s of a 1 s client run\n\(capture.transcript)")
            }
            let clientExit = await client.waitForExit(timeout: .seconds(20))
            #expect(clientExit?.status == 0, "the client failed\n\(client.transcript)")
            try await check(capture, exit)
        } catch {
            for child in children { child.kill() }
            await ns.down(in: dir)
            throw error
        }
        for child in children { child.kill() }
        await ns.down(in: dir)
        #expect(!ns.exists, "namespace \(ns.name) was left behind")
    }

    @Test("-i lo -c N port P during a sync test: N lines, exit 0, 0 packets dropped by kernel",
          .enabled(if: NamespaceSupport.available, "needs root and iproute2's ip"),
          arguments: [[], ["-Z", "nobody"], ["--ttt", "--nano"]])
    func printsCountPackets(_ extra: [String]) async throws {
        let dir = try ScratchDirectory("cap-live")
        defer { dir.remove() }
        let n = 300
        try await withLiveCapture(extra, count: n, in: dir) { capture, exit in
            #expect(exit.status == 0 && !exit.bySignal, "\(exit)\n\(capture.transcript)")
            let printed = lines(capture.stdout)
            #expect(printed.count == n, "printed \(printed.count) lines, wanted \(n)\n\(capture.stderr)")
            let offPort = printed.filter { !$0.contains("127.0.0.1.5555") }
            #expect(offPort.isEmpty, "lines not to or from port 5555: \(offPort.prefix(3))")
            #expect(reports(capture.stderr, "\(n) packets captured"), "stderr: \(capture.stderr)")
            #expect(reports(capture.stderr, "0 packets dropped by kernel"), "stderr: \(capture.stderr)")
        }
    }

    @Test("-i lo -w OUT -c N: nothing printed, and tcpdump reads N packets back as wirelat -r prints them",
          .enabled(if: CaptureTools.haveTcpdumpAndNamespaces, "needs tcpdump, root and iproute2"),
          arguments: [[], ["-Z", "nobody"]])
    func writesLive(_ extra: [String]) async throws {
        let dir = try ScratchDirectory("cap-live-w")
        defer { dir.remove() }
        let n = 200
        let out = dir.file("live.pcap")
        try await withLiveCapture(["-w", out] + extra, count: n, in: dir) { capture, exit in
            #expect(exit.status == 0 && !exit.bySignal, "\(exit)\n\(capture.transcript)")
            #expect(capture.stdout.isEmpty, "with -w, printed:\n\(capture.stdout.prefix(500))")
            #expect(reports(capture.stderr, "0 packets dropped by kernel"), "stderr: \(capture.stderr)")
            #expect(pcapMagic(out) == pcapNanosecondMagic, "the live -w file is not a nanosecond pcap")
            let readBack = try await runTcpdumpUTC(["-n", "-r", out], in: dir)
            #expect(readBack.succeeded, "tcpdump cannot read the live -w file: \(readBack.summary)")
            #expect(lineCount(readBack.stdoutData) == n, "tcpdump reads \(lineCount(readBack.stdoutData)) packets back, wanted \(n)")
            let ours = try await runWirelatUTC(["capture", "-r", out], in: dir)
            #expect(ours.succeeded, "\(ours.summary)")
            if let difference = firstDifference(expected: readBack.stdoutData, actual: ours.stdoutData) {
                Issue.record("reading the live -w file back:\n\(difference)")
            }
        }
    }

    @Test("without CAP_NET_RAW, -i lo exits 3 and stderr names CAP_NET_RAW",
          .enabled(if: CaptureTools.haveSetpriv, "needs root and setpriv to become nobody"))
    func withoutPrivilege() async throws {
        let dir = try ScratchDirectory("cap-priv")
        defer { dir.remove() }
        // A copy nobody can reach and execute, whatever the permissions above the build directory.
        let copy = dir.file("wirelat")
        try FileManager.default.copyItem(atPath: try WirelatBinary.require(), toPath: copy)
        chmod(copy, 0o755)
        chmod(dir.path, 0o755)
        let setpriv = try #require(CaptureTools.setpriv)
        let result = try await runTool([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                        copy, "capture", "-i", "lo", "-c", "1"], in: dir, timeout: .seconds(10))
        #expect(!result.exit.bySignal && result.exit.status == 3, "\(result.summary)")
        #expect(result.stderr.contains("CAP_NET_RAW"), "stderr does not name CAP_NET_RAW:\n\(result.stderr)")
        #expect(result.stderrLines.count == 1, "stderr should be one line:\n\(result.stderr)")
        #expect(result.stdoutData.isEmpty, "printed: \(result.stdout)")
    }
}

@Suite("wirelat capture on tcpdump's own test captures", .timeLimit(.minutes(3)))
struct CaptureCorpusEndToEnd {
    @Test("every file in the tcpdump corpus: -r FILE -c 2000 exits 0 or 2 within 10 s, never crashes",
          .enabled(if: CaptureTools.haveCorpus, "the tcpdump corpus (../shared/corpus/tcpdump-tests) is not there"))
    func corpus() async throws {
        let binary = try WirelatBinary.require()
        let files = try FileManager.default.contentsOfDirectory(atPath: CaptureTools.corpus)
            .sorted()
            .map { CaptureTools.corpus + "/" + $0 }
            .filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
        #expect(files.count > 800, "the corpus holds only \(files.count) files")
        let dir = try ScratchDirectory("cap-corpus")
        defer { dir.remove() }

        struct Outcome: Sendable {
            let file: String
            let result: String?   // nil: fine
        }
        let parallel = 8
        var failures: [Outcome] = []
        var exits: [Int32: Int] = [:]
        try await withThrowingTaskGroup(of: (Outcome, Int32?).self) { group in
            var next = 0
            func submit() {
                let file = files[next]
                let index = next
                next += 1
                group.addTask {
                    let name = "c\(index)"
                    let child = try Spawned(binary, ["capture", "-r", file, "-c", "2000"], name: name, in: dir)
                    defer {
                        child.kill()
                        try? FileManager.default.removeItem(atPath: child.stdoutPath)
                        try? FileManager.default.removeItem(atPath: child.stderrPath)
                    }
                    let base = URL(fileURLWithPath: file).lastPathComponent
                    guard let exit = await child.waitForExit(timeout: .seconds(10)) else {
                        return (Outcome(file: base, result: "did not finish within 10 s"), nil)
                    }
                    if exit.bySignal || (exit.status != 0 && exit.status != 2) {
                        return (Outcome(file: base, result: "\(exit); stderr: \(child.stderr.suffix(400))"), exit.status)
                    }
                    return (Outcome(file: base, result: nil), exit.status)
                }
            }
            for _ in 0..<min(parallel, files.count) { submit() }
            while let (outcome, status) = try await group.next() {
                if outcome.result != nil { failures.append(outcome) }
                if let status { exits[status, default: 0] += 1 }
                if next < files.count { submit() }
            }
        }
        for failure in failures.sorted(by: { $0.file < $1.file }) {
            Issue.record("wirelat capture -r \(failure.file) -c 2000: \(failure.result ?? "")")
        }
        FileHandle.standardError.write(Data("CaptureCorpusEndToEnd: \(files.count) files: \(exits.sorted { $0.key < $1.key }.map { "exit \($0.key): \($0.value)" }.joined(separator: ", ")); \(failures.count) failures\n".utf8))
    }
}
