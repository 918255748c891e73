import Foundation
import Testing
@preconcurrency import Glibc

// `wirelat capture` when something fails under it (the interface deleted during a live
// capture, a full disk under -w) or its input is odd. A failure must end the capture
// with exit 1 and one line saying what happened, after the report of what was
// captured until then.

@Suite("wirelat capture: failures under a running capture end it with exit 1, one line and the report so far",
       .serialized, .timeLimit(.minutes(4)))
struct CaptureFailureEndToEnd {
    /// The capture modes whose report must survive a deleted interface.
    enum Mode: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case print = "--print", write = "-w", rtt = "--rtt"
        var testDescription: String { rawValue }
    }

    /// Runs that delete the link at once, then runs that set it down first.
    static let deletionRuns = 5
    static let downFirstRuns = 2

    // libpcap reads the kernel's one ENETDOWN and then looks the interface up by name:
    // while `ip link del` is still unregistering it, or after `ip link set down`, the
    // lookup succeeds, libpcap takes it for "went down" and never looks again. The
    // down-first runs make that certain rather than a race a few runs in ten lose.
    @Test("-i VETH with sync traffic flowing, then `ip link del VETH` (5 runs; 2 more set it down first): exit 1 within 5 s, \"The interface disappeared\" once, the packets and report kept",
          .enabled(if: NamespaceSupport.available, "needs root and iproute2's ip to make network namespaces"),
          arguments: Mode.allCases)
    func interfaceDeleted(_ mode: Mode) async throws {
        let dir = try ScratchDirectory("cap-ifdel")
        defer { dir.remove() }
        for run in 1...(Self.deletionRuns + Self.downFirstRuns) {
            try await deleteInterfaceUnderCapture(mode, run: run, downFirst: run > Self.deletionRuns, in: dir)
        }
    }

    /// One run: a server and a 30 s sync client across a fresh veth pair, a capture on the
    /// client's end, the link deleted (after setting it down, if `downFirst`) once the
    /// capture has packets, then the checks.
    private func deleteInterfaceUnderCapture(_ mode: Mode, run: Int, downFirst: Bool, in dir: ScratchDirectory) async throws {
        let binary = try WirelatBinary.require()
        let ip = try #require(NamespaceSupport.ip)
        let pair = NamespacePair()
        let port = 5555 // alone in its namespace
        let out = dir.file("deleted-\(run).pcap")
        var children: [Spawned] = []
        do {
            try await pair.up(in: dir)
            let server = try await startServer(["--port", "\(port)"], prefix: [ip, "netns", "exec", pair.serverNamespace], in: dir,
                                               name: "server-\(mode.testDescription)-\(run)")
            children.append(server)
            let client = try Spawned(ip, ["netns", "exec", pair.clientNamespace, binary, "client", pair.serverAddress,
                                          "--port", "\(port)", "--duration", "30s"],
                                     name: "client-\(run)", in: dir)
            children.append(client)
            guard await client.waitForOutput("The server is ready.", timeout: .seconds(10)) else {
                throw E2EFailure("the client did not start within 10 s\n\(client.transcript)")
            }
            let modeArguments = mode == .write ? ["-w", out] : [mode.rawValue]
            let capture = try Spawned(ip, ["netns", "exec", pair.clientNamespace, binary, "capture", "-i", pair.clientLink]
                                          + modeArguments + ["port", "\(port)"],
                                      name: "capture-\(run)", in: dir)
            children.append(capture)
            guard await capture.waitForError("listening on", timeout: .seconds(10)) else {
                throw E2EFailure("wirelat capture did not say it is listening within 10 s\n\(capture.transcript)")
            }
            // Let some traffic through first, so there is a report to keep.
            try await Task.sleep(for: .milliseconds(300))
            if downFirst {
                try await runIP(["-n", pair.clientNamespace, "link", "set", pair.clientLink, "down"], in: dir)
                try await Task.sleep(for: .milliseconds(300))
            }
            try await runIP(["-n", pair.clientNamespace, "link", "del", pair.clientLink], in: dir)
            let exit = await capture.waitForExit(timeout: .seconds(5))
            let context = "run \(run)\(downFirst ? " (down first)" : ""), \(mode.testDescription)"
            guard let exit else {
                throw E2EFailure("\(context): wirelat capture still ran 5 s after its interface was deleted (killed)\n\(capture.transcript)")
            }
            #expect(exit.status == 1 && !exit.bySignal, "\(context): \(exit)\n\(capture.stderr)")
            let stderrLines = lines(capture.stderr)
            let errorLines = stderrLines.filter { $0.contains("The interface disappeared") }
            #expect(errorLines.count == 1 && errorLines.allSatisfy { $0.contains("reading packets: The interface disappeared") },
                    "\(context): stderr should say once that the interface disappeared:\n\(capture.stderr)")
            let counted = stderrLines.compactMap { line -> Int? in
                guard let range = line.range(of: " packets captured") else { return nil }
                return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
            }
            let captured = try #require(counted.first, "\(context): no \"N packets captured\" line:\n\(capture.stderr)")
            #expect(captured > 0, "\(context): nothing captured before the deletion")
            switch mode {
            case .print:
                #expect(lines(capture.stdout).count == captured,
                        "\(context): printed \(lines(capture.stdout).count) lines for \(captured) packets captured")
            case .write:
                let data = try Data(contentsOf: URL(fileURLWithPath: out))
                let records = pcapRecordOffsets(data)
                #expect(records.count == captured, "\(context): \(out) holds \(records.count) packets, \(captured) captured")
                if let last = records.last {
                    let end = last + 16 + Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: last + 8, as: UInt32.self) })
                    #expect(end == data.count, "\(context): \(out) ends inside its last record")
                }
            case .rtt:
                #expect(capture.stdout.contains("Round trips seen on the wire at interface \(pair.clientLink)"),
                        "\(context): no --rtt report on stdout:\n\(capture.stdout.suffix(800))")
            }
        } catch {
            for child in children { child.kill() }
            await pair.down(in: dir)
            throw error
        }
        for child in children { child.kill() }
        await pair.down(in: dir)
        #expect(!pair.exists, "namespace \(pair.serverNamespace) or \(pair.clientNamespace) was left behind")
    }
}

extension CaptureFailureEndToEnd {
    @Test("-r FILE -w OUT on a full 256 KiB tmpfs: exit 1, one line naming OUT and \"No space left on device\", and the count printed is what OUT holds, with no record cut short",
          .enabled(if: NamespaceSupport.available && CaptureTools.find("mount") != nil, "needs root and mount for a small tmpfs"))
    func fullDiskFromFile() async throws {
        let dir = try ScratchDirectory("cap-full")
        defer { dir.remove() }
        let input = dir.file("big.pcap")
        // 5000 packets of 100 bytes: twice what the tmpfs holds.
        let frame = SyntheticPcap.ipv4UDPFrame(payloadBytes: 58)
        var records: [(seconds: UInt32, microseconds: UInt32, frame: [UInt8])] = []
        for i in 0..<UInt32(5000) {
            records.append((seconds: 1_700_000_000 + i / 1000, microseconds: i % 1000 * 1000, frame: frame))
        }
        try SyntheticPcap(linkType: 1, records: records).data.write(to: URL(fileURLWithPath: input))
        try await withSmallTmpfs(in: dir) { mountPoint in
            let out = mountPoint + "/out.pcap"
            let run = try await runTool([try WirelatBinary.require(), "capture", "-r", input, "-w", out], in: dir)
            try await checkFullDisk(run.exit, stderr: run.stderr, out: out, in: dir)
        }
    }

    @Test("-i lo -w OUT on a full 256 KiB tmpfs during a sync test: exit 1 within 20 s, the count printed is what OUT holds",
          .enabled(if: NamespaceSupport.available && CaptureTools.find("mount") != nil, "needs root, iproute2 and mount"))
    func fullDiskLive() async throws {
        let binary = try WirelatBinary.require()
        let dir = try ScratchDirectory("cap-full-live")
        defer { dir.remove() }
        try await withSmallTmpfs(in: dir) { mountPoint in
            let out = mountPoint + "/live.pcap"
            let ns = LoopbackNamespace()
            let port = 5555 // alone in its namespace
            var children: [Spawned] = []
            do {
                try await ns.up(in: dir)
                children.append(try await startServer(["--port", "\(port)"], prefix: ns.exec, in: dir))
                let capture = try await startListening(ns.exec, [binary, "capture", "-i", "lo", "-w", out, "port", "\(port)"],
                                                       name: "full-capture", in: dir)
                children.append(capture)
                children.append(try Spawned(ns.exec[0], Array(ns.exec.dropFirst()) + [binary, "client", "127.0.0.1", "--port", "\(port)", "--duration", "30s"],
                                            name: "full-client", in: dir))
                guard let exit = await capture.waitForExit(timeout: .seconds(20)) else {
                    throw E2EFailure("the capture still ran 20 s into a sync test with a full disk (killed)\n\(capture.transcript)")
                }
                try await checkFullDisk(exit, stderr: capture.stderr, out: out, in: dir)
                let captured = lines(capture.stderr).first { $0.hasSuffix(" packets captured") }
                let held = pcapRecordOffsets(try Data(contentsOf: URL(fileURLWithPath: out))).count
                #expect(captured.map(String.init) == "wirelat: \(held) packets captured", "the capture's count is not what \(out) holds (\(held)):\n\(capture.stderr)")
            } catch {
                for child in children { child.kill() }
                await ns.down(in: dir)
                throw error
            }
            for child in children { child.kill() }
            await ns.down(in: dir)
        }
    }

    /// Exit 1; one line naming `out` and the reason, whose count is the packets `out` holds;
    /// `out` ends with its last whole record and reads back (through tcpdump, when installed).
    private func checkFullDisk(_ exit: Spawned.Exit, stderr: String, out: String, in dir: ScratchDirectory) async throws {
        #expect(exit.status == 1 && !exit.bySignal, "\(exit)\n\(stderr)")
        let errorLines = lines(stderr).filter { $0.contains("No space left on device") }
        #expect(errorLines.count == 1 && errorLines.allSatisfy { $0.contains(out) }, "stderr should name \(out) and the reason once:\n\(stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let records = pcapRecordOffsets(data)
        #expect(records.count > 0, "\(out) holds no packets")
        if let last = records.last {
            let end = last + 16 + Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: last + 8, as: UInt32.self) })
            #expect(end == data.count, "\(out) ends inside its last record (\(data.count) bytes, the last record ends at \(end))")
        }
        #expect(errorLines.first?.hasSuffix("(after \(records.count) packets)") == true,
                "the count printed is not the \(records.count) packets \(out) holds:\n\(stderr)")
        if CaptureTools.tcpdump != nil {
            let readBack = try await runTcpdumpUTC(["-n", "-r", out], in: dir)
            #expect(readBack.succeeded && lineCount(readBack.stdoutData) == records.count,
                    "tcpdump reads \(lineCount(readBack.stdoutData)) packets back, \(records.count) counted: \(readBack.summary)")
        }
    }

    /// Runs `body` with a 256 KiB tmpfs mounted in `dir`, unmounted afterwards whatever happens.
    private func withSmallTmpfs(in dir: ScratchDirectory, _ body: (String) async throws -> Void) async throws {
        let mountPoint = dir.file("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try #require(CaptureTools.find("mount"))
        let mounted = try await runTool([mount, "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint], in: dir, timeout: .seconds(10))
        guard mounted.succeeded else { throw E2EFailure("cannot mount a tmpfs: \(mounted.summary)") }
        do {
            try await body(mountPoint)
        } catch {
            await unmount(mountPoint, in: dir)
            throw error
        }
        await unmount(mountPoint, in: dir)
    }

    private func unmount(_ mountPoint: String, in dir: ScratchDirectory) async {
        guard let umount = CaptureTools.find("umount") else { return }
        let run = try? await runTool([umount, mountPoint], in: dir, timeout: .seconds(10))
        #expect(run?.succeeded == true, "cannot unmount \(mountPoint): \(run?.summary ?? "umount did not run")")
    }
}

@Suite("wirelat capture: input it must not choke on", .timeLimit(.minutes(2)))
struct CaptureInputEndToEnd {
    @Test("-r FILE --stats 1s with a timestamp 10 years ahead: within 20 s, three lines, and one line on stderr counting the empty intervals skipped")
    func statsAcrossTenYears() async throws {
        let dir = try ScratchDirectory("cap-jump")
        defer { dir.remove() }
        let input = dir.file("jump.pcap")
        let t0: UInt32 = 1_700_000_000
        let tenYears: UInt32 = 315_360_000
        let frame = SyntheticPcap.ipv4UDPFrame(payloadBytes: 10)
        try SyntheticPcap(linkType: 1, records: [(t0, 0, frame), (t0 + 1, 0, frame), (t0 + tenYears, 0, frame), (t0 + tenYears + 1, 0, frame)])
            .data.write(to: URL(fileURLWithPath: input))
        let run = try await runWirelatUTC(["capture", "-r", input, "--stats", "1s"], in: dir, timeout: .seconds(20))
        #expect(run.succeeded, "\(run.summary)")
        let printed = lines(run.stdout)
        #expect(printed.count == 3 && printed.allSatisfy { $0.hasPrefix("Time:") }, "stdout:\n\(run.stdout.prefix(1000))")
        #expect(run.stderrLines == ["wirelat: 315359998 empty 1s intervals skipped between 1700000001.000000 and 2015359999.000000 s since the epoch (timestamps jumped ahead)"],
                "stderr:\n\(run.stderr)")
    }

    @Test("-r FILE --rtt of link type 65000: exit 2 and one line saying the link type is not decoded; a decodable file still exits 0")
    func rttUndecodedLinkType() async throws {
        let dir = try ScratchDirectory("cap-lt")
        defer { dir.remove() }
        let frame = SyntheticPcap.ipv4UDPFrame(payloadBytes: 10)
        let foreign = dir.file("lt65000.pcap")
        try SyntheticPcap(linkType: 65000, records: [(1_700_000_000, 0, frame), (1_700_000_001, 0, frame)]).data.write(to: URL(fileURLWithPath: foreign))
        let refused = try await runWirelatUTC(["capture", "-r", foreign, "--rtt"], in: dir)
        #expect(!refused.exit.bySignal && refused.exit.status == 2, "\(refused.summary)")
        #expect(refused.stderrLines.count == 1 && refused.stderr.contains("link-type 65000") && refused.stderr.contains("not decode"),
                "stderr should say in one line that link type 65000 is not decoded:\n\(refused.stderr)")
        #expect(refused.stdoutData.isEmpty, "printed: \(refused.stdout.prefix(500))")
        let ethernet = dir.file("ethernet.pcap")
        try SyntheticPcap(linkType: 1, records: [(1_700_000_000, 0, frame), (1_700_000_001, 0, frame)]).data.write(to: URL(fileURLWithPath: ethernet))
        let decoded = try await runWirelatUTC(["capture", "-r", ethernet, "--rtt"], in: dir)
        #expect(decoded.succeeded && decoded.stdout.contains("2 packets"), "\(decoded.summary)\n\(decoded.stdout)")
    }

    @Test("-s 0 means 262144, as for tcpdump: accepted for a file, and a live capture says so",
          .enabled(if: NamespaceSupport.available, "needs root and iproute2's ip"))
    func snapshotLengthZero() async throws {
        let dir = try ScratchDirectory("cap-s0")
        defer { dir.remove() }
        let input = dir.file("one.pcap")
        try SyntheticPcap(linkType: 1, records: [(1_700_000_000, 0, SyntheticPcap.ipv4UDPFrame(payloadBytes: 10))]).data.write(to: URL(fileURLWithPath: input))
        let offline = try await runWirelatUTC(["capture", "-r", input, "-s", "0"], in: dir)
        #expect(offline.succeeded && lines(offline.stdout).count == 1, "\(offline.summary)")
        let ns = LoopbackNamespace()
        do {
            try await ns.up(in: dir)
            let capture = try await startListening(ns.exec, [try WirelatBinary.require(), "capture", "-i", "lo", "-s", "0"], name: "s0-capture", in: dir)
            let exit = await interrupt(capture)
            #expect(exit?.status == 0 && exit?.bySignal == false, "\(capture.transcript)")
            #expect(capture.stderr.contains("snapshot length 262144 bytes"), "\(capture.stderr)")
        } catch {
            await ns.down(in: dir)
            throw error
        }
        await ns.down(in: dir)
    }
}

/// A classic microsecond pcap in this host's byte order, made here rather than captured,
/// for input no capture would hold: foreign link types, timestamps that jump.
struct SyntheticPcap {
    let linkType: UInt32
    let records: [(seconds: UInt32, microseconds: UInt32, frame: [UInt8])]

    var data: Data {
        var out = Data()
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt32(0xa1b2_c3d4)); put(UInt16(2)); put(UInt16(4)); put(Int32(0)); put(UInt32(0)); put(UInt32(65535)); put(linkType)
        for record in records {
            put(record.seconds); put(record.microseconds); put(UInt32(record.frame.count)); put(UInt32(record.frame.count))
            out.append(contentsOf: record.frame)
        }
        return out
    }

    /// An Ethernet frame: IPv4 10.0.0.1 → 10.0.0.2, UDP 1024 → 9, `payloadBytes` of zeros.
    static func ipv4UDPFrame(payloadBytes: Int) -> [UInt8] {
        let ipLength = 20 + 8 + payloadBytes
        var frame: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        frame += [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        frame += [0x04, 0x00, 0x00, 0x09, UInt8((8 + payloadBytes) >> 8), UInt8((8 + payloadBytes) & 0xFF), 0, 0]
        return frame + [UInt8](repeating: 0, count: payloadBytes)
    }
}
