extension RTTMatcher {
    /// Echo request → echo reply with the same identifier and sequence number
    /// (RFC 792 "Echo or Echo Reply Message", RFC 4443 §4.1–4.2), as ping pairs them.
    /// A flow is one identifier between two hosts; its pending requests are a list in
    /// the pool (`start` = sequence number, `end` = the requesting side).
    mutating func echo(_ flow: inout RTTFlowEntry, side: Int, packet: RTTPacket, time: Int64) {
        flow.lastSeen = time
        flow.packets &+= 1
        flow.bytes &+= UInt64(max(0, packet.ipBytes))
        // Pinging oneself puts both directions on one side.
        let sameHost = flow.key.addressA == flow.key.addressB
        let number = packet.sequence
        var pending = flow.side0

        if packet.isEchoRequest {
            if flow.initiator == RTTFlowEntry.unknown { flow.initiator = UInt8(side) }
            var previous: Int32 = -1
            var index = pending.segments
            var last: Int32 = -1
            var beforeLast: Int32 = -1
            while index >= 0 {
                let record = pool[index]
                if record.start == number && (sameHost || Int(record.end) == side) {
                    pool.remove(index, previous: previous, head: &pending.segments)
                    pending.segmentCount -= 1
                    methodCounters[RTTMethod.icmp.index].unanswered &+= 1
                } else {
                    beforeLast = previous
                    last = index
                    previous = index
                }
                index = record.next
            }
            if Int(pending.segmentCount) >= configuration.maximumOutstandingEchoes, last >= 0 {
                pool.remove(last, previous: beforeLast, head: &pending.segments)
                pending.segmentCount -= 1
                methodCounters[RTTMethod.icmp.index].unanswered &+= 1
            }
            let record = RTTPendingRecord(time: time, packet: packetNumber, start: number, end: UInt32(side),
                                          next: -1, flags: 0)
            if pool.push(record, onto: &pending.segments) {
                pending.segmentCount += 1
            } else {
                methodCounters[RTTMethod.icmp.index].unanswered &+= 1
            }
            flow.side0 = pending
            return
        }

        var previous: Int32 = -1
        var index = pending.segments
        var matched: RTTPendingRecord?
        while index >= 0 {
            let record = pool[index]
            if record.start == number && (sameHost || Int(record.end) != side) {
                matched = record
                pool.remove(index, previous: previous, head: &pending.segments)
                pending.segmentCount -= 1
                break
            }
            previous = index
            index = record.next
        }
        flow.side0 = pending
        if let matched {
            emit(.icmp, openingTime: matched.time, openingPacket: matched.packet, closingTime: time,
                 flow: &flow, initiator: Int(matched.end))
        } else {
            countUnmatched(.icmp)
        }
    }
}
