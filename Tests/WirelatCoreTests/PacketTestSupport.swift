import Foundation
import Testing
import WirelatCore

/// Fixtures live beside this file; found from `#filePath` so the test target
/// needs no resources.
enum PacketFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// tcpdump's own test captures, in the shared folder beside the repository.
    static let corpusDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/corpus/tcpdump-tests")

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    /// The capture files in the fixtures folder.
    static func captures() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// `lo` is interface 1 on every Linux host; the cooked-v2 fixtures were captured there.
    static let interfaceNames: @Sendable (UInt32) -> String? = { $0 == 1 ? "lo" : nil }
}

/// The printer's text for a whole capture, as `tcpdump -n -r FILE` would print it.
struct PrintedCapture {
    var lines: [String]
    var packets = 0
    var readError: PcapFileError?
}

func printCapture(_ bytes: [UInt8], options: TcpdumpOptions, packetLimit: Int = .max) -> PrintedCapture {
    var output: [UInt8] = []
    var result = PrintedCapture(lines: [])
    bytes.withUnsafeBytes { raw in
        var printer = TcpdumpPrinter(options: options)
        do throws(PcapFileError) {
            var reader = try PcapFileReader(bytes: raw)
            while result.packets < packetLimit, let packet = try reader.next() {
                printer.print(packet, into: &output)
                result.packets += 1
            }
        } catch {
            result.readError = error
        }
    }
    var text = String(decoding: output, as: UTF8.self)
    if text.hasSuffix("\n") { text.removeLast() }
    result.lines = text.isEmpty ? [] : text.components(separatedBy: "\n")
    return result
}

/// Expected text files hold tcpdump's output; compare line by line and report the first difference.
func expectSameLines(_ got: [String], _ expected: [String], _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    for (i, (g, e)) in zip(got, expected).enumerated() where g != e {
        Issue.record("\(what): line \(i + 1) differs\n  tcpdump: \(e)\n  printer: \(g)", sourceLocation: sourceLocation)
        return
    }
    if got.count != expected.count {
        Issue.record("\(what): \(got.count) lines printed, tcpdump printed \(expected.count)", sourceLocation: sourceLocation)
    }
}

func readLines(_ url: URL) throws -> [String] {
    var text = try String(contentsOf: url, encoding: .utf8)
    if text.hasSuffix("\n") { text.removeLast() }
    return text.isEmpty ? [] : text.components(separatedBy: "\n")
}

/// Every packet of a capture, copied out (with its link type and lengths).
struct OwnedPacket {
    var bytes: [UInt8]
    var wireLength: Int
    var linkType: LinkType
    var timestamp: CaptureTimestamp
}

func packets(of bytes: [UInt8], limit: Int = .max) -> [OwnedPacket] {
    var all: [OwnedPacket] = []
    bytes.withUnsafeBytes { raw in
        guard var reader = try? PcapFileReader(bytes: raw) else { return }
        while all.count < limit, let p = try? reader.next() {
            all.append(OwnedPacket(bytes: Array(p.data), wireLength: p.wireLength, linkType: p.linkType,
                                   timestamp: p.timestamp))
        }
    }
    return all
}
