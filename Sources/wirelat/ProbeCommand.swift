import ArgumentParser
import WirelatCore
import WirelatKit
import WirelatIO

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Active probes: a raw SYN (hping3 -S), a TCP connect, or an ICMP echo (ping).",
        subcommands: [SYNProbeCommand.self, ConnectProbeCommand.self, ICMPProbeCommand.self] + appProbeCommands + databaseProbeCommands
    )
}

/// The options every probe takes.
/// The host and TCP port of the syn and connect probes.
struct TCPProbeTarget: ParsableArguments {
    @Argument(help: "The host to probe.")
    var host: String

    @Option(help: "The TCP port.")
    var port: UInt16
}

struct ProbeOptions: ParsableArguments {
    @Option(help: "Probes to send.")
    var count = 5

    @Option(help: .withDefault("From one probe to the next (e.g. 1s, 10ms); a bare number is seconds, as ping's -i.", "1s"), transform: DurationArgument.parse)
    var interval: DurationArgument<BareSeconds> = "1s"

    @Option(help: .withDefault("How long to wait for each answer (e.g. 1s, 200ms); a bare number is seconds.", "1s"), transform: DurationArgument.parse)
    var timeout: DurationArgument<BareSeconds> = "1s"

    @OptionGroup var outputs: JSONOutputOptions

    @Option(help: ArgumentHelp("Write every answered probe to FILE as a JSON line with each clock measured: {\"method\",\"time_ns\",\"wire_rtt_ns\",\"app_rtt_ns\"} (and \"ping_rtt_ns\" for icmp).", valueName: "FILE"))
    var samples: String?

    @Option(help: ArgumentHelp("Write each clock's distribution to FILE in HdrHistogram's percentile-distribution text (.hgrm, values in ms), one section per clock opened by #[method=M clock=C].", valueName: "FILE"))
    var hgrm: String?

    var json: String? { outputs.json }

    var schedule: ProbeSchedule {
        ProbeSchedule(count: count, intervalNanoseconds: interval.nanoseconds, timeoutNanoseconds: timeout.nanoseconds)
    }

    func validate() throws {
        guard count >= 1 && count <= 10_000_000 else { throw ValidationError("--count must be between 1 and 10000000") }
        guard timeout.nanoseconds >= 1_000_000 else { throw ValidationError("--timeout must be at least 1ms") }
    }
}

/// Runs one probe method and prints its lines, the statistics and the JSON report.
/// Exit 3 when a privilege is missing, 1 when nothing answered.
func runProbe(method: ProbeMethod, host: String, port: UInt16?, payloadBytes: Int?, options: ProbeOptions,
              makeProber: (ProbeTarget) throws(ProbeSetupError) -> Prober) throws {
    try options.outputs.checkPaths(with: [("--samples", options.samples), ("--hgrm", options.hgrm)])
    let schedule = options.schedule
    let target = try ProbeTarget(host: host, port: port)
    let prober = try makeProber(target)
    let printing = options.json != "-"
    if printing {
        emit(ProbeText.header(method: method, host: target.host, port: port, payloadBytes: payloadBytes, socket: prober.socketKind) + "\n")
    }
    let outcome = ProbeSession.run(prober, schedule: schedule, stop: .interrupt()) { reply in
        if printing {
            emit(ProbeText.line(reply, method: method, host: target.host, port: port, timeoutNanoseconds: schedule.timeoutNanoseconds) + "\n")
        }
    }
    let report = ProbeReport(method: method, target: target.text, socket: prober.socketKind, replies: outcome.replies,
                             intervalNanoseconds: schedule.intervalNanoseconds, timeoutNanoseconds: schedule.timeoutNanoseconds,
                             payloadBytes: payloadBytes, durationNanoseconds: outcome.durationNanoseconds,
                             interrupted: outcome.interrupted)
    if printing { emit(ProbeText.summary(report, host: port == nil ? target.host : target.text)) }
    var saved = true
    if let path = options.samples {
        let lines = outcome.replies.compactMap { $0.sampleLine(method: method) }.map { $0 + "\n" }.joined()
        saved = saveOutput(Array(lines.utf8), to: path, option: "--samples") && saved
    }
    if let path = options.hgrm {
        saved = saveOutput(Array(report.hgrm().utf8), to: path, option: "--hgrm") && saved
    }
    if let json = options.json { try writeJSON(report, to: json) }
    if !saved { throw ExitCode.badInput }
    if !report.anythingAnswered && !outcome.replies.isEmpty {
        throw CommandFailure("nothing answered: \(report.sent) probe\(report.sent == 1 ? "" : "s") to \(target.text), no reply within \(formatDuration(.nanoseconds(Int64(clamping: schedule.timeoutNanoseconds)))) each (a firewall dropping them, or the host down)", .measurementFailed)
    }
}

struct SYNProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syn",
        abstract: "Send SYNs from a raw socket and time the SYN-ACK (open) or RST (closed), as hping3 -S -p PORT.",
        discussion: """
        Needs CAP_NET_RAW (exit 3 without it). Each probe uses a fresh source port; our kernel answers \
        the SYN-ACK with a RST, as it does for hping. Two clocks per probe: wire (kernel software \
        timestamps, TX at the device → RX) and app (CLOCK_MONOTONIC, before sendto() → return of \
        recvmsg()); rtt= is wire where the kernel gives timestamps, and clock= names it. A line per \
        probe, as hping prints it, then the other clock:
          len=44 ip=10.77.0.2 ttl=64 DF id=0 sport=1521 flags=SA seq=0 win=64240 rtt=0.009 ms clock=wire app=0.031 ms
        flags SA: open; RA: closed; a timeout line: filtered (or the host is down). The summary \
        prints both distributions and the host overhead (app − wire) at p50.
        """
    )

    @OptionGroup var target: TCPProbeTarget
    @OptionGroup var options: ProbeOptions

    func run() throws {
        let port = target.port
        try runProbe(method: .tcpSYN, host: target.host, port: port, payloadBytes: nil, options: options) { (address) throws(ProbeSetupError) in
            try SYNProber(target: address, port: port)
        }
    }
}

struct ConnectProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Time non-blocking TCP connects to writability; needs no privilege.",
        discussion: """
        Two clocks per connect: wire, the kernel's own handshake RTT sample (TCP_INFO tcpi_rtt, µs), \
        read right after the connect completes; app, connect() → writable (the handshake plus this \
        process's wake-up). rtt= is wire, clock= names it, app= follows. Each connection is then \
        closed normally (FIN). A refused connect (RST) prints "refused", timed on the app clock only \
        (the kernel keeps no sample for it); no answer, "timeout".
        """
    )

    @OptionGroup var target: TCPProbeTarget
    @OptionGroup var options: ProbeOptions

    func run() throws {
        let port = target.port
        try runProbe(method: .tcpConnect, host: target.host, port: port, payloadBytes: nil, options: options) { address in
            ConnectProber(target: address, port: port)
        }
    }
}

struct ICMPProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "icmp",
        abstract: "ICMP echo, as ping: a ping socket where net.ipv4.ping_group_range allows it, a raw socket otherwise.",
        discussion: """
        Prints ping's lines and its "rtt min/avg/max/mdev" summary, then three clocks: wire (kernel \
        TX → RX timestamps), ping (send time in user space → kernel RX timestamp: what iputils ping \
        prints) and app (before sendto() → return of recvmsg()). time= and the rtt summary line are \
        ping's clock, so they agree with iputils ping on the same path; clock= names it and the others \
        follow:
          64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.045 ms clock=ping wire=0.010 ms app=0.052 ms
        The JSON's rtt_ns is the wire clock. When probe 1 is more than twice the median of the later \
        probes and at least 20 µs above it (it paid for ARP or neighbour discovery), it is reported \
        apart from the steady state. Exit 1 when nothing answered.
        """
    )

    @Argument(help: "The host to probe.")
    var host: String

    @Option(help: "Echo data bytes (ping's -s): 56 makes 64-byte ICMP messages.")
    var size = "56"

    @OptionGroup var options: ProbeOptions

    func validate() throws {
        let bytes = try byteOption(size, "--size")
        guard bytes <= 65_000 else { throw ValidationError("--size must be at most 65000 bytes") }
    }

    func run() throws {
        let bytes = try byteOption(size, "--size")
        try runProbe(method: .icmpEcho, host: host, port: nil, payloadBytes: bytes, options: options) { (target) throws(ProbeSetupError) in
            try ICMPProber(target: target, payloadBytes: bytes)
        }
    }
}
