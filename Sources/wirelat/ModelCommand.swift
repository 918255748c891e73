import ArgumentParser
import Foundation
import WirelatCore

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Split each transaction into network and everything else, and predict TPS at other RTTs.",
        discussion: """
        processing = (1 s − RTT × roundtrips × TPS) / TPS is the time per transaction spent outside \
        network transit; at another RTT the workload does 1 s / (processing + RTT × roundtrips) TPS.
        --from reads wirelat JSON reports: a sync-mode client report gives the RTT (mean) and round \
        trips per second of one connection; a client --sweep report gives the line RTT = base + payload \
        × per-byte cost; a capture --rtt report gives the reqresp RTT. Options win over reports. \
        A bare number for --rtt and --predict is milliseconds. docs/MEASURING.md walks an example.
        """
    )

    @Option(parsing: .unconditional, help: ArgumentHelp("The network's round trip while the workload ran at --tps (e.g. 0.685ms, 685us), as ping, a SYN probe or client --length 0 measure it; with --payload and a sweep, the payload's cost is added.", valueName: "D"))
    var rtt: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Transactions per second measured at that RTT.", valueName: "N"))
    var tps: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The workload's request payload in bytes; with a client --sweep report, the RTT moves along the fitted line to this size.", valueName: "BYTES"))
    var payload: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Network round trips per transaction.", valueName: "N"))
    var roundtrips = "1"

    @Option(parsing: .unconditional, help: ArgumentHelp("Predict TPS at these RTTs, comma-separated (e.g. 0.161ms,0.021ms); default half and double the measured RTT.", valueName: "D1,D2,..."))
    var predict: String?

    @Option(name: .customLong("from"), parsing: .upToNextOption, help: ArgumentHelp("JSON reports of client (sync mode, or --sweep) and capture --rtt to read the RTT, TPS and size fit from.", valueName: "REPORT.json"))
    var from: [String] = []

    @Option(name: .customLong("fit-on"), help: "Which statistic of each sweep point the size fit uses; p50 is not moved by a few stalls.")
    var fitOn: FitStatistic = .p50

    @Option(help: ArgumentHelp("Write the JSON report to FILE (- for standard output).", valueName: "FILE"))
    var json: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML page plotting TPS against RTT to FILE.", valueName: "FILE"))
    var html: String?

    func validate() throws {
        do {
            _ = try options()
        } catch is ModelError {
            // An impossible value, not a syntax error: run() reports it and exits 2.
        }
        if rtt == nil && from.isEmpty { throw ValidationError("give --rtt D (e.g. --rtt 0.685ms), or --from reports that measured it") }
        if payload != nil && from.isEmpty { throw ValidationError("--payload needs a size fit: add --from with a client --sweep report") }
        if tps == nil && from.isEmpty { throw ValidationError("give --tps N, the transactions per second measured at that RTT") }
    }

    /// The options as numbers. Bad syntax is a `ValidationError` (exit 64); a value that
    /// parses but cannot be, such as a negative RTT, is a `ModelError` (exit 2).
    func options() throws -> ModelInput {
        var input = ModelInput()
        input.fitStatistic = fitOn
        if let rtt { input.rttNanoseconds = try duration(rtt, "--rtt") }
        if let tps { input.tps = try number(tps, "--tps") }
        input.roundtrips = try number(roundtrips, "--roundtrips")
        if let payload {
            do {
                input.payloadBytes = Double(try parseByteCount(payload))
            } catch .negativeByteCount {
                throw ModelError("--payload: a payload cannot be negative (\(payload))")
            } catch {
                throw ValidationError("--payload: \(error.description)")
            }
        }
        if let predict {
            let items = predict.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard !items.contains(where: \.isEmpty) else {
                throw ValidationError("--predict: expected RTTs separated by commas, e.g. 0.161ms,0.021ms")
            }
            input.predictNanoseconds = try items.map { try duration($0, "--predict") }
        }
        return input
    }

    private func duration(_ text: String, _ option: String) throws -> Double {
        do {
            return Double(try parseDuration(text, bareUnit: .milliseconds).nanoseconds)
        } catch .negativeDuration {
            throw ModelError("\(option): an RTT cannot be negative (\(text))")
        } catch {
            throw ValidationError("\(option): \(error.description)")
        }
    }

    private func number(_ text: String, _ option: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw ValidationError("\(option): expected a number, not \"\(text)\"")
        }
        guard value > 0 else {
            throw ModelError("\(option) must be more than 0, not \(text)")
        }
        return value
    }

    func run() throws {
        try checkOutputPaths([("--json", json), ("--html", html)])
        let report: ModelReport
        do {
            var input = try options()
            for path in from {
                input.evidence.append(try ModelEvidence.read(try readReport(path), name: path))
            }
            report = try ModelReport.make(input)
        } catch let error as ModelError {
            complain(error.message)
            throw ExitCode(2)
        }
        if json != "-" { emit(report.text) }
        var saved = true
        if let json { saved = saveOutput(try jsonBytes(report), to: json, option: "--json") && saved }
        if let html { saved = saveOutput(Array(report.html().utf8), to: html, option: "--html") && saved }
        if !saved { throw ExitCode(2) }
    }
}

/// The whole file; also a pipe or a process substitution such as `<(wirelat client ... --json -)`.
private func readReport(_ path: String) throws(ModelError) -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ModelError("cannot read \(path): no such file")
    }
    guard !isDirectory.boolValue else { throw ModelError("cannot read \(path): it is a directory, not a JSON report") }
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw ModelError("cannot read \(path): permission denied")
    }
    defer { try? handle.close() }
    do {
        return try handle.readToEnd() ?? Data()
    } catch {
        throw ModelError("cannot read \(path): \(error.localizedDescription)")
    }
}

extension FitStatistic: ExpressibleByArgument {}
