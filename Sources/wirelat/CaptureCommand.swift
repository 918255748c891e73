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

    @Option(help: "tcpstat-style statistics every INTERVAL (e.g. 1s, 250ms).")
    var stats: String?

    @Option(name: .customShort("o"), help: "tcpstat's output format for --stats (e.g. \"%R %n %p %a %d %b\\n\").")
    var format: String?

    @Flag(help: "Report the round trips seen on the wire: SYN→SYN-ACK, request→response, data→ACK, TSval→TSecr, ICMP echo.")
    var rtt = false

    @Option(help: "With --rtt: write every RTT sample to FILE as a JSON line.")
    var samples: String?

    @Option(help: "With --rtt: write the report as JSON to FILE (- for standard output).")
    var json: String?

    @Option(help: "With --rtt on a live capture: print a line of statistics this often (default 1s).")
    var interval: String?

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
        if (samples != nil || json != nil) && !rtt { throw ValidationError("--samples and --json go with --rtt") }
        if !rtt {
            let given = [("--interval", interval != nil), ("--max-flows", maxFlows != nil), ("--ack-rule", ackRule != nil)].filter(\.1).map(\.0)
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "goes" : "go") with --rtt") }
        }
        if let maxFlows, !(16...50_000_000).contains(maxFlows) { throw ValidationError("--max-flows must be between 16 and 50000000") }
        if let ackRule, RTTAckRule(rawValue: ackRule) == nil { throw ValidationError("--ack-rule must be karn or tshark") }
        if let interval {
            let i = try durationOption(interval, "--interval", bareUnit: .seconds)
            guard i >= 10_000_000 else { throw ValidationError("--interval must be at least 10ms") }
        }
        if let stats { _ = try durationOption(stats, "--stats", bareUnit: .seconds) }
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

    func run() throws {
        try checkOutputPaths([("--json", json), ("--samples", samples)])
        ignoreSIGPIPE()
        var config = CaptureConfiguration(source: interface.map { .interface($0) } ?? .file(read ?? ""))
        config.filter = filter.isEmpty ? nil : filter.joined(separator: " ")
        config.writePath = write
        config.count = count
        let snapshotLength = snaplen == 0 ? Self.defaultSnapshotLength : snaplen
        config.snapshotLength = snapshotLength
        config.bufferBytes = bufferKiB * 1024
        config.dropToUser = user

        let printing = print || (stats == nil && write == nil && !rtt)
        var output = OutputBuffer(capacity: 1 << 17)
        var readerGone = false
        var printer = TcpdumpPrinter(options: TcpdumpOptions(
            timestampStyle: timestampStyle, precision: nano ? .nanoseconds : .microseconds,
            utcOffset: { localUTCOffset(at: $0) }, interfaceName: { interfaceName(index: $0) }))
        var tcpstat: TcpStatAccumulator?
        var classifier = TcpStatClassifier()
        if let stats {
            let interval = try durationOption(stats, "--stats", bareUnit: .seconds)
            guard interval > 0 else { throw ValidationError("--stats must be more than 0") }
            do {
                tcpstat = TcpStatAccumulator(intervalNanoseconds: Int64(interval), format: try TcpStatFormat(format ?? TcpStatFormat.defaultSource))
            } catch {
                throw ValidationError("-o: \(error)")
            }
        }
        func flush() {
            guard !output.isEmpty, !readerGone else { output.removeAll(keepingCapacity: true); return }
            readerGone = !output.withUnsafeBytes { writeStandardOutput($0) }
            output.removeAll(keepingCapacity: true)
        }
        // Every interval goes out as it closes: a packet after a long gap closes many.
        func emitInterval(_ line: String) {
            output.append(contentsOf: line.utf8)
            if output.count >= 1 << 16 { flush() }
        }
        let statsInterval = stats ?? ""
        func skippedIntervals(_ gap: TcpStatAccumulator.SkippedIntervals) {
            flush()
            complain("\(gap.count) empty \(statsInterval) intervals skipped between \(formatFixed(gap.fromSeconds, 6)) and \(formatFixed(gap.toSeconds, 6)) s since the epoch (timestamps jumped ahead)")
        }
        let live = interface != nil
        var rttConfiguration = RTTConfiguration()
        rttConfiguration.maximumFlows = maxFlows ?? 100_000
        rttConfiguration.ackRule = ackRule.flatMap(RTTAckRule.init(rawValue:)) ?? .karn
        var engine = RTTEngine(configuration: rttConfiguration)
        var samplesOut: [UInt8] = []
        var samplesFD: Int32 = -1
        var intervalRecorders = [LatencyRecorder](repeating: LatencyRecorder(), count: RTTMethod.allCases.count)
        if rtt {
            if let path = samples {
                samplesFD = openForWriting(path)
                if samplesFD < 0 {
                    complain("cannot write \(path)")
                    throw ExitCode(2)
                }
            }
            let wantsSamples = samplesFD >= 0
            engine.onSample = { sample in
                if live { intervalRecorders[RTTMethod.allCases.firstIndex(of: sample.method)!].record(UInt64(max(0, sample.rttNanoseconds))) }
                if wantsSamples {
                    samplesOut.append(contentsOf: sample.jsonLine.utf8)
                    samplesOut.append(0x0A)
                    if samplesOut.count >= 1 << 16 { writeAll(samplesFD, &samplesOut) }
                }
            }
        }
        if rtt && live {
            config.tickNanoseconds = try durationOption(interval ?? "1s", "--interval", bareUnit: .seconds)
            config.onTick = {
                var line = localTimeOfDay()
                for (i, method) in RTTMethod.allCases.enumerated() where intervalRecorders[i].count > 0 {
                    let s = intervalRecorders[i].summary()
                    line += "  \(method.rawValue) n=\(s.count) p50=\(formatMilliseconds(Double(s.p50))) p99=\(formatMilliseconds(Double(s.p99))) ms"
                    intervalRecorders[i].reset()
                }
                if line.count == 10 { line += "  no round trips" }
                output.append(contentsOf: (line + "\n").utf8)
                engine.expireIdleFlows(now: realtimeNanoseconds())
                flush()
            }
        }
        // Locals, not the command's properties: a property wrapper's getter on every
        // packet costs as much as printing one.
        let tracingRTT = rtt
        if tracingRTT && !printing && tcpstat == nil {
            config.onPacket = { packet in engine.process(packet) }
        } else {
            config.onPacket = { packet in
                if printing { printer.print(packet, into: &output) }
                if tracingRTT { engine.process(packet) }
                if tcpstat != nil {
                    tcpstat!.add(classifier.classify(packet), emit: emitInterval, skipped: skippedIntervals)
                }
                if output.count >= 1 << 16 { flush() }
            }
        }
        config.onBatch = { flush() }

        let session: CaptureSession
        do {
            session = try CaptureSession(config)
        } catch {
            complain(error.message)
            throw exitCode(for: error)
        }
        if rtt && !session.linkType.isSupported {
            // One link type per capture (libpcap refuses pcapng files that mix them): not one packet could be decoded.
            let source = interface.map { "interface \($0)" } ?? (read == "-" ? "standard input" : read ?? "")
            complain("\(source) has link-type \(session.linkType), which wirelat does not decode: --rtt reads Ethernet, Linux cooked v1/v2, raw IP, BSD NULL/LOOP, IPv4 and IPv6")
            throw ExitCode(2)
        }
        if live {
            complain("listening on \(interface ?? ""), link-type \(session.linkType), snapshot length \(snapshotLength) bytes")
        }
        let outcome = session.run()
        tcpstat?.finish { line in output.append(contentsOf: line.utf8) }
        flush()
        if rtt {
            if samplesFD >= 0 {
                writeAll(samplesFD, &samplesOut)
                closeDescriptor(samplesFD)
            }
            var target = interface.map { "interface \($0)" } ?? (read ?? "")
            if !filter.isEmpty { target += " (\(filter.joined(separator: " ")))" }
            let report = engine.report(target: target)
            if json != "-" {
                output.append(contentsOf: RTTTextReport.render(report).utf8)
                flush()
            }
            if let json { try writeJSON(report, to: json) }
        }
        if live {
            complain("\(outcome.packets) packets captured")
            if let r = outcome.kernelReceived { complain("\(r) packets received by filter") }
            if let d = outcome.kernelDropped { complain("\(d) packets dropped by kernel") }
            if let d = outcome.interfaceDropped, d > 0 { complain("\(d) packets dropped by interface") }
        }
        if let error = outcome.error {
            complain("\(error.message) (after \(outcome.packets) packets)")
            throw exitCode(for: error)
        }
    }

    private func exitCode(for error: PcapError) -> ExitCode {
        switch error.kind {
        case .badFile: return ExitCode(2)
        case .permission: return ExitCode(3)
        case .filter, .device: return ExitCode(64)
        case .other: return ExitCode(1)
        }
    }
}
