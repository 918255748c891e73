import Foundation
import Testing
import WirelatCore
import WirelatIO
import WirelatKit

/// The capture pipeline on real capture files, each sink's output compared with what
/// `wirelat capture` printed for the same file before the pipeline existed
/// (Fixtures/, made with `wirelat capture -r FILE ...` in
/// Tests/WirelatCoreTests/Fixtures). The tcpdump lines are also tcpdump's own.
@Suite("Capture pipeline, offline")
struct CapturePipelineTests {
    static let expected = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let captures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("WirelatCoreTests/Fixtures")

    /// What the sinks wrote and the notes for standard error.
    final class Collected {
        var text: [UInt8] = []
        var notes: [String] = []

        var output: CapturePipelineOutput {
            CapturePipelineOutput(write: { bytes in
                self.text.append(contentsOf: bytes)
                return true
            }, note: { self.notes.append($0) })
        }

        var string: String { String(decoding: text, as: UTF8.self) }
    }

    static func configuration(_ capture: String) -> CapturePipelineConfiguration {
        CapturePipelineConfiguration(capture: CaptureConfiguration(source: .file(captures.appendingPathComponent(capture).path)))
    }

    static func expected(_ name: String) throws -> String {
        try String(contentsOf: expected.appendingPathComponent(name), encoding: .utf8)
    }

    static func roundTrips(target: String, samples: String? = nil) -> CapturePipelineConfiguration.RoundTrips {
        .init(engine: RTTConfiguration(), samplesPath: samples, intervalNanoseconds: 1_000_000_000, target: target, printsReport: true)
    }

    static func scratchFile(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wlt-pipeline-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    @Test("printer: tcpdump -n -ttt's lines for tcp4.pcap")
    func printer() throws {
        var configuration = Self.configuration("tcp4.pcap")
        configuration.printing = .init(timestampStyle: .sincePrevious, nanosecondTimestamps: false)
        let collected = Collected()
        let outcome = try CapturePipeline.run(configuration, output: collected.output)
        #expect(outcome.error == nil && outcome.packets == 14, "\(outcome)")
        #expect(collected.string == (try Self.expected("tcp4.ttt.txt")))
        #expect(collected.string == (try String(contentsOf: Self.captures.appendingPathComponent("tcp4.ttt.txt"), encoding: .utf8)))
        #expect(collected.notes.isEmpty, "\(collected.notes)")
    }

    @Test("tcpstat: one line per interval in -o's format for veth.pcap")
    func tcpstat() throws {
        var configuration = Self.configuration("veth.pcap")
        configuration.statistics = .init(intervalNanoseconds: 1_000_000_000, intervalText: "1s",
                                         format: try TcpStatFormat("%R\\t%n\\t%p\\t%a\\t%d\\t%b\\n"))
        let collected = Collected()
        _ = try CapturePipeline.run(configuration, output: collected.output)
        #expect(collected.string == (try Self.expected("veth.stats.txt")))
    }

    @Test("RTT engine and samples writer: the text report and every sample of tcpbulk.pcap; the report handed over once")
    func roundTrips() throws {
        let samples = Self.scratchFile("samples.jsonl")
        defer { unlink(samples) }
        var configuration = Self.configuration("tcpbulk.pcap")
        configuration.roundTrips = Self.roundTrips(target: "tcpbulk.pcap", samples: samples)
        let collected = Collected()
        var reports: [CaptureRTTReport] = []
        _ = try CapturePipeline.run(configuration, output: collected.output) { reports.append($0) }
        #expect(collected.string == (try Self.expected("tcpbulk.rtt.txt")))
        #expect((try String(contentsOfFile: samples, encoding: .utf8)) == (try Self.expected("tcpbulk.samples.jsonl")))
        #expect(reports.count == 1 && reports.first?.target == "tcpbulk.pcap")
    }

    @Test("every sink at once, and the pcap writer: veth.pcap printed (--tt), tcpstat per 100 ms, RTT report; -w's file as before")
    func allSinks() throws {
        let written = Self.scratchFile("w.pcap")
        defer { unlink(written) }
        var configuration = Self.configuration("veth.pcap")
        configuration.capture.writePath = written
        configuration.printing = .init(timestampStyle: .epoch, nanosecondTimestamps: false)
        configuration.statistics = .init(intervalNanoseconds: 100_000_000, intervalText: "100ms", format: try TcpStatFormat(TcpStatFormat.defaultSource))
        configuration.roundTrips = Self.roundTrips(target: "veth.pcap")
        let collected = Collected()
        let outcome = try CapturePipeline.run(configuration, output: collected.output)
        #expect(outcome.error == nil)
        #expect(collected.string == (try Self.expected("veth.all.txt")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == Data(contentsOf: Self.expected.appendingPathComponent("veth.w.pcap")))
    }

    @Test("a file that is not a capture: the capture error, nothing written")
    func notACapture() throws {
        var configuration = Self.configuration("rtt-digests.txt")
        configuration.printing = .init(timestampStyle: .timeOfDay, nanosecondTimestamps: false)
        let collected = Collected()
        let error = #expect(throws: CapturePipelineError.self) {
            try CapturePipeline.run(configuration, output: collected.output)
        }
        guard case .capture(let pcap) = error else {
            Issue.record("not a capture error: \(String(describing: error))")
            return
        }
        #expect(pcap.kind == .badFile, "\(pcap)")
        #expect(collected.text.isEmpty)
    }
}
