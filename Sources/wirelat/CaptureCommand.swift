import ArgumentParser
import WirelatCore
import WirelatKit
import WirelatIO

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture with libpcap, live or from a file: tcpdump-style lines and tcpstat-style statistics.",
        discussion: """
        With neither --stats nor -w, packets are printed as `tcpdump -n` prints them.
        --json writes the --rtt report.
        Examples:
          wirelat capture -i eth0 port 1521 --ttt
          wirelat capture -r trace.pcap --stats 1s -o "%R %n %a %d %b\\n"
          wirelat capture -i any -w trace.pcap -c 10000 tcp
        """
    )

    @Option(name: .customShort("i"), help: "Capture live on this interface (`any` for all).")
    var interface: String?

    @Option(name: .customShort("r"), help: "Read packets from this pcap or pcapng file.")
    var read: String?

    @Option(name: .customShort("w"), help: "Write the packets to this pcap file (nanosecond timestamps).")
    var write: String?

    @Option(name: .customShort("c"), help: "Stop after this many packets.")
    var count: Int?

    @Option(name: .customShort("s"), help: "Snapshot length: bytes kept of each packet (live); 0 means the default, 262144, as for tcpdump.")
    var snaplen: Int32 = defaultSnapshotLength

    /// tcpdump's default snapshot length, which its `-s 0` also means.
    static let defaultSnapshotLength: Int32 = 262_144

    @Option(name: .customShort("B"), help: "Kernel capture buffer in KiB (live).")
    var bufferKiB: Int32 = 8192

    @Option(name: .customShort("Z"), help: "Drop root for this user once the capture is open, as tcpdump -Z.")
    var user: String?

    @Flag(help: "Print one line per packet, as tcpdump -n (the default without --stats or -w).")
    var print = false

    @Flag(name: .customShort("t"), help: "Print no timestamp.")
    var noTimestamp = false

    @Flag(name: .customLong("tt"), help: "Timestamps as seconds since the epoch.")
    var epoch = false

    @Flag(name: .customLong("ttt"), help: "Timestamps as the delta to the previous packet.")
    var delta = false

    @Flag(name: .customLong("tttt"), help: "Timestamps as date and time of day.")
    var dateTime = false

    @Flag(name: .customLong("ttttt"), help: "Timestamps as the delta to the first packet.")
    var sinceFirst = false

    @Flag(help: "Nanosecond timestamps.")
    var nano = false

    @Option(help: "tcpstat-style statistics every INTERVAL (e.g. 1s, 250ms; a bare number is seconds).", transform: DurationArgument.parse)
    var stats: DurationArgument<BareSeconds>?

    @Option(name: .customShort("o"), help: "tcpstat's output format for --stats (e.g. \"%R %n %p %a %d %b\\n\").")
    var format: String?

    @Flag(help: "Report the round trips seen on the wire: SYN→SYN-ACK, request→response, data→ACK, TSval→TSecr, ICMP echo.")
    var rtt = false

    @Option(help: "With --rtt: write every RTT sample to FILE as a JSON line.")
    var samples: String?

    @OptionGroup var outputs: JSONOutputOptions

    @Option(help: ArgumentHelp("With --rtt: write each method's round trips (clock wire) as HdrHistogram's percentile-distribution text (.hgrm), one section per method headed #[method=M clock=wire].", valueName: "FILE"))
    var hgrm: String?

    @Option(help: "With --rtt on a live capture: print a line of statistics this often (default 1s).", transform: DurationArgument.parse)
    var interval: DurationArgument<BareSeconds>?

    @Option(name: .customLong("max-flows"), help: "With --rtt: flows remembered at once; the least recently used are evicted and counted (default 100000).")
    var maxFlows: Int?

    @Option(name: .customLong("ack-rule"), help: "With --rtt: karn skips ACKs of retransmitted data (default); tshark copies tcp.analysis.ack_rtt exactly.")
    var ackRule: String?

    @Argument(help: "A BPF filter expression, as for tcpdump (e.g. port 1521 and host 10.0.0.2).")
    var filter: [String] = []

    func validate() throws {
        if (interface == nil) == (read == nil) { throw ValidationError("give exactly one of -i IFACE or -r FILE") }
        if let c = count, c < 1 { throw ValidationError("-c must be at least 1") }
        let styles = [noTimestamp, epoch, delta, dateTime, sinceFirst].filter { $0 }.count
        if styles > 1 { throw ValidationError("give at most one of -t, --tt, --ttt, --tttt, --ttttt") }
        if format != nil && stats == nil { throw ValidationError("-o goes with --stats INTERVAL") }
        if (samples != nil || outputs.json != nil || hgrm != nil) && !rtt { throw ValidationError("--samples, --hgrm and --json go with --rtt") }
        if !rtt {
            let given = [("--interval", interval != nil), ("--max-flows", maxFlows != nil), ("--ack-rule", ackRule != nil)].filter(\.1).map(\.0)
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "goes" : "go") with --rtt") }
        }
        if let maxFlows, !(16...50_000_000).contains(maxFlows) { throw ValidationError("--max-flows must be between 16 and 50000000") }
        if let ackRule, RTTAckRule(rawValue: ackRule) == nil { throw ValidationError("--ack-rule must be karn or tshark") }
        if let interval, interval.nanoseconds < 10_000_000 { throw ValidationError("--interval must be at least 10ms") }
        if let stats, stats.nanoseconds == 0 { throw ValidationError("--stats must be more than 0") }
        if snaplen < 0 { throw ValidationError("-s must be 0 (the default, 262144) or more") }
        if bufferKiB < 1 || bufferKiB > 2_000_000 { throw ValidationError("-B must be between 1 and 2000000 KiB") }
    }

    var timestampStyle: TcpdumpTimestampStyle {
        if noTimestamp { return .none }
        if epoch { return .epoch }
        if delta { return .sincePrevious }
        if dateTime { return .dateAndTime }
        if sinceFirst { return .sinceFirst }
        return .timeOfDay
    }

    /// The options as the pipeline's configuration: the source and every sink asked for.
    func pipelineConfiguration() throws -> CapturePipelineConfiguration {
        var capture = CaptureConfiguration(source: interface.map { .interface($0) } ?? .file(read ?? ""))
        capture.filter = filter.isEmpty ? nil : filter.joined(separator: " ")
        capture.writePath = write
        capture.count = count
        capture.snapshotLength = snaplen == 0 ? Self.defaultSnapshotLength : snaplen
        capture.bufferBytes = bufferKiB * 1024
        capture.dropToUser = user
        var configuration = CapturePipelineConfiguration(capture: capture)
        if print || (stats == nil && write == nil && !rtt) {
            configuration.printing = .init(timestampStyle: timestampStyle, nanosecondTimestamps: nano)
        }
        if let stats {
            let tcpstatFormat: TcpStatFormat
            do {
                tcpstatFormat = try TcpStatFormat(format ?? TcpStatFormat.defaultSource)
            } catch {
                throw ValidationError("-o: \(error)")
            }
            configuration.statistics = .init(intervalNanoseconds: Int64(clamping: stats.nanoseconds), intervalText: stats.text, format: tcpstatFormat)
        }
        if rtt {
            var engine = RTTConfiguration()
            engine.maximumFlows = maxFlows ?? 100_000
            engine.ackRule = ackRule.flatMap(RTTAckRule.init(rawValue:)) ?? .karn
            var target = interface.map { "interface \($0)" } ?? (read ?? "")
            if !filter.isEmpty { target += " (\(filter.joined(separator: " ")))" }
            configuration.roundTrips = .init(engine: engine, samplesPath: samples, intervalNanoseconds: interval?.nanoseconds ?? 1_000_000_000,
                                             target: target, printsReport: outputs.json != "-", percentileDistributions: hgrm != nil)
        }
        return configuration
    }

    func run() throws {
        try outputs.checkPaths(with: [("--samples", samples), ("--hgrm", hgrm)])
        let configuration = try pipelineConfiguration()
        ignoreSIGPIPE()
        let json = outputs.json
        let outcome = try CapturePipeline.run(configuration, output: CapturePipelineOutput(write: writeStandardOutput, note: complain)) { report in
            var saved = true
            if let hgrm { saved = saveOutput(Array(report.percentileDistributions.utf8), to: hgrm, option: "--hgrm") }
            if let json { try writeJSON(report, to: json) }
            if !saved { throw ExitCode.badInput }
        }
        if let error = outcome.error {
            throw CommandFailure("\(error.message) (after \(outcome.packets) packets)", captureExitCode(for: error))
        }
    }
}
