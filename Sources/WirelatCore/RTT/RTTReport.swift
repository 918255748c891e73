/// One entry of the `methods` array `wirelat capture --rtt --json` writes
/// (INTERFACE.md, "JSON reports").
public struct CaptureRTTMethodReport: Codable, Sendable, Equatable {
    public var command = "capture"
    public var method: RTTMethod
    /// What was captured: the interface or file, and the filter.
    public var target: String
    /// Which round trip this is, e.g. "data→ACK RTT".
    public var label: String
    public var samples: UInt64
    public var rttNanoseconds: LatencySummary
    /// Which clock `rtt_ns` is: always `wire`, the capture's timestamps of the packets
    /// themselves (INTERFACE.md, "Two clocks").
    public var clock = "wire"
    public var unanswered: UInt64
    public var unmatched: UInt64
    /// Round trips not sampled because of retransmissions (Karn); for handshake, SYNs resent.
    public var retransmissions: UInt64
    /// tsecr only: echoes of the initiator's TSvals, the round trip capture point →
    /// responder → capture point.
    public var towardResponder: RTTHalfReport?
    /// tsecr only: echoes of the responder's TSvals, capture point → initiator → capture point.
    public var towardInitiator: RTTHalfReport?

    public init(method: RTTMethod, target: String, samples: UInt64, rttNanoseconds: LatencySummary,
                counters: RTTMethodCounters) {
        self.method = method
        self.target = target
        label = method.label
        self.samples = samples
        self.rttNanoseconds = rttNanoseconds
        unanswered = counters.unanswered
        unmatched = counters.unmatched
        retransmissions = counters.retransmissions
    }

    enum CodingKeys: String, CodingKey {
        case command, method, target, label, samples, rttNanoseconds = "rtt_ns", clock
        case unanswered, unmatched, retransmissions
        case towardResponder = "toward_responder", towardInitiator = "toward_initiator"
    }
}

/// One direction's share of the tsecr samples.
public struct RTTHalfReport: Codable, Sendable, Equatable {
    public var samples: UInt64
    public var rttNanoseconds: LatencySummary

    public init(samples: UInt64, rttNanoseconds: LatencySummary) {
        self.samples = samples
        self.rttNanoseconds = rttNanoseconds
    }

    enum CodingKeys: String, CodingKey {
        case samples, rttNanoseconds = "rtt_ns"
    }
}

/// One row of the busiest-flows table.
public struct RTTFlowReport: Codable, Sendable, Equatable {
    /// Initiator → responder when known, e.g. `10.0.0.1:51332>10.0.0.2:7001`.
    public var flow: String
    public var protocolName: String
    public var packets: UInt64
    /// IP bytes, headers included.
    public var bytes: UInt64
    /// Samples of every method together.
    public var samples: UInt64
    /// Smallest and largest sample of any method; absent without samples.
    public var minimumRTTNanoseconds: UInt64?
    public var maximumRTTNanoseconds: UInt64?

    public init(flow: String, protocolName: String, packets: UInt64, bytes: UInt64, samples: UInt64,
                minimumRTTNanoseconds: UInt64?, maximumRTTNanoseconds: UInt64?) {
        self.flow = flow
        self.protocolName = protocolName
        self.packets = packets
        self.bytes = bytes
        self.samples = samples
        self.minimumRTTNanoseconds = minimumRTTNanoseconds
        self.maximumRTTNanoseconds = maximumRTTNanoseconds
    }

    init(_ summary: RTTFlowSummary) {
        let flow = summary.key.flow(initiator: summary.initiator)
        self.init(flow: flow.description, protocolName: flow.protocolName, packets: UInt64(summary.packets),
                  bytes: summary.bytes, samples: UInt64(summary.samples),
                  minimumRTTNanoseconds: summary.samples > 0 ? summary.minimumRTT : nil,
                  maximumRTTNanoseconds: summary.samples > 0 ? summary.maximumRTT : nil)
    }

    enum CodingKeys: String, CodingKey {
        case flow, protocolName = "protocol", packets, bytes, samples
        case minimumRTTNanoseconds = "min_rtt_ns", maximumRTTNanoseconds = "max_rtt_ns"
    }
}

/// The JSON report of `wirelat capture --rtt`:
/// `{"command":"capture","methods":[ <one report per method> ], ...}`.
public struct CaptureRTTReport: Codable, Sendable, Equatable {
    public var command = "capture"
    public var target: String
    /// `karn` or `tshark` (``RTTAckRule``).
    public var ackRule: RTTAckRule
    /// One entry per method, in the order handshake, reqresp, ack, tsecr, icmp.
    public var methods: [CaptureRTTMethodReport]
    public var counters: RTTCounters
    /// Busiest flows first (by packets).
    public var topFlows: [RTTFlowReport]
    /// `--hgrm`'s text: a ``PercentileDistributionFile`` section (clock `wire`) per method
    /// with samples, made only when asked for (it walks every histogram). Not part of the JSON.
    public var percentileDistributions = ""

    public init(target: String, ackRule: RTTAckRule, methods: [CaptureRTTMethodReport], counters: RTTCounters,
                topFlows: [RTTFlowReport]) {
        self.target = target
        self.ackRule = ackRule
        self.methods = methods
        self.counters = counters
        self.topFlows = topFlows
    }

    public func method(_ method: RTTMethod) -> CaptureRTTMethodReport? {
        methods.first { $0.method == method }
    }

    enum CodingKeys: String, CodingKey {
        case command, target, ackRule = "ack_rule", methods, counters, topFlows = "top_flows"
    }
}

extension RTTEngine {
    /// The report so far. Requests still waiting in the table count as unanswered here
    /// (the engine itself is not changed, so capturing may go on). With
    /// `percentileDistributions`, also `--hgrm`'s text.
    public func report(target: String, percentileDistributions: Bool = false) -> CaptureRTTReport {
        var methodCounters = matcher.methodCounters
        var counters = matcher.counters
        var live: [RTTFlowSummary] = []
        table.forEachLive { flow in
            RTTMatcher.countUnanswered(flow, into: &methodCounters, &counters)
            live.append(RTTFlowSummary(flow))
        }

        var methods: [CaptureRTTMethodReport] = []
        var distributions = ""
        for method in RTTMethod.allCases {
            let recorder = matcher.recorders[method.index]
            var row = CaptureRTTMethodReport(method: method, target: target, samples: recorder.count,
                                             rttNanoseconds: recorder.summary(), counters: methodCounters[method.index])
            if method == .tsecr {
                row.towardResponder = RTTHalfReport(samples: matcher.halves[0].count, rttNanoseconds: matcher.halves[0].summary())
                row.towardInitiator = RTTHalfReport(samples: matcher.halves[1].count, rttNanoseconds: matcher.halves[1].summary())
            }
            methods.append(row)
            if percentileDistributions && recorder.count > 0 {
                distributions += PercentileDistributionFile.section(method: method.rawValue, clock: "wire", recorder)
            }
        }

        let limit = configuration.topFlows
        var top = retired
        if limit > 0 {
            live.sort { $0.isBusier(than: $1) }
            top.append(contentsOf: live.prefix(limit))
            top.sort { $0.isBusier(than: $1) }
        }
        var report = CaptureRTTReport(target: target, ackRule: configuration.ackRule, methods: methods, counters: counters,
                                      topFlows: top.prefix(limit).map(RTTFlowReport.init))
        report.percentileDistributions = distributions
        return report
    }
}
