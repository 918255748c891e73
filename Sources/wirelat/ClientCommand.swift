import ArgumentParser
import WirelatCore
import WirelatKit
import WirelatIO

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Time request/response round trips against a wirelat server (oratcptest's sync and async modes).",
        discussion: """
        Also accepts oratcptest's spelling: -mode=sync -length=250 -duration=1s -interval=1s -port=1521 \
        -num_conn=4 -sockbuf=65536 -delay=5 (oratcptest's bare -delay and -timeout are milliseconds).
        A bare number is seconds for --duration and --interval, milliseconds for --delay and --timeout.
        HOST's addresses are tried in getaddrinfo's order until one answers. Ctrl-C ends the test and \
        prints the report; a second Ctrl-C, a second later, stops waiting for replies still due (the \
        report is still printed and saved); a third kills. Output paths are checked before the test \
        (exit 2 naming the path).
        """
    )

    @Argument(help: "The host running `wirelat server`.")
    var host: String

    @Option(help: "The server's TCP port.")
    var port: UInt16 = 5555

    @Option(help: "sync: one request, wait for its reply, repeat; async: stream requests, acknowledged periodically.")
    var mode: TestMode = .sync

    @Option(parsing: .unconditional, help: "Payload bytes per request (each request also carries a 12-byte header).")
    var length = "0"

    @Option(parsing: .unconditional, help: .withDefault("How long the test runs (e.g. 10s, 1m).", "10s"), transform: DurationArgument.parse)
    var duration: DurationArgument<BareSeconds> = "10s"

    @Option(parsing: .unconditional, help: .withDefault("Statistics interval: one report line each.", "1s"), transform: DurationArgument.parse)
    var interval: DurationArgument<BareSeconds> = "1s"

    @Option(parsing: .unconditional, help: "Concurrent connections, all on one event loop.")
    var connections = 1

    @Option(parsing: .unconditional, help: "SO_SNDBUF and SO_RCVBUF in bytes; the report shows what the kernel really gave.")
    var sockbuf: String?

    @Option(parsing: .unconditional, help: .withDefault("Pause between a reply and the next request (e.g. 5ms).", "0"), transform: DurationArgument.parse)
    var delay: DurationArgument<BareMilliseconds> = "0"

    @Option(parsing: .unconditional, help: "Send at this fixed rate of requests per second (more than 0, at most 10000000), across all connections; latency is then measured from each request's intended send time (coordinated-omission correction).")
    var rate: Double?

    @Option(parsing: .unconditional, help: .withDefault("Connect timeout and longest wait for a reply (0: connect 10s, replies unbounded).", "0"), transform: DurationArgument.parse)
    var timeout: DurationArgument<BareMilliseconds> = "0"

    @Option(parsing: .unconditional, help: "Repeat the test for each payload size (e.g. 0,250,1000) and print a table.")
    var sweep: String?

    @Option(help: ArgumentHelp("Clocks of each sync round trip: kernel (the default in sync mode) takes both, wire (SO_TIMESTAMPING software TX → RX) and app (CLOCK_MONOTONIC send → receive), and rtt_ns is wire; monotonic takes app alone. Async mode takes app alone.", valueName: "kernel|monotonic"))
    var timestamps: TimestampSource?

    @Option(name: .customLong("wire-every"), parsing: .unconditional, help: ArgumentHelp("Time the wire clock on every Nth round trip (1: every one); each timed one costs a read of the error queue. The app clock times every round trip.", valueName: "N"))
    var wireEvery: UInt32 = 1

    @Flag(help: "Ask the server to write and fsync each request before replying (needs `server --write-dir`).")
    var write = false

    @OptionGroup var outputs: JSONOutputOptions

    @Option(help: "Also write the text report to FILE (oratcptest's -output).")
    var output: String?

    @Option(help: ArgumentHelp("Write every round trip as a JSON line, {\"method\",\"time_ns\",\"wire_rtt_ns\",\"app_rtt_ns\"} (a clock missing for a round trip is left out).", valueName: "FILE"))
    var samples: String?

    @Option(help: ArgumentHelp("Write each clock's distribution in HdrHistogram's percentile-distribution text (.hgrm, ms), one section per clock opened by #[method=… clock=…].", valueName: "FILE"))
    var hgrm: String?

    @Flag(help: "Also print each interval's full distribution.")
    var verbose = false

    func settings(length: Int) throws -> ClientSettings {
        var s = ClientSettings(host: host)
        s.port = port
        s.mode = mode
        s.length = length
        s.durationNanoseconds = duration.nanoseconds
        s.intervalNanoseconds = interval.nanoseconds
        s.connections = connections
        s.socketBuffer = try sockbuf.map { try byteOption($0, "--sockbuf") }
        s.delayNanoseconds = delay.nanoseconds
        s.rate = rate
        s.timeoutNanoseconds = timeout.nanoseconds
        s.timestamps = timestamps
        s.wantsDiskWrite = write
        s.keepSamples = samples != nil
        s.wireEvery = wireEvery
        return s
    }

    func lengths() throws -> [Int] {
        guard let sweep else { return [try byteOption(length, "--length")] }
        let entries = sweep.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingWhitespace()) }
        if let empty = entries.firstIndex(of: "") {
            throw ValidationError("--sweep: entry \(empty + 1) of \"\(sweep)\" is empty; give sizes separated by single commas, e.g. 0,250,1000")
        }
        let sizes = try entries.map { try byteOption($0, "--sweep") }
        guard !sizes.isEmpty else { throw ValidationError("--sweep needs at least one size, e.g. 0,250,1000") }
        return sizes
    }

    func validate() throws {
        for l in try lengths() {
            if let problem = try settings(length: l).validationError() { throw ValidationError(problem) }
        }
        if timestamps == .kernel && mode == .async { throw ValidationError("--timestamps kernel applies to sync mode only") }
        if wireEvery < 1 || wireEvery > 1_000_000 { throw ValidationError("--wire-every must be a whole number from 1 to 1000000 (got \(wireEvery))") }
        if sweep != nil && (samples != nil || hgrm != nil) {
            throw ValidationError("--samples and --hgrm describe one test; leave them out with --sweep")
        }
    }

    func run() throws {
        try outputs.checkPaths(with: [("--output", output), ("--samples", samples), ("--hgrm", hgrm)])
        let json = outputs.json
        ignoreSIGPIPE()
        raiseDescriptorLimit()
        let sizes = try lengths()
        var text = ""
        // With `--json -` standard output carries the JSON object alone; the text report,
        // still useful as progress, goes to standard error.
        let jsonOnStandardOutput = json == "-"
        func say(_ s: String) {
            text += s
            if jsonOnStandardOutput {
                emitError(s)
            } else {
                emit(s)
            }
        }
        var first = try settings(length: sizes[0])
        if sizes.count > 1 { first.length = sizes[0] }
        say(ClientTextReport.settings(first))
        if sizes.count > 1 { say("        Payload sweep          = \(sizes.map(String.init).joined(separator: ", ")) bytes\n") }
        say("\n")

        var reports: [ClientReport] = []
        var exports: [(bytes: [UInt8], path: String, option: String)] = []
        var interruptedAll = false
        for (n, size) in sizes.enumerated() {
            let s = try settings(length: size)
            let loop: EventLoop
            do {
                loop = try EventLoop()
            } catch {
                throw CommandFailure("\(error)", .measurementFailed)
            }
            var events = ClientEvents()
            // The client, for the ready event to ask which clock the interval lines are on.
            var running: Client?
            let sweeping = sizes.count > 1
            events.ready = { ready in
                if n == 0 { say(ClientTextReport.ready(time: localTimeOfDay(), thinkTimeNanoseconds: ready.thinkTimeNanoseconds, diskWrite: ready.diskWrite)) }
                if !sweeping { say(ClientTextReport.intervalHeader(s, wire: running?.wireClockTaken ?? false)) }
            }
            events.interval = { i in
                guard !sweeping else { return }
                say(ClientTextReport.interval(time: localTimeOfDay(), i))
                if verbose {
                    let d = i.rttNanoseconds
                    say("            min \(formatMilliseconds(Double(d.min))) p90 \(formatMilliseconds(Double(d.p90))) p99.9 \(formatMilliseconds(Double(d.p999))) max \(formatMilliseconds(Double(d.max))) stddev \(formatMilliseconds(d.stddev)) ms\n")
                }
            }
            let client = Client(settings: s, loop: loop, events: events)
            running = client
            do {
                // A second Ctrl-C ends the wait for replies still due, a third kills.
                try loop.onInterrupt(tolerating: 2) { [weak client] _ in client?.interrupt() }
            } catch {
                complain("\(error)")
            }
            let report = client.run()
            running = nil
            reports.append(report)
            if let path = samples {
                exports.append((ClientExport.samplesJSONLines(method: report.method, client.samples), path, "--samples"))
            }
            if let path = hgrm {
                exports.append((Array(ClientExport.hgrm(method: report.method, client.distributions()).utf8), path, "--hgrm"))
            }
            if sweeping {
                say("\(localTimeOfDay()) length \(size): \(report.samples) round trips, p50 \(formatMilliseconds(Double(report.rttNanoseconds.p50))) ms, avg \(formatMilliseconds(report.rttNanoseconds.mean)) ms\n")
            }
            if report.error != nil || report.interrupted {
                interruptedAll = report.interrupted
                break
            }
        }

        var final: ClientReport
        if reports.count == 1 {
            final = reports[0]
            if final.samples > 0 || final.error == nil {
                say(ClientTextReport.finished(time: localTimeOfDay(), final))
                say(ClientTextReport.statistics(final))
            }
        } else {
            final = reports[0]
            final.sweep = reports
            final.error = reports.compactMap(\.error).first
            final.completed = reports.allSatisfy(\.completed) && reports.count == sizes.count
            final.interrupted = interruptedAll
            say("\(localTimeOfDay()) Test finished.\n")
            say(ClientTextReport.sweep(reports))
        }
        if final.interrupted { say("(interrupted: the report covers the test up to the interruption)\n") }
        if let n = final.repliesAbandoned {
            say("(a second interrupt ended the wait for \(n) repl\(n == 1 ? "y" : "ies") still due; they are not counted)\n")
        }
        // Both outputs are attempted before any failure ends the command.
        var saved = true
        if let json { saved = saveOutput(try jsonBytes(final), to: json, option: "--json") && saved }
        if let output { saved = saveOutput(Array(text.utf8), to: output, option: "--output") && saved }
        for e in exports { saved = saveOutput(e.bytes, to: e.path, option: e.option) && saved }
        if let error = final.error { throw CommandFailure(error, .measurementFailed) }
        if !saved { throw ExitCode.badInput }
    }
}

extension TestMode: ExpressibleByArgument {}
extension TimestampSource: ExpressibleByArgument {}
