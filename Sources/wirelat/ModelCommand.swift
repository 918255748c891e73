import ArgumentParser
import FoundationEssentials
import WirelatCore
import WirelatIO

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

    @Option(parsing: .unconditional, help: ArgumentHelp("The network's round trip while the workload ran at --tps (e.g. 0.685ms, 685us), as ping, a SYN probe or client --length 0 measure it; with --payload and a sweep, the payload's cost is added.", valueName: "D"), transform: RTTArgument.parse)
    var rtt: RTTArgument?

    @Option(parsing: .unconditional, help: ArgumentHelp("Transactions per second measured at that RTT.", valueName: "N"))
    var tps: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The workload's request payload in bytes; with a client --sweep report, the RTT moves along the fitted line to this size.", valueName: "BYTES"))
    var payload: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Network round trips per transaction.", valueName: "N"))
    var roundtrips = "1"

    @Option(parsing: .unconditional, help: ArgumentHelp("Predict TPS at these RTTs, comma-separated (e.g. 0.161ms,0.021ms); default half and double the measured RTT.", valueName: "D1,D2,..."), transform: RTTArgument.parseList)
    var predict: [RTTArgument]?

    @Option(name: .customLong("from"), parsing: .upToNextOption, help: ArgumentHelp("JSON reports of client (sync mode, or --sweep) and capture --rtt to read the RTT, TPS and size fit from.", valueName: "REPORT.json"))
    var from: [String] = []

    @Option(name: .customLong("fit-on"), help: "Which statistic of each sweep point the size fit uses; p50 is not moved by a few stalls.")
    var fitOn: FitStatistic = .p50

    @OptionGroup var outputs: JSONOutputOptions

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
        if let rtt { input.rttNanoseconds = try rtt.nanoseconds("--rtt") }
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
        if let predict { input.predictNanoseconds = try predict.map { try $0.nanoseconds("--predict") } }
        return input
    }

    private func number(_ text: String, _ option: String) throws -> Double {
        guard let value = Double(text.trimmingWhitespace()), value.isFinite else {
            throw ValidationError("\(option): expected a number, not \"\(text)\"")
        }
        guard value > 0 else {
            throw ModelError("\(option) must be more than 0, not \(text)")
        }
        return value
    }

    func run() throws {
        try outputs.checkPaths(with: [("--html", html)])
        let json = outputs.json
        var input = try options()
        for path in from {
            input.evidence.append(try ModelEvidence.read(try readReport(path), name: path))
        }
        let report = try ModelReport.make(input)
        if json != "-" { emit(report.text) }
        var saved = true
        if let json { saved = saveOutput(try jsonBytes(report), to: json, option: "--json") && saved }
        if let html { saved = saveOutput(Array(report.html().utf8), to: html, option: "--html") && saved }
        if !saved { throw ExitCode.badInput }
    }
}

/// The whole file; also a pipe or a process substitution such as `<(wirelat client ... --json -)`.
private func readReport(_ path: String) throws(ModelError) -> Data {
    do {
        return Data(try readWholeFile(path))
    } catch {
        if error.isNoSuchFile { throw ModelError("cannot read \(path): no such file") }
        if error.isDirectory { throw ModelError("cannot read \(path): it is a directory, not a JSON report") }
        if error.isPermission { throw ModelError("cannot read \(path): permission denied") }
        throw ModelError("cannot read \(path): \(error.reason)")
    }
}

/// An RTT given to `model` (`--rtt`, each of `--predict`): a duration, a bare number in
/// milliseconds. A minus sign parses, so that a negative RTT is refused as an impossible
/// value (exit 2, "an RTT cannot be negative"), not as bad syntax (exit 64).
struct RTTArgument: Sendable {
    let text: String
    /// Nil for a negative RTT.
    let value: DurationArgument<BareMilliseconds>?

    init(parsing text: String) throws(UnitParseError) {
        self.text = text
        do {
            value = try DurationArgument(parsing: text)
        } catch .negativeDuration {
            value = nil
        }
    }

    @Sendable static func parse(_ text: String) throws -> RTTArgument {
        try RTTArgument(parsing: text)
    }

    /// RTTs separated by single commas (`0.161ms,0.021ms`).
    @Sendable static func parseList(_ text: String) throws -> [RTTArgument] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingWhitespace()) }
        guard !items.contains(where: \.isEmpty) else {
            throw ValidationError("expected RTTs separated by commas, e.g. 0.161ms,0.021ms")
        }
        return try items.map(parse)
    }

    /// The RTT in nanoseconds; a negative one is a `ModelError` naming `option`.
    func nanoseconds(_ option: String) throws(ModelError) -> Double {
        guard let value else { throw ModelError("\(option): an RTT cannot be negative (\(text))") }
        return Double(value.duration.nanoseconds)
    }
}

extension FitStatistic: ExpressibleByArgument {}
