import WirelatCore
import WirelatIO

/// What `wirelat capture` does with the packets of one capture: a source (a file or an
/// interface, with its filter and count) and the sinks each packet goes to — the
/// tcpdump printer, tcpstat's intervals, the RTT engine with its samples file and its
/// interval lines, and the pcap writer (`CaptureConfiguration.writePath`).
public struct CapturePipelineConfiguration {
    /// tcpdump's `-n` line per packet (`--print`).
    public struct Printing {
        public var timestampStyle: TcpdumpTimestampStyle
        public var nanosecondTimestamps: Bool

        public init(timestampStyle: TcpdumpTimestampStyle, nanosecondTimestamps: Bool) {
            self.timestampStyle = timestampStyle
            self.nanosecondTimestamps = nanosecondTimestamps
        }
    }

    /// tcpstat's statistics per interval (`--stats INTERVAL -o FORMAT`).
    public struct Statistics {
        public var intervalNanoseconds: Int64
        /// The interval as the user wrote it, for the line about skipped intervals.
        public var intervalText: String
        public var format: TcpStatFormat

        public init(intervalNanoseconds: Int64, intervalText: String, format: TcpStatFormat) {
            self.intervalNanoseconds = intervalNanoseconds
            self.intervalText = intervalText
            self.format = format
        }
    }

    /// Round trips seen on the wire (`--rtt`).
    public struct RoundTrips {
        public var engine: RTTConfiguration
        /// `--samples FILE`: every sample as a JSON line.
        public var samplesPath: String?
        /// Live captures: a line of statistics this often.
        public var intervalNanoseconds: UInt64
        /// What the report says was captured ("interface lo (port 1521)", a file name).
        public var target: String
        /// Print the text report at the end (not when the JSON report goes to standard output).
        public var printsReport: Bool
        /// Give the final report `--hgrm`'s text.
        public var percentileDistributions: Bool

        public init(engine: RTTConfiguration, samplesPath: String?, intervalNanoseconds: UInt64, target: String, printsReport: Bool,
                    percentileDistributions: Bool = false) {
            self.engine = engine
            self.samplesPath = samplesPath
            self.intervalNanoseconds = intervalNanoseconds
            self.target = target
            self.printsReport = printsReport
            self.percentileDistributions = percentileDistributions
        }
    }

    /// The source, the filter, the count and the pcap writer.
    public var capture: CaptureConfiguration
    public var printing: Printing?
    public var statistics: Statistics?
    public var roundTrips: RoundTrips?

    public init(capture: CaptureConfiguration) {
        self.capture = capture
    }
}

/// Why a capture could not start.
public enum CapturePipelineError: Error, CustomStringConvertible {
    /// libpcap refused the source, the filter or the `-w` file.
    case capture(PcapError)
    /// `--samples FILE` cannot be opened for writing.
    case samplesFile(String)
    /// `--rtt` on a link type wirelat does not decode: not one packet could be.
    case undecodableLinkType(source: String, linkType: LinkType)

    public var description: String {
        switch self {
        case .capture(let error): error.message
        case .samplesFile(let path): "cannot write \(path)"
        case .undecodableLinkType(let source, let linkType):
            "\(source) has link-type \(linkType), which wirelat does not decode: --rtt reads Ethernet, Linux cooked v1/v2, raw IP, BSD NULL/LOOP, IPv4 and IPv6"
        }
    }
}

/// Where the pipeline's text goes: standard output and standard error, or a test's buffers.
public struct CapturePipelineOutput {
    /// Writes the lines (packets, intervals, the RTT report); false once the reader has gone.
    public var write: (UnsafeRawBufferPointer) -> Bool
    /// One line for the user on standard error ("listening on …", skipped intervals, counters).
    public var note: (String) -> Void

    public init(write: @escaping (UnsafeRawBufferPointer) -> Bool, note: @escaping (String) -> Void) {
        self.write = write
        self.note = note
    }
}

/// Runs one capture through its sinks.
public enum CapturePipeline {
    /// Opens the source, feeds every packet to the sinks until the source ends (or the
    /// count, or SIGINT/SIGTERM), then prints what ends the sinks: tcpstat's last
    /// interval, the RTT text report. `report` is given the RTT report before a live
    /// capture's kernel counters are noted. The outcome's `error` says why reading
    /// stopped early, if it did.
    public static func run(_ configuration: CapturePipelineConfiguration, output: CapturePipelineOutput,
                           report: (CaptureRTTReport) throws -> Void = { _ in }) throws -> CaptureOutcome {
        var config = configuration.capture
        let note = output.note
        let write = output.write
        let printing = configuration.printing != nil
        var buffer = OutputBuffer(capacity: 1 << 17)
        var readerGone = false
        var printer = TcpdumpPrinter(options: TcpdumpOptions(
            timestampStyle: configuration.printing?.timestampStyle ?? .timeOfDay,
            precision: configuration.printing?.nanosecondTimestamps == true ? .nanoseconds : .microseconds,
            utcOffset: { localUTCOffset(at: $0) }, interfaceName: { interfaceName(index: $0) }))
        var tcpstat = configuration.statistics.map { TcpStatAccumulator(intervalNanoseconds: $0.intervalNanoseconds, format: $0.format) }
        var classifier = TcpStatClassifier()
        func flush() {
            guard !buffer.isEmpty, !readerGone else { buffer.removeAll(keepingCapacity: true); return }
            readerGone = !buffer.withUnsafeBytes { write($0) }
            buffer.removeAll(keepingCapacity: true)
        }
        // Every interval goes out as it closes: a packet after a long gap closes many.
        func emitInterval(_ line: String) {
            buffer.append(contentsOf: line.utf8)
            if buffer.count >= 1 << 16 { flush() }
        }
        let statsInterval = configuration.statistics?.intervalText ?? ""
        func skippedIntervals(_ gap: TcpStatAccumulator.SkippedIntervals) {
            flush()
            note("\(gap.count) empty \(statsInterval) intervals skipped between \(formatFixed(gap.fromSeconds, 6)) and \(formatFixed(gap.toSeconds, 6)) s since the epoch (timestamps jumped ahead)")
        }
        let live: Bool
        if case .interface = config.source { live = true } else { live = false }
        let roundTrips = configuration.roundTrips
        let rtt = RTTEngineBox(RTTEngine(configuration: roundTrips?.engine ?? RTTConfiguration()))
        var intervalRecorders = [LatencyRecorder](repeating: LatencyRecorder(), count: RTTMethod.allCases.count)
        var samples: BufferedFileWriter?
        if let roundTrips {
            if let path = roundTrips.samplesPath {
                do { samples = try BufferedFileWriter(creating: path) } catch { throw CapturePipelineError.samplesFile(path) }
            }
            let samplesWriter = samples
            // Only a listener makes the engine build each sample (its flow, its addresses):
            // an offline report without a samples file needs none.
            if live || samplesWriter != nil {
                rtt.engine.pointee.onSample = { sample in
                    if live { intervalRecorders[RTTMethod.allCases.firstIndex(of: sample.method)!].record(UInt64(max(0, sample.rttNanoseconds))) }
                    samplesWriter?.appendLine(sample.jsonLine)
                }
            }
            if live {
                config.tickNanoseconds = roundTrips.intervalNanoseconds
                config.onTick = {
                    var line = localTimeOfDay()
                    for (i, method) in RTTMethod.allCases.enumerated() where intervalRecorders[i].count > 0 {
                        let s = intervalRecorders[i].summary()
                        line += "  \(method.rawValue) n=\(s.count) p50=\(formatMilliseconds(Double(s.p50))) p99=\(formatMilliseconds(Double(s.p99))) ms"
                        intervalRecorders[i].reset()
                    }
                    if line.count == 10 { line += "  no round trips" }
                    buffer.append(contentsOf: (line + "\n").utf8)
                    rtt.engine.pointee.expireIdleFlows(now: realtimeNanoseconds())
                    flush()
                }
            }
        }
        // Locals, not the configuration's properties, in the per-packet closures; the
        // interval closures made once, not for every packet.
        let tracingRTT = roundTrips != nil
        let emit: (String) -> Void = emitInterval
        let skipped: (TcpStatAccumulator.SkippedIntervals) -> Void = skippedIntervals
        if tracingRTT && !printing && tcpstat == nil {
            config.onPacket = { packet in rtt.engine.pointee.process(packet) }
        } else {
            config.onPacket = { packet in
                if printing { printer.print(packet, into: &buffer) }
                if tracingRTT { rtt.engine.pointee.process(packet) }
                if tcpstat != nil {
                    tcpstat!.add(classifier.classify(packet), emit: emit, skipped: skipped)
                }
                if buffer.count >= 1 << 16 { flush() }
            }
        }
        config.onBatch = { flush() }

        let session: CaptureSession
        do {
            session = try CaptureSession(config)
        } catch {
            throw CapturePipelineError.capture(error)
        }
        if tracingRTT && !session.linkType.isSupported {
            // One link type per capture (libpcap refuses pcapng files that mix them).
            let source: String
            switch config.source {
            case .interface(let name): source = "interface \(name)"
            case .file(let path): source = path == "-" ? "standard input" : path
            }
            throw CapturePipelineError.undecodableLinkType(source: source, linkType: session.linkType)
        }
        if case .interface(let name) = config.source {
            note("listening on \(name), link-type \(session.linkType), snapshot length \(config.snapshotLength) bytes")
        }
        let outcome = session.run()
        tcpstat?.finish { line in buffer.append(contentsOf: line.utf8) }
        flush()
        if let roundTrips {
            samples?.flush()
            let rttReport = rtt.engine.pointee.report(target: roundTrips.target, percentileDistributions: roundTrips.percentileDistributions)
            if roundTrips.printsReport {
                buffer.append(contentsOf: RTTTextReport.render(rttReport).utf8)
                flush()
            }
            try report(rttReport)
        }
        if live {
            note("\(outcome.packets) packets captured")
            if let r = outcome.kernelReceived { note("\(r) packets received by filter") }
            if let d = outcome.kernelDropped { note("\(d) packets dropped by kernel") }
            if let d = outcome.interfaceDropped, d > 0 { note("\(d) packets dropped by interface") }
        }
        return outcome
    }
}

/// The RTT engine of one pipeline, in memory of its own that the per-packet closures
/// reach through a pointer. A `var` captured by an escaping closure, or a class's stored
/// property, has its exclusive access checked at run time on every packet (about 110
/// instructions with the check's bookkeeping, 6 % of all the work per packet); the engine
/// is only ever used by one closure at a time, between packets or within one.
private final class RTTEngineBox {
    let engine: UnsafeMutablePointer<RTTEngine>

    init(_ engine: RTTEngine) {
        self.engine = .allocate(capacity: 1)
        self.engine.initialize(to: engine)
    }

    deinit {
        engine.deinitialize(count: 1)
        engine.deallocate()
    }
}
