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
    let outcome = ProbeSession.run(prober, schedule: schedule, stop: .interrupt(), onReply: { r in
        if printing, r.outcome != .refused || prober.connections.last?.outcome != .refused {
            emit(AppProbeText.line(r, method: method, host: target.host, port: port, timeoutNanoseconds: schedule.timeoutNanoseconds) + "\n")
        }
    }, isOver: { prober.failure != nil })
    let replies = outcome.replies
    let probeReport = ProbeReport(method: method, target: target.text, socket: prober.socketKind, replies: replies,
                                  intervalNanoseconds: schedule.intervalNanoseconds, timeoutNanoseconds: schedule.timeoutNanoseconds,
                                  durationNanoseconds: outcome.durationNanoseconds, interrupted: outcome.interrupted)
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
        throw CommandFailure("no answer from \(target.text): \(report.timeouts) timeout\(report.timeouts == 1 ? "" : "s"), \(report.closes) closed by the server, of \(replies.count) request\(replies.count == 1 ? "" : "s")", .measurementFailed)
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
let appProbeCommands: [ParsableCommand.Type] = [RedisProbeCommand.self, HTTPProbeCommand.self, TNSProbeCommand.self, TCPSendExpectProbeCommand.self]

struct HTTPProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Time HTTP/1.1 HEAD PATH → status line on one keep-alive connection (default port 80).",
        discussion: """
        Sends HEAD PATH HTTP/1.1 with Host and Connection: keep-alive and reads the status line and \
        headers (with --method GET, the body too: Content-Length or chunked, read and dropped). A \
        Connection: close answer or a server that closed the connection makes the next request \
        reconnect; the reconnects are counted and each new handshake is its own line. Two clocks \
        per request, wire (kernel timestamps, TX of the request → RX of the answer's first \
        segment) and app (CLOCK_MONOTONIC); the handshake apart (connect_rtt_ns).
        """
    )

    @OptionGroup var target: AppProbeTarget

    @Option(help: "The path requested.")
    var path = "/"

    @Option(help: "HEAD (no body) or GET (the body is read and dropped).")
    var method = "HEAD"

    @OptionGroup var options: ProbeOptions

    func validate() throws {
        guard path.hasPrefix("/") || path == "*", !path.contains(" "), !path.contains("\r"), !path.contains("\n") else {
            throw ValidationError("--path must start with / and hold no spaces or line breaks")
        }
        guard method == "HEAD" || method == "GET" else { throw ValidationError("--method must be HEAD or GET") }
    }

    func run() throws {
        let port = target.port ?? 80
        let hostHeader = (target.host.contains(":") ? "[\(target.host)]" : target.host) + (port == 80 ? "" : ":\(port)")
        try runAppProbe(HTTPDialogue(path: path, host: hostHeader, method: method), host: target.host, port: port, options: options)
    }
}

struct TNSProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tns",
        abstract: "Time the Oracle listener's answer to a TNS CONNECT (CONNECT_DATA=(COMMAND=ping)), as tnsping (default port 1521).",
        discussion: """
        One connection per probe: a TNS CONNECT carrying (CONNECT_DATA=(COMMAND=ping)), as tnsping \
        sends it, then the listener's REFUSE (or RESEND, ACCEPT) parsed: VSNNUM decoded to the \
        version, ERR (0: the listener is up). Then a clean close. No Oracle listener was available \
        to check the packets against: they follow Wireshark's TNS dissector (docs/APP-PROBES.md).
        """
    )

    @OptionGroup var target: AppProbeTarget
    @OptionGroup var options: ProbeOptions

    func run() throws {
        try runAppProbe(TNSDialogue(), host: target.host, port: target.port ?? 1521, options: options)
    }
}

struct TCPSendExpectProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcp",
        abstract: "Generic TCP send/expect, binary-safe: time the given bytes → the expected answer.",
        discussion: """
        --send takes hex (2a310d0a; spaces and colons allowed) or @FILE (the file's bytes, exactly: \
        no newline is ever added). The answer is complete at --expect HEX (these bytes, from the \
        first), --expect-bytes N (any N bytes) or --expect-regex RE (Swift regex over the bytes read \
        as Latin-1, one character per byte, within the first 64 KiB). One connection, repeated, or \
        one per request with --new-connection.
        """
    )

    @Argument(help: "The host to probe.")
    var host: String

    @Option(help: "The TCP port.")
    var port: UInt16

    @Option(help: ArgumentHelp("The request: hex digits, or @FILE for a file's bytes.", valueName: "HEX|@FILE"))
    var send: String

    @Option(help: ArgumentHelp("The answer's exact bytes, in hex.", valueName: "HEX"))
    var expect: String?

    @Option(name: .customLong("expect-bytes"), help: ArgumentHelp("The answer is any N bytes.", valueName: "N"))
    var expectBytes: Int?

    @Option(name: .customLong("expect-regex"), help: ArgumentHelp("The answer is a match of RE in its first 64 KiB.", valueName: "RE"))
    var expectRegex: String?

    @Flag(name: .customLong("new-connection"), help: "One connection per request (connect, exchange, close) instead of one for all.")
    var newConnection = false

    @OptionGroup var options: ProbeOptions

    func validate() throws {
        let given = [expect != nil, expectBytes != nil, expectRegex != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("give exactly one of --expect HEX, --expect-bytes N, --expect-regex RE") }
        if !send.hasPrefix("@"), parseHex(send) == nil { throw ValidationError("--send must be hex digits (an even number of them) or @FILE") }
        if let e = expect, parseHex(e) == nil { throw ValidationError("--expect must be hex digits (an even number of them)") }
        if let n = expectBytes, n < 1 || n > 65_536 { throw ValidationError("--expect-bytes must be between 1 and 65536") }
        if let re = expectRegex {
            do { _ = try SendableRegex(re) } catch { throw ValidationError("--expect-regex does not compile: \(error)") }
        }
    }

    func run() throws {
        let payload: [UInt8]
        if send.hasPrefix("@") {
            let path = String(send.dropFirst())
            do {
                payload = try readWholeFile(path)
            } catch {
                throw CommandFailure("cannot read --send \(send): \(error)", .badInput)
            }
            guard !payload.isEmpty else { throw CommandFailure("--send \(send) is empty: nothing to send", .badInput) }
        } else {
            payload = parseHex(send) ?? []
        }
        let expectation: SendExpectDialogue.Expectation
        if let e = expect {
            expectation = .bytes(parseHex(e) ?? [])
        } else if let n = expectBytes {
            expectation = .count(n)
        } else {
            let source = expectRegex ?? ""
            expectation = .regex(try SendableRegex(source), source: source, limit: 65_536)
        }
        try runAppProbe(SendExpectDialogue(payload: payload, expectation: expectation, newConnection: newConnection),
                        host: host, port: port, options: options)
    }
}
