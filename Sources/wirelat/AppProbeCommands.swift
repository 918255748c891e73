import ArgumentParser
import WirelatCore
import WirelatKit
import WirelatIO

/// The host and the listener's port of an application-protocol probe, with the protocol's
/// default port.
struct AppProbeTarget: ParsableArguments {
    @Argument(help: "The host whose listener to probe.")
    var host: String

    @Option(help: "The listener's TCP port (default: the protocol's own).")
    var port: UInt16?
}

/// Runs an application-protocol probe: a line per connection and per request, the
/// statistics of the round trips and, apart, of the TCP handshakes, and the reports.
/// Stops at the first answer in another protocol (or nothing listening), prints that one
/// line on stderr, keeps what was measured, and exits 1; exits 1 as well when nothing
/// answered.
func runAppProbe<D: AppDialogue>(_ dialogue: D, host: String, port: UInt16, options: ProbeOptions) throws {
    try options.outputs.checkPaths(with: [("--samples", options.samples), ("--hgrm", options.hgrm)])
    let schedule = options.schedule
    let target = try ProbeTarget(host: host, port: port)
    let prober = AppProtocolProber(target: target, port: port, dialogue: dialogue)
    let method = dialogue.method
    let printing = options.json != "-"
    if printing {
        emit(AppProbeText.header(method: method, host: target.host, port: port, summary: dialogue.summary) + "\n")
        prober.onConnect = { sample in
            emit(AppProbeText.connectLine(sample, host: target.host, port: port, timeoutNanoseconds: schedule.timeoutNanoseconds) + "\n")
        }
    }
    let stop = StopSignal.interrupt()
    let start = monotonicNanoseconds()
    var replies: [ProbeReply] = []
    var interrupted = false
    for i in 0..<schedule.count {
        if i > 0 {
            let due = start &+ UInt64(i) &* schedule.intervalNanoseconds
            if !probeSleep(until: due, stop: stop) {
                interrupted = true
                break
            }
        }
        guard case .reply(let r) = prober.probe(index: i, timeoutNanoseconds: schedule.timeoutNanoseconds, stop: stop) else {
            interrupted = true
            break
        }
        replies.append(r)
        if printing, r.outcome != .refused || prober.connections.last?.outcome != .refused {
            emit(AppProbeText.line(r, method: method, host: target.host, port: port, timeoutNanoseconds: schedule.timeoutNanoseconds) + "\n")
        }
        if prober.failure != nil { break }
    }
    prober.finish()
    let probeReport = ProbeReport(method: method, target: target.text, socket: prober.socketKind, replies: replies,
                                  intervalNanoseconds: schedule.intervalNanoseconds, timeoutNanoseconds: schedule.timeoutNanoseconds,
                                  durationNanoseconds: monotonicNanoseconds() &- start, interrupted: interrupted)
    let report = AppProbeReport(probe: probeReport, mode: dialogue.mode, connections: prober.connections, failure: prober.failure)
    if printing { emit(AppProbeText.summary(report, host: target.text)) }
    var saved = true
    if let path = options.samples {
        let lines = replies.compactMap { $0.sampleLine(method: method) }.map { $0 + "\n" }.joined()
        saved = saveOutput(Array(lines.utf8), to: path, option: "--samples") && saved
    }
    if let path = options.hgrm {
        saved = saveOutput(Array((probeReport.hgrm() + report.handshake.hgrm()).utf8), to: path, option: "--hgrm") && saved
    }
    if let json = options.json { try writeJSON(report, to: json) }
    if !saved { throw ExitCode.badInput }
    if let failure = prober.failure {
        throw CommandFailure(failure, .measurementFailed)
    }
    if report.answered == 0 && !replies.isEmpty {
        throw CommandFailure("no \(dialogue.protocolName) answer from \(target.text): \(report.timeouts) timeout\(report.timeouts == 1 ? "" : "s"), \(report.closes) closed by the server, of \(replies.count) request\(replies.count == 1 ? "" : "s")", .measurementFailed)
    }
}

struct RedisProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "Time Redis PING → +PONG on one connection, as the server answers it (default port 6379).",
        discussion: """
        Sends PING as RESP (*1\\r\\n$4\\r\\nPING\\r\\n) and reads one RESP value: +PONG, or an error \
        such as -NOAUTH (still one round trip, counted as an error answer). Two clocks per request: \
        wire (kernel software timestamps, TX of the PING → RX of the answer) and app (CLOCK_MONOTONIC \
        around the send and the read). The TCP handshake is its own line and distribution \
        (connect_rtt_ns). A port that answers in another protocol stops the probe with one line, \
        exit 1, the partial results kept.
        """
    )

    @OptionGroup var target: AppProbeTarget
    @OptionGroup var options: ProbeOptions

    func run() throws {
        try runAppProbe(RedisDialogue(), host: target.host, port: target.port ?? 6379, options: options)
    }
}

/// The application-protocol subcommands of `wirelat probe`.
let appProbeCommands: [ParsableCommand.Type] = [RedisProbeCommand.self]
