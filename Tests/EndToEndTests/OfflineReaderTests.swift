import Foundation
import Testing
@preconcurrency import Glibc

// `capture -r FILE` reads a regular file in place, from a read-only mapping, and anything
// else (standard input, a FIFO) through libpcap. Whichever way the packets come, wirelat
// must print, count, filter, write and fail exactly alike, and as tcpdump does.

/// `wirelat ARGS` (TZ=UTC) with `file` on standard input: `capture -r -` reads it through libpcap.
private func runWirelatOnStandardInput(_ file: String, _ arguments: [String], in dir: ScratchDirectory) async throws -> ToolRun {
    let binary = try WirelatBinary.require()
    return try await runTool(["/bin/sh", "-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", file, binary] + arguments,
                             environment: ["TZ": "UTC"], in: dir)
}

/// `wirelat capture -r FIFO ARGS` (TZ=UTC) while `cat` writes `file` into the FIFO.
private func runWirelatOnFIFO(_ file: String, _ arguments: [String], in dir: ScratchDirectory) async throws -> ToolRun {
    let binary = try WirelatBinary.require()
    let fifo = dir.file("capture-\(UInt32.random(in: 0...UInt32.max)).fifo")
    guard mkfifo(fifo, 0o600) == 0 else { throw E2EFailure("mkfifo \(fifo): \(String(cString: strerror(errno)))") }
    defer { unlink(fifo) }
    // The writer gives up after 30 s, so a reader that never opens the FIFO leaves nothing behind.
    let script = "src=$1; fifo=$2; shift 2; timeout 30 cat \"$src\" > \"$fifo\" & exec \"$@\""
    return try await runTool(["/bin/sh", "-c", script, "sh", file, fifo, binary, "capture", "-r", fifo] + arguments,
                             environment: ["TZ": "UTC"], in: dir)
}

/// Why two runs of wirelat on the same file differ, or nil: exit status, standard output
/// byte for byte, and the number of lines on standard error.
private func difference(_ mapped: ToolRun, _ other: ToolRun, otherName: String) -> String? {
    if mapped.exit.status != other.exit.status || mapped.exit.bySignal || other.exit.bySignal {
        return "-r FILE: \(mapped.exit), \(otherName): \(other.exit)\n[-r FILE stderr] \(mapped.stderr)[\(otherName) stderr] \(other.stderr)"
    }
    if let lines = firstDifference(expected: other.stdoutData, actual: mapped.stdoutData,
                                   expectedName: otherName, actualName: "-r FILE") {
        return lines
    }
    if mapped.stderrLines.count != other.stderrLines.count {
        return "stderr: -r FILE wrote \(mapped.stderrLines.count) lines, \(otherName) \(other.stderrLines.count):\n\(mapped.stderr)\(other.stderr)"
    }
    return nil
}

/// One file and one request: wirelat's arguments and tcpdump's spelling of them.
struct OfflineCase: Sendable, CustomTestStringConvertible {
    let file: String
    let wirelat: [String]
    let tcpdump: [String]
    var testDescription: String { ([file] + wirelat).joined(separator: " ") }
}

/// A pcapng file built here, the packets libpcap delivers from it before it stops, and
/// whether it stops on an error.
struct BuiltCapture: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let packets: Int
    let damaged: Bool
    var testDescription: String { name }
}

/// pcapng blocks, in either byte order (pcapng spec, draft-ietf-opsawg-pcapng §4).
private struct PcapngBuilder {
    var bigEndian = false
    var bytes: [UInt8] = []

    mutating func u16(_ v: UInt16) { bytes += bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) {
        let b = [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        bytes += bigEndian ? b : b.reversed()
    }

    mutating func block(_ type: UInt32, _ body: (inout PcapngBuilder) -> Void) {
        var inner = PcapngBuilder(bigEndian: bigEndian)
        body(&inner)
        inner.bytes += [UInt8](repeating: 0, count: (4 - inner.bytes.count % 4) % 4)
        let length = UInt32(12 + inner.bytes.count)
        u32(type); u32(length)
        bytes += inner.bytes
        u32(length)
    }

    /// Section header block, version `major`.0, section length unknown.
    mutating func section(bigEndian: Bool, major: UInt16 = 1) {
        self.bigEndian = bigEndian
        block(0x0A0D_0D0A) { b in
            b.u32(0x1A2B_3C4D); b.u16(major); b.u16(0); b.u32(0xFFFF_FFFF); b.u32(0xFFFF_FFFF)
        }
    }

    /// Interface description block, microsecond time stamps.
    mutating func interface(linkType: UInt16, snapshotLength: UInt32) {
        block(1) { b in b.u16(linkType); b.u16(0); b.u32(snapshotLength) }
    }

    /// Enhanced packet block on `interface` at 1 700 000 000 s + `microseconds` µs.
    mutating func packet(interface: UInt32, microseconds: UInt64, _ data: [UInt8]) {
        let t = 1_700_000_000 * 1_000_000 + microseconds
        block(6) { b in
            b.u32(interface); b.u32(UInt32(t >> 32)); b.u32(UInt32(t & 0xFFFF_FFFF))
            b.u32(UInt32(data.count)); b.u32(UInt32(data.count))
            b.bytes += data
        }
    }
}

/// UDP 10.0.0.1:1000 → 10.0.0.2:2000 with two bytes of payload, as Ethernet and as raw IP.
private let udpFrame: [UInt8] = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
                                 0x45, 0, 0, 30, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
                                 0x03, 0xE8, 0x07, 0xD0, 0, 10, 0, 0, 0x61, 0x62]
private let udpPacket = Array(udpFrame.dropFirst(14))

@Suite("capture -r: a regular file read in place and the same file through libpcap", .timeLimit(.minutes(5)))
struct OfflineReaderEndToEnd {
    static func corpusFile(_ name: String) -> String { CaptureTools.corpus + "/" + name }

    /// Files on which the printer matches tcpdump: classic pcap in micro- and nanoseconds,
    /// big-endian, Linux cooked, out-of-range time stamps, pcapng.
    static let cases: [OfflineCase] = {
        var cases: [OfflineCase] = []
        let files = ["tcp-handshake-nano.pcap", "mptcp-v1.pcap", "timestamp_invalid_micro.pcap", "timestamp_invalid_nano.pcap",
                     "icmpv6-length-zero.pcapng", "dns_tcp_8053.pcap", "quic_handshake.pcap", "icmpv6.pcap"]
        for file in files {
            cases.append(OfflineCase(file: file, wirelat: [], tcpdump: []))
            cases.append(OfflineCase(file: file, wirelat: ["--nano", "--ttt"], tcpdump: ["--nano", "-ttt"]))
            cases.append(OfflineCase(file: file, wirelat: ["--tt", "tcp"], tcpdump: ["-tt", "tcp"]))
            cases.append(OfflineCase(file: file, wirelat: ["-c", "3", "--nano", "--tt", "ip6", "or", "udp"],
                                     tcpdump: ["-c", "3", "--nano", "-tt", "ip6", "or", "udp"]))
        }
        return cases
    }()

    @Test("-r FILE prints what -r - (standard input) and -r FIFO print through libpcap, and what tcpdump -n -r FILE prints",
          .enabled(if: CaptureTools.haveCorpus && CaptureTools.haveTcpdump, "needs tcpdump and the tcpdump corpus"),
          arguments: cases)
    func sameAsLibpcapAndTcpdump(_ c: OfflineCase) async throws {
        let dir = try ScratchDirectory("offline-same")
        defer { dir.remove() }
        let path = Self.corpusFile(c.file)
        let expected = try await runTcpdumpUTC(["-n", "-r", path] + c.tcpdump, in: dir)
        try #require(expected.succeeded, "tcpdump itself failed: \(expected.summary)")
        let mapped = try await runWirelatUTC(["capture", "-r", path] + c.wirelat, in: dir)
        #expect(mapped.succeeded && mapped.stderr.isEmpty, "\(mapped.summary)")
        if let d = firstDifference(expected: expected.stdoutData, actual: mapped.stdoutData) {
            Issue.record("wirelat capture -r \(c.testDescription) differs from tcpdump:\n\(d)")
        }
        let piped = try await runWirelatOnStandardInput(path, ["capture", "-r", "-"] + c.wirelat, in: dir)
        if let d = difference(mapped, piped, otherName: "-r - <FILE") { Issue.record("\(c.testDescription):\n\(d)") }
        let fifo = try await runWirelatOnFIFO(path, c.wirelat, in: dir)
        if let d = difference(mapped, fifo, otherName: "-r FIFO") { Issue.record("\(c.testDescription):\n\(d)") }
    }

    @Test("every file in the tcpdump corpus: -r FILE and -r - print the same lines, count the same packets and fail alike",
          .enabled(if: CaptureTools.haveCorpus, "the tcpdump corpus (../shared/corpus/tcpdump-tests) is not there"),
          arguments: [["--nano", "--tt", "-c", "2000"], ["-c", "2000", "tcp", "or", "udp"]])
    func wholeCorpus(_ arguments: [String]) async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: CaptureTools.corpus)
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }
            .sorted()
        #expect(files.count > 800, "the corpus holds only \(files.count) captures")
        let dir = try ScratchDirectory("offline-corpus")
        defer { dir.remove() }
        let parallel = 4
        var differences: [String] = []
        try await withThrowingTaskGroup(of: String?.self) { group in
            var next = 0
            func submit() {
                let file = files[next]
                next += 1
                group.addTask {
                    let path = Self.corpusFile(file)
                    let mapped = try await runWirelatUTC(["capture", "-r", path] + arguments, in: dir, timeout: .seconds(20))
                    let piped = try await runWirelatOnStandardInput(path, ["capture", "-r", "-"] + arguments, in: dir)
                    defer {
                        for run in [mapped, piped] { try? FileManager.default.removeItem(atPath: run.stdoutPath) }
                    }
                    return difference(mapped, piped, otherName: "-r - <FILE").map { "\(file): \($0)" }
                }
            }
            for _ in 0..<min(parallel, files.count) { submit() }
            while let result = try await group.next() {
                if let result { differences.append(result) }
                if next < files.count { submit() }
            }
        }
        for d in differences.sorted().prefix(10) {
            Issue.record(Comment(rawValue: d))
        }
        #expect(differences.isEmpty, "\(differences.count) of \(files.count) files differ")
    }

    @Test("-w OUT from -r IN with a filter: the same file as from -r - <IN, holding the packets tcpdump -r IN FILTER shows",
          .enabled(if: CaptureTools.haveCorpus && CaptureTools.haveTcpdump, "needs tcpdump and the tcpdump corpus"),
          arguments: [("mptcp-v1.pcap", ["tcp", "src", "port", "10004"]), ("tcp-handshake-nano.pcap", ["tcp[tcpflags]", "&", "tcp-syn", "!=", "0"]),
                      ("icmpv6-length-zero.pcapng", ["icmp6"]), ("timestamp_invalid_micro.pcap", ["tcp"]),
                      ("dns_udp_8053.pcap", ["udp"])])
    func writeFiltered(file: String, filter: [String]) async throws {
        let dir = try ScratchDirectory("offline-write")
        defer { dir.remove() }
        let path = Self.corpusFile(file)
        let mappedOut = dir.file("mapped.pcap")
        let pipedOut = dir.file("piped.pcap")
        let mapped = try await runWirelatUTC(["capture", "-r", path, "-w", mappedOut] + filter, in: dir)
        #expect(mapped.succeeded && mapped.stdoutData.isEmpty, "\(mapped.summary)")
        let piped = try await runWirelatOnStandardInput(path, ["capture", "-r", "-", "-w", pipedOut] + filter, in: dir)
        #expect(piped.succeeded, "\(piped.summary)")
        let mappedBytes = try Data(contentsOf: URL(fileURLWithPath: mappedOut))
        let pipedBytes = try Data(contentsOf: URL(fileURLWithPath: pipedOut))
        #expect(mappedBytes == pipedBytes, "-w from -r FILE (\(mappedBytes.count) bytes) and from -r - (\(pipedBytes.count) bytes) differ")
        #expect(pcapMagic(mappedOut) == pcapNanosecondMagic, "-w did not write a nanosecond pcap")

        let expected = try await runTcpdumpUTC(["-n", "--nano", "-r", path] + filter, in: dir)
        try #require(expected.succeeded, "\(expected.summary)")
        #expect(lineCount(expected.stdoutData) > 0, "the filter matches nothing in \(file)")
        let readBack = try await runTcpdumpUTC(["-n", "--nano", "-r", mappedOut], in: dir)
        #expect(readBack.succeeded, "tcpdump cannot read the -w file: \(readBack.summary)")
        if let d = firstDifference(expected: expected.stdoutData, actual: readBack.stdoutData,
                                   expectedName: "tcpdump --nano -r IN FILTER", actualName: "tcpdump --nano -r OUT") {
            Issue.record("\(file): \(d)")
        }
    }

    /// pcapng files libpcap reads part way, or whole: a later section or interface it
    /// refuses, an oversized block, a packet longer than the snapshot length, and two that
    /// are fine (two sections alike, big-endian).
    static let builtCaptures: [BuiltCapture] = {
        func build(_ body: (inout PcapngBuilder) -> Void) -> [UInt8] {
            var b = PcapngBuilder()
            body(&b)
            return b.bytes
        }
        return [
            BuiltCapture(name: "a second section whose interface is raw IP", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 0, udpFrame); b.packet(interface: 0, microseconds: 1, udpFrame)
                b.section(bigEndian: false); b.interface(linkType: 101, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 2, udpPacket)
            }, packets: 2, damaged: true),
            BuiltCapture(name: "a second interface with another snapshot length", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 0, udpFrame)
                b.interface(linkType: 1, snapshotLength: 1000); b.packet(interface: 1, microseconds: 1, udpFrame)
            }, packets: 1, damaged: true),
            BuiltCapture(name: "a second section in the other byte order", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 0, udpFrame)
                b.section(bigEndian: true); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 1, udpFrame)
            }, packets: 1, damaged: true),
            BuiltCapture(name: "a second section of version 2", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 0, udpFrame)
                b.section(bigEndian: false, major: 2); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 1, udpFrame)
            }, packets: 1, damaged: true),
            BuiltCapture(name: "a block past 16 MiB", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 0, microseconds: 0, udpFrame)
                b.block(0x0BAD) { $0.bytes += [UInt8](repeating: 0, count: 16 << 20) }
                b.packet(interface: 0, microseconds: 1, udpFrame)
            }, packets: 1, damaged: true),
            BuiltCapture(name: "a packet longer than the snapshot length", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 40)
                b.packet(interface: 0, microseconds: 0, Array(udpFrame.prefix(40)))
                b.packet(interface: 0, microseconds: 1, udpFrame)
            }, packets: 1, damaged: true),
            BuiltCapture(name: "two sections alike, snapshot lengths 0 and 262144", bytes: build { b in
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 0)
                b.packet(interface: 0, microseconds: 0, udpFrame)
                b.section(bigEndian: false); b.interface(linkType: 1, snapshotLength: 262_144)
                b.packet(interface: 0, microseconds: 1, udpFrame)
            }, packets: 2, damaged: false),
            BuiltCapture(name: "big-endian, two interfaces", bytes: build { b in
                b.section(bigEndian: true); b.interface(linkType: 1, snapshotLength: 65535)
                b.interface(linkType: 1, snapshotLength: 65535)
                b.packet(interface: 1, microseconds: 5, udpFrame); b.packet(interface: 0, microseconds: 7, udpFrame)
            }, packets: 2, damaged: false),
        ]
    }()

    @Test("pcapng files libpcap stops reading part way: the packets before, exit 2 and one line, as through libpcap and as tcpdump",
          .enabled(if: CaptureTools.haveTcpdump, "needs tcpdump"),
          arguments: builtCaptures)
    func pcapngLibpcapRefuses(_ built: BuiltCapture) async throws {
        let dir = try ScratchDirectory("offline-pcapng")
        defer { dir.remove() }
        let path = dir.file("built.pcapng")
        try Data(built.bytes).write(to: URL(fileURLWithPath: path))
        let expected = try await runTcpdumpUTC(["-n", "-r", path], in: dir)
        #expect(lineCount(expected.stdoutData) == built.packets,
                "tcpdump shows \(lineCount(expected.stdoutData)) packets, the case expects \(built.packets): \(expected.stderr)")
        let mapped = try await runWirelatUTC(["capture", "-r", path], in: dir)
        #expect(!mapped.exit.bySignal && mapped.exit.status == (built.damaged ? 2 : 0), "\(mapped.summary)")
        #expect(mapped.stderrLines.count == (built.damaged ? 1 : 0), "stderr: \(mapped.stderr)")
        if let d = firstDifference(expected: expected.stdoutData, actual: mapped.stdoutData) {
            Issue.record("\(built.name): \(d)")
        }
        let piped = try await runWirelatOnStandardInput(path, ["capture", "-r", "-"], in: dir)
        if let d = difference(mapped, piped, otherName: "-r - <FILE") { Issue.record("\(built.name):\n\(d)") }
    }

    @Test("a classic pcap cut inside a packet: the packets before it, exit 2, and one line naming the file and where it stops",
          .enabled(if: CaptureTools.haveCorpus && CaptureTools.haveTcpdump, "needs tcpdump and the tcpdump corpus"))
    func cutFile() async throws {
        let dir = try ScratchDirectory("offline-cut")
        defer { dir.remove() }
        let original = try Data(contentsOf: URL(fileURLWithPath: Self.corpusFile("mptcp-v1.pcap")))
        let offsets = pcapRecordOffsets(original)
        try #require(offsets.count > 6, "mptcp-v1.pcap has only \(offsets.count) packets")
        let path = dir.file("cut.pcap")
        try original.prefix(offsets[5] + 16 + 10).write(to: URL(fileURLWithPath: path))
        let expected = try await runTcpdumpUTC(["-n", "-r", path], in: dir)
        #expect(lineCount(expected.stdoutData) == 5, "tcpdump reads \(lineCount(expected.stdoutData)) packets of the cut file")
        let mapped = try await runWirelatUTC(["capture", "-r", path], in: dir)
        #expect(!mapped.exit.bySignal && mapped.exit.status == 2, "\(mapped.summary)")
        #expect(mapped.stderrLines.count == 1 && mapped.stderr.contains(path) && mapped.stderr.contains("at byte \(offsets[5])")
                    && mapped.stderr.contains("after 5 packets"),
                "stderr should be one line naming \(path), byte \(offsets[5]) and 5 packets: \(mapped.stderr)")
        if let d = firstDifference(expected: expected.stdoutData, actual: mapped.stdoutData) { Issue.record(Comment(rawValue: d)) }
        let piped = try await runWirelatOnStandardInput(path, ["capture", "-r", "-"], in: dir)
        if let d = difference(mapped, piped, otherName: "-r - <FILE") { Issue.record(Comment(rawValue: d)) }
        #expect(piped.stderr.contains("standard input"), "through standard input, stderr should say so: \(piped.stderr)")
    }

    @Test("not a capture, or empty: exit 2 and one line saying so, from a file or from standard input",
          arguments: [("text", Data("this is not a capture\njust some text\n".utf8), "not a pcap or pcapng capture file"),
                      ("empty", Data(), "it is empty")])
    func notACapture(name: String, contents: Data, says: String) async throws {
        let dir = try ScratchDirectory("offline-foreign")
        defer { dir.remove() }
        let path = dir.file("\(name).pcap")
        try contents.write(to: URL(fileURLWithPath: path))
        for run in [try await runWirelatUTC(["capture", "-r", path], in: dir),
                    try await runWirelatOnStandardInput(path, ["capture", "-r", "-"], in: dir)] {
            #expect(!run.exit.bySignal && run.exit.status == 2, "\(run.summary)")
            #expect(run.stderrLines.count == 1 && run.stderr.contains(says), "stderr should be one line saying \"\(says)\": \(run.stderr)")
            #expect(run.stdoutData.isEmpty, "printed: \(run.stdout.prefix(300))")
        }
    }
}
