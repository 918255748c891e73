import Foundation
import Testing
import WirelatCore

/// Every capture of the fixtures and of tcpdump's corpus through the engine, pinned to
/// Fixtures/rtt-digests.txt: per capture, the number of samples and an FNV-1a digest of
/// every sample (its `--samples` line and packet numbers) and of the JSON report. A change
/// to the engine that changes any sample or counter on any capture fails here.
///
/// After an intended change in what the engine reports, rewrite the file with
/// `RTT_DIGESTS_WRITE=1 swift test --filter RTTGoldenTests` and review the diff.
@Suite("RTT golden digests")
struct RTTGoldenTests {
    static let digestFile = PacketFixtures.directory.appendingPathComponent("rtt-digests.txt")

    /// `name samples digest` for one capture, as the file holds it.
    static func line(_ capture: URL) throws -> String {
        let bytes = try PacketFixtures.bytes(capture)
        let box = RTTSampleBox()
        var engine = RTTEngine { box.samples.append($0) }
        bytes.withUnsafeBytes { raw in
            guard var reader = try? PcapFileReader(bytes: raw) else { return }
            while let packet = try? reader.next() { engine.process(packet) }
        }
        var digest = FNV1a()
        for sample in box.samples {
            digest.add("\(sample.jsonLine) \(sample.openingPacketNumber) \(sample.closingPacketNumber)\n")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        digest.add(try encoder.encode(engine.report(target: capture.lastPathComponent)))
        let hex = String(digest.value, radix: 16)
        let name = capture.deletingLastPathComponent().lastPathComponent + "/" + capture.lastPathComponent
        return "\(name) \(box.samples.count) \(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }

    static func captures() -> [URL] {
        let corpus = ((try? FileManager.default.contentsOfDirectory(atPath: PacketFixtures.corpusDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
            .map { PacketFixtures.corpusDirectory.appendingPathComponent($0) }
        return PacketFixtures.captures() + corpus
    }

    @Test("samples and reports on every capture are those recorded in rtt-digests.txt")
    func digestsUnchanged() throws {
        let lines = try Self.captures().map(Self.line)
        if ProcessInfo.processInfo.environment["RTT_DIGESTS_WRITE"] != nil {
            try (lines.joined(separator: "\n") + "\n").write(to: Self.digestFile, atomically: true, encoding: .utf8)
            return
        }
        var recorded: [String: String] = [:]
        for line in try String(contentsOf: Self.digestFile, encoding: .utf8).split(separator: "\n") {
            recorded[String(line.split(separator: " ")[0])] = String(line)
        }
        let missing = recorded.count - lines.count
        if missing > 0 {
            withKnownIssue("tcpdump corpus not found at \(PacketFixtures.corpusDirectory.path)") {
                Issue.record("\(missing) recorded captures not found")
            }
        }
        let changed = lines.filter { recorded[String($0.split(separator: " ")[0])] != $0 }
        #expect(changed.isEmpty, "changed or new: \(changed.prefix(10).map { "\($0) (recorded: \(recorded[String($0.split(separator: " ")[0])] ?? "none"))" })")
        #expect(lines.contains { Int($0.split(separator: " ")[1])! > 0 }, "no capture gave a sample")
    }
}

/// 64-bit FNV-1a.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    mutating func add(_ text: String) { add(text.utf8) }
}
