import ArgumentParser
import FoundationEssentials
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
        when a wirelat server listens on PORT, a sync request/response — or, with --app PROTOCOL, the \
        listener's own request/response (redis, http, pg, mysql, tns) on its port. Prints one row per method and a \
        sentence on what the gap means. Every table's columns come from one clock: wire (kernel \
        TX → RX timestamps; for connect, the kernel's handshake RTT from TCP_INFO) first by default, \
        then app (CLOCK_MONOTONIC around the send and receive calls), then ping's (ICMP only); \
        the sentence compares wire with wire and app with app. --html writes one self-contained page (CDF, histogram, table).
        `wirelat compare --from A.json B.json ...` puts saved reports (client, probe, capture --rtt, \
        compare) into the same table and page instead.
        """
    )

    @Argument(help: "The host to compare against (omit with --from).")
    var host: String?

    @Option(help: "The TCP port (where a wirelat server listens, for the request/response row; with --app, the listener's, by default the protocol's own).")
    var port: UInt16?

    @Option(help: ArgumentHelp("Time the listener's own protocol on PORT instead of a wirelat server's request/response: redis (PING), http (HEAD /), pg (SSLRequest), mysql (the greeting) or tns (CONNECT COMMAND=ping); the login-free exchanges of `wirelat probe`.", valueName: "PROTOCOL"))
    var app: String?

    @Option(help: "Rounds (one probe of every method each).")
    var count = 100

    @Option(help: .withDefault("From one round to the next (e.g. 10ms).", "10ms"), transform: DurationArgument.parse)
    var interval: DurationArgument<BareSeconds> = "10ms"

    @Option(help: .withDefault("How long to wait for each answer.", "1s"), transform: DurationArgument.parse)
    var timeout: DurationArgument<BareSeconds> = "1s"

    @Option(help: "ICMP echo data bytes (ping's -s).")
    var size = "56"

    @OptionGroup var outputs: JSONOutputOptions

    @Option(help: ArgumentHelp("The clock of the first table's columns: wire (kernel TX → RX timestamps; the default) or app (CLOCK_MONOTONIC around the send and receive calls). The other clock's table follows.", valueName: "wire|app"))
    var clock = "wire"

    @Option(help: ArgumentHelp("Write every method's round trips by each clock as HdrHistogram's percentile-distribution text (.hgrm), one section per method and clock headed #[method=M clock=C].", valueName: "FILE"))
    var hgrm: String?

    @Option(help: "Write a self-contained HTML page (inline SVG charts, no external resources) to FILE.")
    var html: String?

    @Option(name: .customLong("from"), parsing: .upToNextOption, help: "Merge these saved JSON reports instead of probing.")
    var from: [String] = []

    func validate() throws {
        guard tableClock != nil else { throw ValidationError("--clock must be wire or app, not \"\(clock)\"") }
        if from.isEmpty {
            guard host != nil else { throw ValidationError("give a HOST to probe, or --from with saved JSON reports") }
            if let app, AppProtocolKind(rawValue: app) == nil {
                throw ValidationError("--app must be one of \(AppProtocolKind.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(app)\"")
            }
            guard port != nil || app != nil else { throw ValidationError("--port is required when probing a host") }
            guard count >= 1 && count <= 1_000_000 else { throw ValidationError("--count must be between 1 and 1000000") }
            guard timeout.nanoseconds >= 1_000_000 else {
                throw ValidationError("--timeout must be at least 1ms")
            }
            _ = try byteOption(size, "--size")
        } else if host != nil {
            throw ValidationError("give either a HOST or --from, not both")
        }
    }

    /// `--clock` as a clock; nil for a value that is not one (ping's clock is ICMP's alone,
    /// so it cannot head a table of every method).
    var tableClock: ProbeClock? {
        ProbeClock(rawValue: clock).flatMap { $0 == .ping ? nil : $0 }
    }

    func run() throws {
        try outputs.checkPaths(with: [("--html", html), ("--hgrm", hgrm)])
        let json = outputs.json
        let report: CompareReport
        if !from.isEmpty {
            report = try merged()
        } else {
            report = try measured()
        }
        if json != "-" {
            emit(CompareTable.render(report))
        }
        var saved = true
        if let hgrm { saved = saveOutput(Array(report.percentileDistributions.utf8), to: hgrm, option: "--hgrm") && saved }
        if let json { saved = saveOutput(try jsonBytes(report), to: json, option: "--json") && saved }
        if let html {
            let page = ComparePage.html(report, generator: "wirelat \(Wirelat.configuration.version)")
            saved = saveOutput(Array(page.utf8), to: html, option: "--html") && saved
        }
        if from.isEmpty && !report.methods.contains(where: { $0.samples > 0 }) {
            throw CommandFailure("nothing answered: no method got a single round trip from \(report.target)", .measurementFailed)
        }
        if from.isEmpty && report.everyTCPProbeLost {
            throw CommandFailure("no TCP answer: every \(report.tcpMethodNames.joined(separator: " and ")) probe to \(report.target) was lost (only ICMP answered): a firewall dropping the port, or the host down for TCP", .measurementFailed)
        }
        if !saved { throw ExitCode.badInput }
    }

    private func merged() throws -> CompareReport {
        var rows: [CompareMethodReport] = []
        for path in from {
            let data: Data
            do {
                data = Data(try readWholeFile(path))
            } catch {
                throw CommandFailure("cannot read \(path): \(error.reason)", .badInput)
            }
            do {
                rows.append(contentsOf: try CompareMerge.rows(fromJSON: data, source: path))
            } catch {
                throw CommandFailure(error.description, .badInput)
            }
        }
        let targets = Set(rows.map(\.target).filter { !$0.isEmpty })
        return CompareReport(target: targets.count == 1 ? targets.first! : "", rounds: 0, methods: rows,
                             notes: ["merged from " + from.joined(separator: ", ")], clock: tableClock ?? .wire)
    }

    private func measured() throws -> CompareReport {
        let protocolKind = app.flatMap(AppProtocolKind.init(rawValue:))
        guard let host, let port = port ?? protocolKind?.defaultPort else { throw ExitCode.usage }
        var settings = CompareSettings(host: host, port: port)
        settings.app = protocolKind
        settings.count = count
        settings.intervalNanoseconds = interval.nanoseconds
        settings.timeoutNanoseconds = timeout.nanoseconds
        settings.payloadBytes = try byteOption(size, "--size")
        settings.clock = tableClock ?? .wire
        let quiet = outputs.json == "-"
        return try CompareRun.run(settings, stop: .interrupt()) { text in
            if !quiet { emit(text) }
        }
    }
}
