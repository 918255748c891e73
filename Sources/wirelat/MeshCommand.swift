import ArgumentParser
import WirelatCore
import WirelatKit

/// The clock the matrix is read on.
enum MeshClock: String, ExpressibleByArgument, CaseIterable {
    case wire, app
}

struct MeshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "The Pingmesh matrix of the agents' round trips, read back from Prometheus.",
        discussion: """
        Row: the probing agent's host (the scrape's instance label without its port); column: \
        the target label. Each cell is the pair's p50 over the window and the share of its probes \
        that did not succeed. The two instant queries (GET /api/v1/query), for method M, clock C, \
        window W:

          p50:  histogram_quantile(0.5, sum by (instance, target, le) \
        (rate(wirelat_rtt_histogram_seconds_bucket{method="M",clock="C"}[W])))

          loss: (sum by (instance, target) (increase(wirelat_probes_total{method="M",result!="ok"}[W])) \
        or (0 * sum by (instance, target) (increase(wirelat_probes_total{method="M"}[W])))) \
        / sum by (instance, target) (increase(wirelat_probes_total{method="M"}[W]))

        An outlier is a cell far from both its row and its column: p50 above 1.5 × the larger \
        of the two medians (of the other cells) and more than 50 µs above it, or loss above 1% \
        where those medians of loss are at most 1%. A bad link is one cell; a bad host a whole \
        row or column. Plain HTTP only. Exit 1 when Prometheus cannot be reached, refuses the \
        query, or has no data for the method. docs/MESH.md has more.
        """
    )

    @Option(help: ArgumentHelp("Prometheus' address, such as http://127.0.0.1:9090 (http only; a route prefix may follow).", valueName: "URL"))
    var prometheus: String

    @Option(help: "The agents' method: reqresp, syn, connect, icmp, or a protocol name of probe.")
    var method = "reqresp"

    @Option(help: "wire (kernel timestamps) or app (CLOCK_MONOTONIC).")
    var clock: MeshClock = .wire

    @Option(help: .withDefault("How far back the rates and counts look (at least 1s).", "5m"), transform: DurationArgument.parse)
    var window: DurationArgument<BareSeconds> = "5m"

    @Option(help: .withDefault("Longest wait for all of Prometheus' answers.", "10s"), transform: DurationArgument.parse)
    var timeout: DurationArgument<BareSeconds> = "10s"

    @OptionGroup var outputs: JSONOutputOptions

    @Option(help: ArgumentHelp("Write a self-contained heatmap page to FILE.", valueName: "FILE"))
    var html: String?

    func validate() throws {
        _ = try url()
        if method.isEmpty { throw ValidationError("--method: give a method name, such as reqresp") }
        if window.nanoseconds < 1_000_000_000 { throw ValidationError("--window must be at least 1s (Prometheus needs two scrapes in it), not \(window)") }
        if timeout.nanoseconds == 0 { throw ValidationError("--timeout must be more than 0") }
    }

    private func url() throws -> PrometheusURL {
        do {
            return try PrometheusURL(parsing: prometheus)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        try outputs.checkPaths(with: [("--html", html)])
        let url = try url()
        let selection = MeshSelection(method: method, clock: clock.rawValue, windowMilliseconds: window.nanoseconds / 1_000_000)
        let client = PrometheusClient(url: url, timeoutNanoseconds: timeout.nanoseconds)
        let matrix: MeshMatrix
        do {
            matrix = try MeshReader.read(from: client, selection: selection)
        } catch {
            throw CommandFailure(error.description, .measurementFailed)
        }
        let report = MeshReport(matrix: matrix, prometheus: url.description)
        if outputs.json != "-" { emit(report.text) }
        var saved = true
        if let json = outputs.json { saved = saveOutput(try jsonBytes(report), to: json, option: "--json") && saved }
        if let html { saved = saveOutput(Array(MeshPage.html(report).utf8), to: html, option: "--html") && saved }
        if !saved { throw ExitCode.badInput }
    }
}
