/// The passive round-trip engine behind `wirelat capture --rtt`: given packets in capture
/// order, it pairs each packet that asks for an answer with the packet that gives it and
/// records the time between them, by five methods at once (``RTTMethod``).
///
/// Matching rules, one method at a time:
///
/// - **handshake** (RFC 9293 §3.5): a SYN → the SYN-ACK acknowledging it (SEG.ACK = ISN + 1),
///   or the RST a closed port sends (RFC 9293 §3.10.7.1). A SYN sent again with the same
///   ISN is a retransmission: it restarts the clock, so the sample runs from the last SYN,
///   and is counted. A SYN with another ISN on the same 4-tuple starts a new connection
///   (tshark's "port numbers reused").
/// - **reqresp**: the requester is the connection's initiator (the SYN's sender; when the
///   handshake was not captured, the side with the higher, ephemeral-looking port, or the
///   first side seen sending data when both ports are equal). A request is the run
///   of new-data segments from the requester after the direction last changed; its send
///   time is the time of its *last* segment before the answer, whether or not it carries
///   PSH (PSH ends each write, so a request written in several writes, or merged by
///   segmentation offload, would otherwise start the clock too early). The sample closes
///   at the first new-data segment from the other side. Pure ACKs, window updates and
///   FINs without data neither open nor close an exchange. Karn: a segment that does not
///   advance its sender's sequence space (retransmission, out-of-order arrival,
///   keep-alive) never opens or closes an exchange, and an exchange whose request had
///   one is not sampled. Data from the responder with no open request is counted as
///   unmatched (a server greeting). In pipelined or asynchronous traffic a sample is the
///   time from the last request segment before each turn of direction to the turn.
/// - **ack**: tshark's `tcp.analysis.ack_rtt` (packet-tcp.c, `tcp_analyze_sequence_number`):
///   every segment that occupies sequence space (data, SYN, FIN) is remembered as
///   [SEG.SEQ, SEG.SEQ + data + (SYN or FIN ? 1 : 0)), newest first, at most
///   ``RTTConfiguration/maximumOutstandingSegments`` per direction. Each packet from the
///   other side walks that list with its SEG.ACK: a segment ending exactly at SEG.ACK is
///   acknowledged and gives the sample (if several end there, the one sent first wins,
///   as in tshark); segments ending before it are removed silently; a segment SEG.ACK
///   falls inside is trimmed to start at SEG.ACK. So one ACK gives at most one sample,
///   measured from the segment whose end it names — for a cumulative ACK of several
///   segments, the newest of them — and an ACK falling inside a segment gives none.
///   An RTT of zero is not reported (tshark prints no ack_rtt then). With
///   ``RTTAckRule/karn`` (the default) an ACK that covers any byte of a segment that did
///   not advance its sender's sequence space gives no sample, and only packets with the
///   ACK bit are read; with ``RTTAckRule/tshark`` every packet's acknowledgment field is
///   read, as tshark does, and retransmissions count.
/// - **tsecr** (RFC 7323 §3–4, pping and its eBPF successor ePPing): a packet that carries
///   data or SYN and a TSval newer (RFC 7323 §5.2 serial order) than the last one taken
///   from its side records (TSval, time): the first occurrence of each TSval, pure ACKs
///   never (their echo waits for the peer's next data). A flow first seen mid-stream
///   records nothing until its TSval changes, since the first TSval seen may have been
///   sent before the capture began. A packet with ACK from the other side whose TSecr
///   equals a recorded TSval closes the sample; that entry and every older one are then
///   dropped, since TSecr never goes back (RFC 7323 §4.3), so each TSval is used once.
///   Retransmitted segments carry fresh TSvals, so no Karn rule is needed
///   (RFC 7323 §4.1). Segments without the option are only counted.
/// - **icmp** (RFC 792, RFC 4443 §4.1–4.2): an echo request → the echo reply with the same
///   addresses (reversed), identifier and sequence number, IPv4 and IPv6. A second request
///   with a pending sequence number gives up the first; unanswered requests are counted.
///
/// Flows are bounded (``RTTConfiguration``): at most `maximumFlows`, the least recently
/// used evicted to make room, and flows idle for `flowIdleTimeoutNanoseconds` of capture
/// time expire. Pending records (segments, TSvals, echo requests) live in one shared,
/// capped pool. Nothing here allocates per packet once the arrays have grown.
public struct RTTEngine {
    public let configuration: RTTConfiguration
    /// Called with every sample as it is found (`--samples`).
    public var onSample: ((RTTSample) -> Void)? {
        get { matcher.onSample }
        set { matcher.onSample = newValue }
    }
    public var counters: RTTCounters { matcher.counters }

    var table: RTTFlowTable
    /// Everything the matchers change besides the flow a packet belongs to.
    var matcher: RTTMatcher
    /// The busiest flows that have left the table, busiest first.
    var retired: [RTTFlowSummary] = []

    public init(configuration: RTTConfiguration = RTTConfiguration(), onSample: ((RTTSample) -> Void)? = nil) {
        var configuration = configuration
        configuration.maximumFlows = max(1, configuration.maximumFlows)
        configuration.maximumOutstandingSegments = min(max(0, configuration.maximumOutstandingSegments), Int(UInt16.max))
        configuration.maximumOutstandingTimestamps = min(max(0, configuration.maximumOutstandingTimestamps), Int(UInt16.max))
        configuration.maximumOutstandingEchoes = min(max(1, configuration.maximumOutstandingEchoes), Int(UInt16.max))
        configuration.topFlows = max(0, configuration.topFlows)
        self.configuration = configuration
        table = RTTFlowTable(capacity: configuration.maximumFlows)
        matcher = RTTMatcher(configuration: configuration, onSample: onSample)
    }

    /// Decodes and processes one packet from a capture file or a live handle.
    public mutating func process(_ packet: CapturedPacket) {
        process(RTTPacket(frame: packet.data, linkType: packet.linkType),
                timeNanoseconds: packet.timestamp.nanosecondsSinceEpoch)
    }

    /// Processes one decoded packet. `frame` is the buffer it was decoded from (TCP
    /// options are read from it); `timeNanoseconds` is its capture time since the epoch.
    public mutating func process(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer, timeNanoseconds: Int64) {
        process(RTTPacket(decoded: packet, frame: frame), timeNanoseconds: timeNanoseconds)
    }

    mutating func process(_ packet: RTTPacket, timeNanoseconds time: Int64) {
        matcher.packetNumber &+= 1
        matcher.counters.packets &+= 1
        expireIdleFlows(now: time)
        switch packet.kind {
        case .tcp:
            matcher.counters.tcpSegments &+= 1
            let (key, side) = RTTFlowKey.make(packet)
            let index = acquireFlow(key, now: time)
            matcher.segment(&table[index], side: side, packet: packet, time: time)
        case .echo:
            matcher.counters.icmpEchoes &+= 1
            let (key, side) = RTTFlowKey.make(packet)
            let index = acquireFlow(key, now: time)
            matcher.echo(&table[index], side: side, packet: packet, time: time)
        case .ignored:
            matcher.counters.ignoredPackets &+= 1
        }
    }

    /// Forgets flows idle for longer than the timeout at capture time `now`. Called for
    /// every packet (and inlined there: mostly it only compares the oldest flow's time);
    /// a live capture with no traffic may call it from a timer.
    @inline(__always)
    public mutating func expireIdleFlows(now: Int64) {
        let limit = configuration.flowIdleTimeoutNanoseconds
        while table.oldest >= 0 {
            let index = table.oldest
            let (idle, overflow) = now.subtractingReportingOverflow(table[index].lastSeen)
            guard !overflow, idle > limit else { return }
            retire(index)
            matcher.counters.expired &+= 1
        }
    }

    /// Every sample recorded for `method` so far.
    public func recorder(for method: RTTMethod) -> LatencyRecorder { matcher.recorders[method.index] }

    public func counters(for method: RTTMethod) -> RTTMethodCounters { matcher.methodCounters[method.index] }

    /// Bytes held by the flow table and the pending pool (the engine's memory, apart from
    /// its seven latency histograms).
    public var stateBytes: Int {
        table.storageBytes + matcher.pool.storageBytes + retired.capacity * MemoryLayout<RTTFlowSummary>.stride
    }

    /// Bytes of one flow entry; the index adds 8 to 16 more per flow (two to four 4-byte
    /// slots at load ½), and each pending record 32.
    public static var flowEntryBytes: Int { MemoryLayout<RTTFlowEntry>.stride }

    // MARK: - Flows

    mutating func acquireFlow(_ key: RTTFlowKey, now: Int64) -> Int32 {
        if let index = table.find(key) {
            table.touch(index)
            return index
        }
        if table.isFull {
            retire(table.oldest)
            matcher.counters.evicted &+= 1
        }
        matcher.counters.flows &+= 1
        let index = table.insert(RTTFlowEntry(key: key, lastSeen: now))
        matcher.counters.activeFlows = UInt64(table.count)
        return index
    }

    /// Removes a flow from the table, counting what it left unanswered and keeping it
    /// for the busiest-flows table.
    mutating func retire(_ index: Int32) {
        matcher.countUnanswered(table[index])
        matcher.releaseRecords(&table[index])
        considerForTop(RTTFlowSummary(table[index]))
        table.remove(index)
        matcher.counters.activeFlows = UInt64(table.count)
    }

    mutating func considerForTop(_ summary: RTTFlowSummary) {
        let limit = configuration.topFlows
        guard limit > 0 else { return }
        if retired.count == limit, let last = retired.last, !(summary.isBusier(than: last)) { return }
        let position = retired.firstIndex { summary.isBusier(than: $0) } ?? retired.count
        retired.insert(summary, at: position)
        if retired.count > limit { retired.removeLast() }
    }
}

/// What the matchers share and change besides the flow a packet belongs to: the pending
/// pool, the latency recorders and the counters. Its methods take that flow as an
/// `inout` argument, so the flow is updated where it lies in the table.
struct RTTMatcher {
    let configuration: RTTConfiguration
    var onSample: ((RTTSample) -> Void)?
    var counters = RTTCounters()
    var pool: RTTPendingPool
    var recorders: [LatencyRecorder]
    /// tsecr samples split by which side's TSval was echoed: [0] the initiator's (capture
    /// point → responder → capture point), [1] the responder's.
    var halves: [LatencyRecorder]
    var methodCounters: [RTTMethodCounters]
    /// 1-based number of the packet being processed.
    var packetNumber: UInt64 = 0

    init(configuration: RTTConfiguration, onSample: ((RTTSample) -> Void)?) {
        self.configuration = configuration
        self.onSample = onSample
        pool = RTTPendingPool(limit: configuration.maximumPendingRecords)
        recorders = Array(repeating: LatencyRecorder(), count: RTTMethod.allCases.count)
        halves = [LatencyRecorder(), LatencyRecorder()]
        methodCounters = Array(repeating: RTTMethodCounters(), count: RTTMethod.allCases.count)
    }

    /// Counts the requests `flow` leaves unanswered as it ends.
    mutating func countUnanswered(_ flow: RTTFlowEntry) {
        Self.countUnanswered(flow, into: &methodCounters, &counters)
    }

    static func countUnanswered(_ flow: RTTFlowEntry, into methodCounters: inout [RTTMethodCounters],
                                _ counters: inout RTTCounters) {
        if flow.handshake == RTTFlowEntry.handshakeAwaiting {
            methodCounters[RTTMethod.handshake.index].unanswered &+= 1
            counters.unanswered &+= 1
        }
        if flow.requestOpen {
            methodCounters[RTTMethod.reqresp.index].unanswered &+= 1
        }
        if flow.key.protocolNumber != IPProtocolNumber.tcp {
            methodCounters[RTTMethod.icmp.index].unanswered &+= UInt64(flow.side0.segmentCount)
        }
    }

    mutating func releaseRecords(_ flow: inout RTTFlowEntry) {
        pool.removeAll(&flow.side0.segments)
        pool.removeAll(&flow.side0.timestamps)
        pool.removeAll(&flow.side1.segments)
        pool.removeAll(&flow.side1.timestamps)
        flow.side0.segmentCount = 0
        flow.side0.timestampCount = 0
        flow.side1.segmentCount = 0
        flow.side1.timestampCount = 0
    }

    // MARK: - Samples

    /// Records one round trip from `opening` to the packet being processed at `time`.
    mutating func emit(_ method: RTTMethod, openingTime: Int64, openingPacket: UInt64, closingTime: Int64,
                       flow: inout RTTFlowEntry, initiator: Int) {
        let (difference, overflow) = closingTime.subtractingReportingOverflow(openingTime)
        guard !overflow, difference > 0 else {
            counters.nonPositive &+= 1
            return
        }
        let rtt = UInt64(difference)
        recorders[method.index].record(rtt)
        flow.samples &+= 1
        if rtt < flow.minimumRTT { flow.minimumRTT = rtt }
        if rtt > flow.maximumRTT { flow.maximumRTT = rtt }
        if method == .tsecr, flow.initiator != RTTFlowEntry.unknown {
            halves[initiator == Int(flow.initiator) ? 0 : 1].record(rtt)
        }
        onSample?(RTTSample(method: method, timeNanoseconds: closingTime, rttNanoseconds: rtt,
                            flow: flow.key.flow(initiator: initiator),
                            openingPacketNumber: openingPacket, closingPacketNumber: packetNumber))
    }

    mutating func countUnmatched(_ method: RTTMethod) {
        methodCounters[method.index].unmatched &+= 1
        counters.unmatched &+= 1
    }
}

/// What the busiest-flows table shows of one flow.
struct RTTFlowSummary {
    var key: RTTFlowKey
    var initiator: Int
    var packets: UInt32
    var bytes: UInt64
    var samples: UInt32
    var minimumRTT: UInt64
    var maximumRTT: UInt64

    init(_ flow: RTTFlowEntry) {
        key = flow.key
        initiator = flow.displayInitiator
        packets = flow.packets
        bytes = flow.bytes
        samples = flow.samples
        minimumRTT = flow.minimumRTT
        maximumRTT = flow.maximumRTT
    }

    /// More packets first, then more bytes.
    func isBusier(than other: RTTFlowSummary) -> Bool {
        packets != other.packets ? packets > other.packets : bytes > other.bytes
    }
}
