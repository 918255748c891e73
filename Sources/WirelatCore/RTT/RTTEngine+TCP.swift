extension RTTMatcher {
    /// Runs a TCP segment through the handshake, ack, reqresp and tsecr matchers of its flow.
    @inline(__always)
    mutating func segment(_ flow: inout RTTFlowEntry, side: Int, packet: RTTPacket, time: Int64) {
        flow.lastSeen = time
        flow.packets &+= 1
        flow.bytes &+= UInt64(max(0, packet.ipBytes))

        let flags = packet.flags
        let sequence = packet.sequence
        let isSYN = flags.contains(.syn)
        let payload = UInt32(clamping: packet.payloadLength)
        // tshark's next sequence number: data plus one for SYN or FIN (RFC 9293 §3.4).
        let end = sequence &+ payload &+ (isSYN || flags.contains(.fin) ? 1 : 0)
        let occupiesSequence = end != sequence

        // A SYN whose sequence number is not its sender's base starts a new connection on
        // the same 4-tuple, as tshark starts a new conversation ("port numbers reused").
        if isSYN && !flags.contains(.ack) && flow[side: side].has(RTTSideState.baseSet)
            && flow[side: side].baseSequence != sequence {
            restartConnection(&flow)
            counters.reusedPorts &+= 1
        }
        if !flow[side: side].has(RTTSideState.baseSet) {
            flow.withSide(side) { sender in
                sender.baseSequence = isSYN ? sequence : sequence &- 1
                sender.set(RTTSideState.baseSet)
            }
        }

        if isSYN || flags.contains(.rst) {
            handshake(&flow, side: side, packet: packet, time: time)
        }

        var ambiguous = false
        if occupiesSequence {
            ambiguous = classify(&flow, side: side, sequence: sequence, end: end, payload: payload, flags: flags)
            rememberSegment(&flow, side: side, start: sequence, end: end, time: time, ambiguous: ambiguous)
        }
        if !flow[side: side].has(RTTSideState.nextSequenceSet) || SerialNumber.greater(end, flow[side: side].nextSequence) {
            flow.withSide(side) { sender in
                sender.nextSequence = end
                sender.set(RTTSideState.nextSequenceSet)
            }
        }

        acknowledge(&flow, ackingSide: side, packet: packet, time: time)

        if payload > 0 {
            requestResponse(&flow, side: side, ambiguous: ambiguous, time: time)
        }
        if packet.hasTimestamps {
            timestampEcho(&flow, side: side, flags: flags, payload: payload, tsval: packet.timestampValue,
                          tsecr: packet.timestampEchoReply, time: time)
        } else {
            counters.withoutTimestamps &+= 1
        }
        if flags.contains(.rst) {
            if flow.requestOpen { methodCounters[RTTMethod.reqresp.index].unanswered &+= 1 }
            flow.requestOpen = false
            flow.runSide = RTTFlowEntry.unknown
        }
    }

    /// Forgets a connection's state when a new one starts on its 4-tuple, counting what
    /// it left unanswered; the flow's packet and sample counts stay.
    mutating func restartConnection(_ flow: inout RTTFlowEntry) {
        Self.countUnanswered(flow, into: &methodCounters, &counters)
        releaseRecords(&flow)
        flow.side0 = RTTSideState()
        flow.side1 = RTTSideState()
        flow.handshake = RTTFlowEntry.handshakeNone
        flow.initiator = RTTFlowEntry.unknown
        flow.initiatorGuessed = false
        flow.runSide = RTTFlowEntry.unknown
        flow.requestOpen = false
        flow.requestClean = false
        flow.synCount = 0
    }

    // MARK: - handshake

    /// SYN → SYN-ACK or RST (RFC 9293 §3.5, §3.10.7.1), timed from the latest SYN.
    /// Only SYNs and RSTs reach it.
    mutating func handshake(_ flow: inout RTTFlowEntry, side: Int, packet: RTTPacket, time: Int64) {
        let flags = packet.flags
        let isSYN = flags.contains(.syn)
        let hasACK = flags.contains(.ack)
        if isSYN && !hasACK {
            if flow.handshake == RTTFlowEntry.handshakeAwaiting && Int(flow.initiator) == side
                && flow.synSequence == packet.sequence {
                flow.synTime = time
                flow.synPacket = packetNumber
                if flow.synCount < UInt8.max { flow.synCount += 1 }
                methodCounters[RTTMethod.handshake.index].retransmissions &+= 1
                return
            }
            if flow.handshake == RTTFlowEntry.handshakeAnswered && Int(flow.initiator) == side
                && flow.synSequence == packet.sequence {
                return
            }
            if flow.handshake == RTTFlowEntry.handshakeAwaiting {
                methodCounters[RTTMethod.handshake.index].unanswered &+= 1
                counters.unanswered &+= 1
            }
            flow.handshake = RTTFlowEntry.handshakeAwaiting
            flow.initiator = UInt8(side)
            flow.initiatorGuessed = false
            flow.synSequence = packet.sequence
            flow.synTime = time
            flow.synPacket = packetNumber
            flow.synCount = 1
            return
        }
        if isSYN && (flow.initiator == RTTFlowEntry.unknown || flow.initiatorGuessed) {
            flow.initiator = UInt8(1 - side)
            flow.initiatorGuessed = false
        }
        guard isSYN || flags.contains(.rst) else { return }
        guard flow.handshake == RTTFlowEntry.handshakeAwaiting, Int(flow.initiator) != side, hasACK,
              packet.acknowledgment == flow.synSequence &+ 1
        else {
            if isSYN && flow.handshake != RTTFlowEntry.handshakeAnswered { countUnmatched(.handshake) }
            return
        }
        flow.handshake = RTTFlowEntry.handshakeAnswered
        emit(.handshake, openingTime: flow.synTime, openingPacket: flow.synPacket, closingTime: time,
             flow: &flow, initiator: Int(flow.initiator))
    }

    // MARK: - retransmissions

    /// Whether a segment occupying sequence space fails to advance its sender's SND.NXT as
    /// seen (tshark's "seq_not_advanced"): such a segment is ambiguous for Karn's algorithm.
    /// Counted as a keep-alive (RFC 9293 §3.8.4: one byte at SND.NXT − 1), a
    /// retransmission (it resends bytes the receiver acknowledged or that are still
    /// remembered as unacknowledged), or else out of order (it fills a hole).
    mutating func classify(_ flow: inout RTTFlowEntry, side: Int, sequence: UInt32, end: UInt32,
                           payload: UInt32, flags: TCPFlags) -> Bool {
        let nextSequence = flow[side: side].nextSequence
        guard flow[side: side].has(RTTSideState.nextSequenceSet), SerialNumber.less(sequence, nextSequence) else {
            return false
        }
        if payload <= 1 && sequence == nextSequence &- 1 && flags.isDisjoint(with: [.syn, .fin, .rst]) {
            counters.keepAlives &+= 1
            return true
        }
        var resent = flow[side: 1 - side].has(RTTSideState.lastAcknowledgmentSet)
            && SerialNumber.less(sequence, flow[side: 1 - side].lastAcknowledgment)
        var index = flow[side: side].segments
        while !resent && index >= 0 {
            let record = pool[index]
            resent = SerialNumber.less(sequence, record.end) && SerialNumber.less(record.start, end)
            index = record.next
        }
        if resent { counters.retransmissions &+= 1 } else { counters.outOfOrder &+= 1 }
        return true
    }

    // MARK: - ack

    mutating func rememberSegment(_ flow: inout RTTFlowEntry, side: Int, start: UInt32, end: UInt32,
                                  time: Int64, ambiguous: Bool) {
        guard Int(flow[side: side].segmentCount) < configuration.maximumOutstandingSegments else {
            counters.untrackedSegments &+= 1
            return
        }
        let record = RTTPendingRecord(time: time, packet: packetNumber, start: start, end: end, next: -1,
                                      flags: ambiguous ? RTTPendingRecord.ambiguous : 0)
        let remembered = flow.withSide(side) { sender in
            guard pool.push(record, onto: &sender.segments) else { return false }
            sender.segmentCount += 1
            return true
        }
        if !remembered { counters.untrackedSegments &+= 1 }
    }

    /// tshark's walk of the other direction's unacknowledged segments with this packet's
    /// SEG.ACK (packet-tcp.c, `tcp_analyze_sequence_number`), described on ``RTTEngine``.
    mutating func acknowledge(_ flow: inout RTTFlowEntry, ackingSide: Int, packet: RTTPacket, time: Int64) {
        let hasACK = packet.flags.contains(.ack)
        let ack = packet.acknowledgment
        if hasACK && (!flow[side: ackingSide].has(RTTSideState.lastAcknowledgmentSet)
                      || SerialNumber.greater(ack, flow[side: ackingSide].lastAcknowledgment)) {
            flow.withSide(ackingSide) { acker in
                acker.lastAcknowledgment = ack
                acker.set(RTTSideState.lastAcknowledgmentSet)
            }
        }
        let karn = configuration.ackRule == .karn
        guard hasACK || !karn else { return }
        let dataSide = 1 - ackingSide
        guard flow[side: dataSide].segmentCount > 0 else { return }
        var matched: RTTPendingRecord?
        var ambiguous = false
        var previous: Int32 = -1
        var index = flow[side: dataSide].segments
        while index >= 0 {
            let record = pool[index]
            if ack == record.end {
                matched = record
            } else if SerialNumber.greater(ack, record.start) && SerialNumber.lessOrEqual(ack, record.end) {
                pool[index].start = ack
                if record.flags & RTTPendingRecord.ambiguous != 0 { ambiguous = true }
                previous = index
                index = record.next
                continue
            } else if SerialNumber.greater(record.end, ack) {
                previous = index
                index = record.next
                continue
            }
            if record.flags & RTTPendingRecord.ambiguous != 0 { ambiguous = true }
            flow.withSide(dataSide) { sender in
                pool.remove(index, previous: previous, head: &sender.segments)
                sender.segmentCount -= 1
            }
            index = record.next
        }
        guard let matched else { return }
        if karn && ambiguous {
            methodCounters[RTTMethod.ack.index].retransmissions &+= 1
            return
        }
        emit(.ack, openingTime: matched.time, openingPacket: matched.packet, closingTime: time,
             flow: &flow, initiator: dataSide)
    }

    // MARK: - reqresp

    /// The request/response exchange described on ``RTTEngine``: from the requester's
    /// last new-data segment before the turn to the responder's first.
    mutating func requestResponse(_ flow: inout RTTFlowEntry, side: Int, ambiguous: Bool, time: Int64) {
        if flow.initiator == RTTFlowEntry.unknown {
            flow.initiator = UInt8(flow.guessedInitiator(fallback: side))
            flow.initiatorGuessed = true
        }
        let requester = Int(flow.initiator)
        if ambiguous {
            if side == requester && flow.requestOpen { flow.requestClean = false }
            return
        }
        if side == requester {
            if Int(flow.runSide) != side {
                flow.runSide = UInt8(side)
                flow.requestOpen = true
                flow.requestClean = true
            }
            flow.requestEndTime = time
            flow.requestEndPacket = packetNumber
            return
        }
        if flow.requestOpen {
            flow.requestOpen = false
            if flow.requestClean {
                emit(.reqresp, openingTime: flow.requestEndTime, openingPacket: flow.requestEndPacket,
                     closingTime: time, flow: &flow, initiator: requester)
            } else {
                methodCounters[RTTMethod.reqresp.index].retransmissions &+= 1
            }
        } else if Int(flow.runSide) != side {
            countUnmatched(.reqresp)
        }
        flow.runSide = UInt8(side)
    }

    // MARK: - tsecr

    /// TSval → TSecr (RFC 7323 §4), pping's rules as described on ``RTTEngine``.
    mutating func timestampEcho(_ flow: inout RTTFlowEntry, side: Int, flags: TCPFlags, payload: UInt32,
                                tsval: UInt32, tsecr: UInt32, time: Int64) {
        let other = 1 - side
        if flags.contains(.ack) && tsecr != 0 && flow[side: other].timestampCount > 0 {
            var matched: RTTPendingRecord?
            var previous: Int32 = -1
            var index = flow[side: other].timestamps
            while index >= 0 {
                let record = pool[index]
                if SerialNumber.lessOrEqual(record.start, tsecr) {
                    if record.start == tsecr { matched = record }
                    flow.withSide(other) { waiting in
                        pool.remove(index, previous: previous, head: &waiting.timestamps)
                        waiting.timestampCount -= 1
                    }
                } else {
                    previous = index
                }
                index = record.next
            }
            if let matched {
                emit(.tsecr, openingTime: matched.time, openingPacket: matched.packet, closingTime: time,
                     flow: &flow, initiator: other)
            }
        }

        guard tsval != 0, payload > 0 || flags.contains(.syn) else { return }
        if !flow[side: side].has(RTTSideState.lastTSvalSet) {
            flow.withSide(side) { sender in
                sender.lastTSval = tsval
                sender.set(RTTSideState.lastTSvalSet)
            }
            if !flags.contains(.syn) { return }
        } else {
            guard SerialNumber.greater(tsval, flow[side: side].lastTSval) else { return }
            flow.withSide(side) { $0.lastTSval = tsval }
        }
        let record = RTTPendingRecord(time: time, packet: packetNumber, start: tsval, end: 0, next: -1, flags: 0)
        let remembered = Int(flow[side: side].timestampCount) < configuration.maximumOutstandingTimestamps
            && flow.withSide(side) { sender in
                guard pool.push(record, onto: &sender.timestamps) else { return false }
                sender.timestampCount += 1
                return true
            }
        if !remembered { counters.untrackedTimestamps &+= 1 }
    }
}
