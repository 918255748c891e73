import ArgumentParser
import Foundation
import WirelatCore
import WirelatKit
import WirelatIO

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "ICMP echo versus TCP (SYN, connect, sync request/response) against one host, side by side.",
        discussion: """
        Interleaves the methods round-robin, one probe of each per round, so drift hits all alike: \
        ICMP echo, a SYN probe (needs CAP_NET_RAW; skipped with a note otherwise), a TCP connect, and, \
        when a wirelat server listens on PORT, a sync request/response. Prints one row per method and a \
        sentence on what the gap means. --html writes one self-contained page (CDF, histogram, table).
        `wirelat compare --from A.json B.json ...` puts saved reports (client, probe, capture --rtt, \
        compare) into the same table and page instead.
        """
    )

    @Argument(help: "The host to compare against (omit with --from).")
    var host: String?

    @Option(help: "The TCP port (where a wirelat server listens, for the request/response row).")
    var port: UInt16?

    @Option(help: "Rounds (one probe of every method each).")
    var count = 100

    @Option(help: "From one round to the next (e.g. 10ms).")
    var interval = "10ms"

    @Option(help: "How long to wait for each answer.")
    var timeout = "1s"

    @Option(help: "ICMP echo data bytes (ping's -s).")
    var size = "56"

    @Option(help: "Write the JSON report to FILE (- for standard output).")
    var json: String?

    @Option(help: "Write a self-contained HTML page (inline SVG charts, no external resources) to FILE.")
    var html: String?

    @Option(name: .customLong("from"), parsing: .upToNextOption, help: "Merge these saved JSON reports instead of probing.")
    var from: [String] = []

    func validate() throws {
        if from.isEmpty {
            guard host != nil else { throw ValidationError("give a HOST to probe, or --from with saved JSON reports") }
            guard port != nil else { throw ValidationError("--port is required when probing a host") }
            guard count >= 1 && count <= 1_000_000 else { throw ValidationError("--count must be between 1 and 1000000") }
            _ = try durationOption(interval, "--interval", bareUnit: .seconds)
            guard try durationOption(timeout, "--timeout", bareUnit: .seconds) >= 1_000_000 else {
                throw ValidationError("--timeout must be at least 1ms")
            }
            _ = try byteOption(size, "--size")
        } else if host != nil {
            throw ValidationError("give either a HOST or --from, not both")
        }
    }

    func run() throws {
        try checkOutputPaths([("--json", json), ("--html", html)])
        let report: CompareReport
        if !from.isEmpty {
            report = try merged()
        } else {
            report = try measured()
        }
        if json != "-" {
            emit("\n" + CompareTable.render(report.methods) + "\n" + report.sentence + "\n")
        }
        var saved = true
        if let json { saved = saveOutput(try jsonBytes(report), to: json, option: "--json") && saved }
        if let html {
            let page = ComparePage.html(report, generator: "wirelat \(Wirelat.configuration.version)")
            saved = saveOutput(Array(page.utf8), to: html, option: "--html") && saved
        }
        if from.isEmpty && !report.methods.contains(where: { $0.samples > 0 }) {
            complain("nothing answered: no method got a single round trip from \(report.target)")
            throw ExitCode(1)
        }
        if from.isEmpty && report.everyTCPProbeLost {
            complain("no TCP answer: every \(report.tcpMethodNames.joined(separator: " and ")) probe to \(report.target) was lost (only ICMP answered): a firewall dropping the port, or the host down for TCP")
            throw ExitCode(1)
        }
        if !saved { throw ExitCode(2) }
    }

    private func merged() throws -> CompareReport {
        var rows: [CompareMethodReport] = []
        for path in from {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                complain("cannot read \(path): \(error.localizedDescription)")
                throw ExitCode(2)
            }
            do {
                rows.append(contentsOf: try CompareMerge.rows(fromJSON: data, source: path))
            } catch {
                complain(error.description)
                throw ExitCode(2)
            }
        }
        let targets = Set(rows.map(\.target).filter { !$0.isEmpty })
        return CompareReport(target: targets.count == 1 ? targets.first! : "", rounds: 0, methods: rows,
                             notes: ["merged from " + from.joined(separator: ", ")])
    }

    private func measured() throws -> CompareReport {
        guard let host, let port else { throw ExitCode(64) }
        var settings = CompareSettings(host: host, port: port)
        settings.count = count
        settings.intervalNanoseconds = try durationOption(interval, "--interval", bareUnit: .seconds)
        settings.timeoutNanoseconds = try durationOption(timeout, "--timeout", bareUnit: .seconds)
        settings.payloadBytes = try byteOption(size, "--size")
        let quiet = json == "-"
        do {
            return try CompareRun.run(settings, stop: .interrupt()) { text in
                if !quiet { emit(text) }
            }
        } catch {
            complain(error.description)
            if case .privilege = error { throw ExitCode(3) }
            throw ExitCode(1)
        }
    }
}
