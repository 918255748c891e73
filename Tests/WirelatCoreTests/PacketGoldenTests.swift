import Foundation
import Testing
import WirelatCore

// Golden tests: the printer's text for each fixture equals what `TZ=UTC tcpdump -n
// [FLAGS] -r FILE` (tcpdump 4.99.3) printed for it, saved beside it as
// NAME.txt (no flags) or NAME.VARIANT.txt.

/// The timestamp flags a variant file name stands for.
private let variants: [(suffix: String, flags: String, style: TcpdumpTimestampStyle, precision: TimestampPrecision)] = [
    ("", "", .timeOfDay, .microseconds),
    (".t", "-t", .none, .microseconds),
    (".tt", "-tt", .epoch, .microseconds),
    (".ttt", "-ttt", .sincePrevious, .microseconds),
    (".tttt", "-tttt", .dateAndTime, .microseconds),
    (".ttttt", "-ttttt", .sinceFirst, .microseconds),
    (".nano", "--nano", .timeOfDay, .nanoseconds),
    (".ttt-nano", "-ttt --nano", .sincePrevious, .nanoseconds),
]

struct GoldenCase: CustomTestStringConvertible, Sendable {
    var capture: URL
    var expected: URL
    var flags: String
    var style: TcpdumpTimestampStyle
    var precision: TimestampPrecision
    var testDescription: String { "\(capture.lastPathComponent) \(flags)".trimmingCharacters(in: .whitespaces) }
}

private func goldenCases() -> [GoldenCase] {
    var cases: [GoldenCase] = []
    for capture in PacketFixtures.captures() {
        let stem = capture.deletingPathExtension().lastPathComponent
        for v in variants {
            let expected = PacketFixtures.directory.appendingPathComponent(stem + v.suffix + ".txt")
            if FileManager.default.fileExists(atPath: expected.path) {
                cases.append(GoldenCase(capture: capture, expected: expected, flags: v.flags, style: v.style,
                                        precision: v.precision))
            }
        }
    }
    return cases
}

@Suite("Packet golden files: identical to tcpdump -n")
struct PacketGoldenTests {
    @Test("fixtures are present") func fixturesPresent() {
        #expect(goldenCases().count >= 30)
        #expect(PacketFixtures.captures().contains { $0.lastPathComponent == "tcp4.pcap" })
    }

    @Test("printer output equals tcpdump's", arguments: goldenCases())
    func matchesTcpdump(_ c: GoldenCase) throws {
        let options = TcpdumpOptions(timestampStyle: c.style, precision: c.precision,
                                     interfaceName: PacketFixtures.interfaceNames)
        let printed = printCapture(try PacketFixtures.bytes(c.capture), options: options)
        #expect(printed.readError == nil)
        expectSameLines(printed.lines, try readLines(c.expected), c.testDescription)
    }

    /// Cuts one capture into two printers' worth and checks the sequence table
    /// and `-ttt` reference carry across calls exactly as one long run.
    @Test("state carries across print calls") func stateAcrossCalls() throws {
        let bytes = try PacketFixtures.bytes(PacketFixtures.directory.appendingPathComponent("tcp4.pcap"))
        let expected = try readLines(PacketFixtures.directory.appendingPathComponent("tcp4.ttt.txt"))
        var printer = TcpdumpPrinter(options: TcpdumpOptions(timestampStyle: .sincePrevious))
        var lines: [String] = []
        for p in packets(of: bytes) {
            var one: [UInt8] = []
            p.bytes.withUnsafeBytes { raw in
                printer.print(timestamp: p.timestamp, data: raw, wireLength: p.wireLength, linkType: p.linkType, into: &one)
            }
            lines.append(String(decoding: one.dropLast(), as: UTF8.self))
        }
        expectSameLines(lines, expected, "tcp4.pcap -ttt, one packet a call")
    }

    @Test("a UTC offset shifts the local-time styles only") func utcOffset() throws {
        let bytes = try PacketFixtures.bytes(PacketFixtures.directory.appendingPathComponent("synthetic-timestamps.pcap"))
        let utc = printCapture(bytes, options: TcpdumpOptions(timestampStyle: .dateAndTime)).lines
        let east = printCapture(bytes, options: TcpdumpOptions(timestampStyle: .dateAndTime, utcOffset: { _ in 3600 })).lines
        #expect(utc[0].hasPrefix("1970-01-01 00:00:00.000005 "))
        #expect(east[0].hasPrefix("1970-01-01 01:00:00.000005 "))
        let epoch = printCapture(bytes, options: TcpdumpOptions(timestampStyle: .epoch, utcOffset: { _ in 3600 })).lines
        #expect(epoch[0].hasPrefix("0.000005 "))
    }
}

@Suite("Packet corpus: tcpdump's own captures")
struct PacketCorpusTests {
    static let expectedDirectory = PacketFixtures.directory.appendingPathComponent("corpus")

    static func selected() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: expectedDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".txt") }.sorted()
    }

    /// Plain IPv4/IPv6 TCP, UDP and ICMP captures from tcpdump's test suite on
    /// which the printer matches tcpdump 4.99.3 line for line.
    @Test("selected corpus captures match tcpdump", arguments: selected())
    func selectedMatch(_ expectedName: String) throws {
        let stem = String(expectedName.dropLast(4))
        let fm = FileManager.default
        guard let capture = [stem + ".pcap", stem + ".pcapng"]
            .map({ PacketCorpusTests.corpusFile($0) }).first(where: { fm.fileExists(atPath: $0.path) })
        else {
            withKnownIssue("tcpdump corpus not found at \(PacketFixtures.corpusDirectory.path)") {
                Issue.record("missing \(stem)")
            }
            return
        }
        let printed = printCapture(try PacketFixtures.bytes(capture), options: TcpdumpOptions())
        expectSameLines(printed.lines, try readLines(Self.expectedDirectory.appendingPathComponent(expectedName)), stem)
    }

    static func corpusFile(_ name: String) -> URL { PacketFixtures.corpusDirectory.appendingPathComponent(name) }

    /// Every corpus file (830 captures: odd link types, malformed and truncated
    /// packets) goes through the reader, the decoder and the printer without a
    /// trap or a hang; the counts show how much of it the decoders understood.
    @Test("every corpus capture decodes and prints without a crash")
    func sweep() throws {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: PacketFixtures.corpusDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        guard !names.isEmpty else {
            withKnownIssue("tcpdump corpus not found") { Issue.record("no corpus") }
            return
        }
        let packetsPerFile = 2_000
        var files = 0, unreadable = 0, total = 0, complete = 0, truncated = 0, malformed = 0, unsupported = 0
        let clock = ContinuousClock()
        let started = clock.now
        for name in names {
            let bytes = try PacketFixtures.bytes(PacketFixtures.corpusDirectory.appendingPathComponent(name))
            files += 1
            let printed = printCapture(bytes, options: TcpdumpOptions(), packetLimit: packetsPerFile)
            if printed.readError != nil && printed.packets == 0 { unreadable += 1 }
            for p in packets(of: bytes, limit: packetsPerFile) {
                total += 1
                guard p.linkType.isSupported else {
                    unsupported += 1
                    continue
                }
                let decoded = p.bytes.withUnsafeBytes { PacketDecoder.decode($0, linkType: p.linkType) }
                switch decoded.problem?.kind {
                case nil: complete += 1
                case .truncated?: truncated += 1
                case .malformed?: malformed += 1
                }
            }
        }
        let elapsed = clock.now - started
        print("corpus sweep: \(files) files (\(unreadable) unreadable), \(total) packets: \(complete) decoded, "
            + "\(truncated) truncated, \(malformed) malformed, \(unsupported) on link types not decoded; \(elapsed)")
        #expect(files >= 800)
        #expect(complete > 0)
        #expect(elapsed < .seconds(120))
    }
}
