import Foundation
import Testing
import WirelatCore

private let client = RTTEndpoint("10.0.0.1", 51332)
private let server = RTTEndpoint("10.0.0.2", 7001)

/// Feeds the three-way handshake (client ISN 1000, server ISN 5000) at 0, 100 and 150 µs.
private func connect(_ h: inout RTTHarness, _ c: RTTEndpoint = client, _ s: RTTEndpoint = server,
                     at start: Int64 = 0, timestamps: Bool = false) {
    h.feed(RTTWire.tcp(c, s, seq: 1000, flags: [.syn], timestamps: timestamps ? (100, 0) : nil, mss: 1460), at: start)
    h.feed(RTTWire.tcp(s, c, seq: 5000, ack: 1001, flags: [.syn, .ack], timestamps: timestamps ? (500, 100) : nil, mss: 1460),
           at: start + 100)
    h.feed(RTTWire.tcp(c, s, seq: 1001, ack: 5001, timestamps: timestamps ? (101, 500) : nil), at: start + 150)
}

@Suite("RTT handshake")
struct RTTHandshakeTests {
    @Test func handshakeRTTFromSYNToSYNACK() {
        var h = RTTHarness()
        connect(&h)
        #expect(h.microseconds(.handshake) == [100])
        let sample = h.samples(.handshake)[0]
        #expect(sample.flow.description == "10.0.0.1:51332>10.0.0.2:7001")
        #expect(sample.openingPacketNumber == 1 && sample.closingPacketNumber == 2)
        #expect(sample.timeNanoseconds == RTTHarness.epochNanoseconds + 100_000)
    }

    @Test func handshakeRTTRetransmittedSYNRestartsTheClock() {
        var h = RTTHarness()
        h.feed(RTTWire.tcp(client, server, seq: 1000, flags: [.syn]), at: 0)
        h.feed(RTTWire.tcp(client, server, seq: 1000, flags: [.syn]), at: 1_000_000)
        h.feed(RTTWire.tcp(server, client, seq: 5000, ack: 1001, flags: [.syn, .ack]), at: 1_000_120)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001), at: 1_000_170)
        #expect(h.microseconds(.handshake) == [120])
        #expect(h.samples(.handshake)[0].openingPacketNumber == 2)
        #expect(h.engine.counters(for: .handshake).retransmissions == 1)
        #expect(h.engine.counters.retransmissions == 1)
        // The SYN-ACK acknowledges a SYN sent twice: Karn takes no ack sample from it.
        #expect(h.samples(.ack).map(\.flow.description) == ["10.0.0.2:7001>10.0.0.1:51332"])
        #expect(h.microseconds(.ack) == [50])
        #expect(h.engine.counters(for: .ack).retransmissions == 1)
    }

    @Test func handshakeRTTSYNToRSTOfAClosedPort() {
        var h = RTTHarness()
        let closed = RTTEndpoint("10.0.0.2", 7002)
        h.feed(RTTWire.tcp(client, closed, seq: 777, flags: [.syn]), at: 0)
        // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        h.feed(RTTWire.tcp(closed, client, seq: 0, ack: 778, flags: [.rst, .ack], window: 0), at: 30)
        #expect(h.microseconds(.handshake) == [30])
        let report = h.engine.report(target: "test")
        #expect(report.method(.handshake)?.unanswered == 0)
        #expect(report.counters.unanswered == 0)
    }

    @Test func handshakeRTTUnansweredAndUnmatched() {
        var h = RTTHarness()
        h.feed(RTTWire.tcp(client, server, seq: 1000, flags: [.syn]), at: 0)
        let other = RTTEndpoint("10.0.0.9", 443)
        h.feed(RTTWire.tcp(other, client, seq: 9, ack: 4242, flags: [.syn, .ack]), at: 10)
        let report = h.engine.report(target: "test")
        #expect(report.method(.handshake)?.samples == 0)
        #expect(report.method(.handshake)?.unanswered == 1)
        #expect(report.method(.handshake)?.unmatched == 1)
        #expect(report.counters.unanswered == 1)
    }

    @Test func handshakeRTTNewISNOnTheSameFourTupleIsANewConnection() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.fin, .ack]), at: 200)
        h.feed(RTTWire.tcp(client, server, seq: 90_000, flags: [.syn]), at: 10_000)
        h.feed(RTTWire.tcp(server, client, seq: 70_000, ack: 90_001, flags: [.syn, .ack]), at: 10_080)
        #expect(h.microseconds(.handshake) == [100, 80])
        #expect(h.engine.counters.reusedPorts == 1)
    }
}

@Suite("RTT request/response")
struct RTTRequestResponseTests {
    @Test func reqrespRTTSyncExchange() {
        var h = RTTHarness()
        connect(&h)
        var c: UInt32 = 1001, s: UInt32 = 5001
        for i in 0..<3 {
            let t = Int64(1000 + i * 1000)
            h.feed(RTTWire.tcp(client, server, seq: c, ack: s, flags: [.psh, .ack], payload: 100), at: t)
            c += 100
            h.feed(RTTWire.tcp(server, client, seq: s, ack: c, flags: [.psh, .ack], payload: 200), at: t + 90 + Int64(i))
            s += 200
            h.feed(RTTWire.tcp(client, server, seq: c, ack: s), at: t + 130)
        }
        #expect(h.microseconds(.reqresp) == [90, 91, 92])
        #expect(h.samples(.reqresp).allSatisfy { $0.flow.description == "10.0.0.1:51332>10.0.0.2:7001" })
    }

    @Test func reqrespRTTMultiSegmentRequestTimedFromItsLastSegment() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, payload: 1448), at: 1000)
        h.feed(RTTWire.tcp(client, server, seq: 2449, ack: 5001, payload: 1448), at: 1005)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 3897), at: 1040)
        h.feed(RTTWire.tcp(client, server, seq: 3897, ack: 5001, flags: [.psh, .ack], payload: 104), at: 1050)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 4001, flags: [.psh, .ack], payload: 10), at: 1250)
        #expect(h.microseconds(.reqresp) == [200])
        #expect(h.samples(.reqresp)[0].openingPacketNumber == 7)
    }

    @Test func reqrespRTTPipelinedRequestsGiveOneSamplePerTurn() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 50), at: 1000)
        h.feed(RTTWire.tcp(client, server, seq: 1051, ack: 5001, flags: [.psh, .ack], payload: 50), at: 1005)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, flags: [.psh, .ack], payload: 60), at: 1100)
        h.feed(RTTWire.tcp(server, client, seq: 5061, ack: 1101, flags: [.psh, .ack], payload: 60), at: 1110)
        h.feed(RTTWire.tcp(client, server, seq: 1101, ack: 5121, flags: [.psh, .ack], payload: 50), at: 1200)
        h.feed(RTTWire.tcp(server, client, seq: 5121, ack: 1151, flags: [.psh, .ack], payload: 60), at: 1260)
        #expect(h.microseconds(.reqresp) == [95, 60])
    }

    @Test func reqrespRTTRetransmittedRequestIsNotSampled() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100), at: 1000)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100), at: 201_000)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, flags: [.psh, .ack], payload: 100), at: 201_050)
        h.feed(RTTWire.tcp(client, server, seq: 1101, ack: 5101, flags: [.psh, .ack], payload: 100), at: 202_000)
        h.feed(RTTWire.tcp(server, client, seq: 5101, ack: 1201, flags: [.psh, .ack], payload: 100), at: 202_070)
        #expect(h.microseconds(.reqresp) == [70])
        #expect(h.engine.counters(for: .reqresp).retransmissions == 1)
        #expect(h.engine.counters.retransmissions == 1)
    }

    @Test func reqrespRTTServerGreetingIsUnmatched() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1001, flags: [.psh, .ack], payload: 30), at: 500)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5031, flags: [.psh, .ack], payload: 20), at: 900)
        h.feed(RTTWire.tcp(server, client, seq: 5031, ack: 1021, flags: [.psh, .ack], payload: 30), at: 1000)
        #expect(h.microseconds(.reqresp) == [100])
        #expect(h.engine.counters(for: .reqresp).unmatched == 1)
    }

    @Test func reqrespRTTWithoutTheHandshakeTheHigherPortIsTheClient() {
        var h = RTTHarness()
        // The capture starts in the middle of the server's answer.
        h.feed(RTTWire.tcp(server, client, seq: 9000, ack: 3000, flags: [.psh, .ack], payload: 100), at: 0)
        h.feed(RTTWire.tcp(client, server, seq: 3000, ack: 9100, flags: [.psh, .ack], payload: 40), at: 500)
        h.feed(RTTWire.tcp(server, client, seq: 9100, ack: 3040, flags: [.psh, .ack], payload: 100), at: 620)
        #expect(h.microseconds(.reqresp) == [120])
        #expect(h.samples(.reqresp).map(\.flow.description) == ["10.0.0.1:51332>10.0.0.2:7001"])
        let report = h.engine.report(target: "t")
        #expect(report.topFlows.map(\.flow) == ["10.0.0.1:51332>10.0.0.2:7001"])
    }

    @Test func reqrespRTTResetAbandonsTheOpenRequest() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100), at: 1000)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, flags: [.rst, .ack]), at: 1050)
        #expect(h.samples(.reqresp).isEmpty)
        #expect(h.engine.report(target: "t").method(.reqresp)?.unanswered == 1)
    }
}

@Suite("RTT data to ACK")
struct RTTAckTests {
    @Test func ackRTTKarnSkipsARetransmittedSegment() {
        for rule in [RTTAckRule.karn, .tshark] {
            var configuration = RTTConfiguration()
            configuration.ackRule = rule
            var h = RTTHarness(configuration)
            connect(&h)
            h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100), at: 1000)
            h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100), at: 3000)
            h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101), at: 3040)
            let data = h.samples(.ack).filter { $0.closingPacketNumber == 6 }
            if rule == .karn {
                #expect(data.isEmpty)
                #expect(h.engine.counters(for: .ack).retransmissions == 1)
            } else {
                // tshark measures from the first transmission (frame 4).
                #expect(data.map(\.rttNanoseconds) == [2_040_000])
                #expect(data.map(\.openingPacketNumber) == [4])
            }
        }
    }

    @Test func ackRTTCumulativeACKMeasuresFromTheSegmentItNames() {
        var h = RTTHarness()
        connect(&h)
        for i in 0..<3 {
            h.feed(RTTWire.tcp(client, server, seq: 1001 + UInt32(i) * 1000, ack: 5001, payload: 1000), at: 1000 + Int64(i) * 10)
        }
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 4001), at: 1100)
        let data = h.samples(.ack).filter { $0.closingPacketNumber == 7 }
        // One sample per ACK, from the segment whose end is the ACK number (the third).
        #expect(data.map(\.rttNanoseconds) == [80_000])
        #expect(data.map(\.openingPacketNumber) == [6])
        #expect(data.map(\.flow.description) == ["10.0.0.1:51332>10.0.0.2:7001"])
    }

    @Test func ackRTTAckInsideASegmentGivesNoSample() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, payload: 1000), at: 1000)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1501), at: 1040)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 2001), at: 1060)
        let data = h.samples(.ack).filter { $0.closingPacketNumber > 3 }
        #expect(data.map(\.closingPacketNumber) == [6])
        #expect(data.map(\.rttNanoseconds) == [60_000])
    }

    @Test func ackRTTWithSACKBlocksAndALostSegment() {
        for rule in [RTTAckRule.karn, .tshark] {
            var configuration = RTTConfiguration()
            configuration.ackRule = rule
            var h = RTTHarness(configuration)
            connect(&h)
            for i in 0..<4 {
                h.feed(RTTWire.tcp(client, server, seq: 1001 + UInt32(i) * 100, ack: 5001, payload: 100), at: 1000 + Int64(i))
            }
            h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101), at: 1050)
            h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, sack: [(1201, 1301)]), at: 1052)
            h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, sack: [(1201, 1401)]), at: 1053)
            h.feed(RTTWire.tcp(client, server, seq: 1101, ack: 5001, payload: 100), at: 1060)
            h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1401), at: 1110)
            let data = h.samples(.ack).filter { $0.closingPacketNumber > 3 }
            if rule == .karn {
                #expect(data.map(\.rttNanoseconds) == [50_000])
            } else {
                #expect(data.map(\.rttNanoseconds) == [50_000, 107_000])
                #expect(data.map(\.openingPacketNumber) == [4, 7])
            }
            #expect(h.engine.counters.retransmissions == 1)
        }
    }

    @Test func ackRTTAcrossSequenceWrapAround() {
        var h = RTTHarness()
        let isn: UInt32 = 0xFFFF_FF00
        h.feed(RTTWire.tcp(client, server, seq: isn, flags: [.syn]), at: 0)
        h.feed(RTTWire.tcp(server, client, seq: 0xFFFF_FFF0, ack: isn &+ 1, flags: [.syn, .ack]), at: 100)
        h.feed(RTTWire.tcp(client, server, seq: isn &+ 1, ack: 0xFFFF_FFF1), at: 150)
        var seq = isn &+ 1
        var serverSeq: UInt32 = 0xFFFF_FFF1
        for i in 0..<3 {
            let t = Int64(1000 + i * 100)
            h.feed(RTTWire.tcp(client, server, seq: seq, ack: serverSeq, flags: [.psh, .ack], payload: 200), at: t)
            seq = seq &+ 200
            // The server's first reply crosses the wrap (0xFFFFFFF1 + 20 = 5), the client's second segment too.
            h.feed(RTTWire.tcp(server, client, seq: serverSeq, ack: seq, flags: [.psh, .ack], payload: 20), at: t + 30)
            serverSeq = serverSeq &+ 20
        }
        h.feed(RTTWire.tcp(client, server, seq: seq, ack: serverSeq), at: 1400)
        let fromClient = h.samples(.ack).filter { $0.flow.initiator == .v4(IPv4Address(10, 0, 0, 1)) }
        #expect(fromClient.map { $0.rttNanoseconds / 1000 } == [100, 30, 30, 30])
        #expect(h.microseconds(.reqresp) == [30, 30, 30])
        #expect(h.engine.counters.retransmissions == 0)
        #expect(h.engine.counters.outOfOrder == 0)
    }
}

@Suite("RTT timestamps")
struct RTTTimestampTests {
    @Test func tsecrRTTFirstOccurrenceAndEcho() {
        var h = RTTHarness()
        connect(&h, timestamps: true)
        // SYN (TSval 100) → SYN-ACK echoing it; SYN-ACK (TSval 500) → the ACK echoing it.
        #expect(h.microseconds(.tsecr) == [100, 50])
        #expect(h.samples(.tsecr).map(\.flow.description)
                == ["10.0.0.1:51332>10.0.0.2:7001", "10.0.0.2:7001>10.0.0.1:51332"])
        // Two data segments share TSval 102: the first occurrence starts the clock.
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, payload: 100, timestamps: (102, 500)), at: 2000)
        h.feed(RTTWire.tcp(client, server, seq: 1101, ack: 5001, payload: 100, timestamps: (102, 500)), at: 2010)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1201, timestamps: (501, 102)), at: 2050)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1201, timestamps: (502, 102)), at: 2060)
        #expect(h.microseconds(.tsecr) == [100, 50, 50])
        // A pure ACK's TSval (501, 502) is never timed: its echo waits for the next data.
        h.feed(RTTWire.tcp(client, server, seq: 1201, ack: 5001, flags: [.psh, .ack], payload: 10, timestamps: (103, 502)),
               at: 9000)
        #expect(h.microseconds(.tsecr) == [100, 50, 50])
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1211, flags: [.psh, .ack], payload: 10, timestamps: (503, 103)),
               at: 9040)
        h.feed(RTTWire.tcp(client, server, seq: 1211, ack: 5011, timestamps: (104, 503)), at: 9100)
        #expect(h.microseconds(.tsecr) == [100, 50, 50, 40, 60])
        let report = h.engine.report(target: "t")
        let tsecr = report.method(.tsecr)
        #expect(tsecr?.towardResponder?.samples == 3)
        #expect(tsecr?.towardInitiator?.samples == 2)
    }

    @Test func tsecrRTTWithoutTimestampsGivesNothing() {
        var h = RTTHarness()
        connect(&h)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100), at: 1000)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, flags: [.psh, .ack], payload: 100), at: 1060)
        #expect(h.samples(.tsecr).isEmpty)
        #expect(h.engine.counters.withoutTimestamps == 5)
        #expect(h.microseconds(.reqresp) == [60])
        #expect(h.microseconds(.handshake) == [100])
    }

    @Test func tsecrRTTMidStreamWaitsForTheFirstNewTSval() {
        var h = RTTHarness()
        h.feed(RTTWire.tcp(client, server, seq: 1, ack: 1, payload: 100, timestamps: (7, 70)), at: 0)
        h.feed(RTTWire.tcp(server, client, seq: 1, ack: 101, timestamps: (71, 7)), at: 40)
        h.feed(RTTWire.tcp(client, server, seq: 101, ack: 1, payload: 100, timestamps: (8, 71)), at: 1000)
        h.feed(RTTWire.tcp(server, client, seq: 1, ack: 201, timestamps: (72, 8)), at: 1030)
        #expect(h.microseconds(.tsecr) == [30])
    }
}

@Suite("RTT ICMP echo")
struct RTTEchoTests {
    @Test(arguments: [("192.0.2.1", "192.0.2.77"), ("fd00:77::1", "fd00:77::2")])
    func icmpRTTEchoRequestToReply(_ addresses: (String, String)) {
        var h = RTTHarness()
        let a = RTTEndpoint(addresses.0)
        let b = RTTEndpoint(addresses.1)
        h.feed(RTTWire.echo(a, b, request: true, identifier: 0x1234, sequence: 1), at: 0)
        h.feed(RTTWire.echo(b, a, request: false, identifier: 0x1234, sequence: 1), at: 250)
        h.feed(RTTWire.echo(a, b, request: true, identifier: 0x1234, sequence: 2), at: 1_000_000)
        h.feed(RTTWire.echo(a, b, request: true, identifier: 0x1234, sequence: 3), at: 2_000_000)
        h.feed(RTTWire.echo(b, a, request: false, identifier: 0x1234, sequence: 3), at: 2_000_300)
        h.feed(RTTWire.echo(b, a, request: false, identifier: 0x1234, sequence: 3), at: 2_000_400)
        // Another identifier (another ping) answering with the same sequence number matches nothing.
        h.feed(RTTWire.echo(b, a, request: false, identifier: 0x9999, sequence: 2), at: 2_000_500)
        #expect(h.microseconds(.icmp) == [250, 300])
        let text = a.isIPv6 ? "fd00:77::1>fd00:77::2 id 4660" : "192.0.2.1>192.0.2.77 id 4660"
        #expect(h.samples(.icmp).allSatisfy { $0.flow.description == text })
        let report = h.engine.report(target: "t")
        #expect(report.method(.icmp)?.unanswered == 1)
        #expect(report.method(.icmp)?.unmatched == 2)
        #expect(report.counters.icmpEchoes == 7)
    }

    @Test func icmpRTTPingingOneself() {
        var h = RTTHarness()
        let lo = RTTEndpoint("127.0.0.1")
        h.feed(RTTWire.echo(lo, lo, request: true, identifier: 7, sequence: 1), at: 0)
        h.feed(RTTWire.echo(lo, lo, request: false, identifier: 7, sequence: 1), at: 12)
        #expect(h.microseconds(.icmp) == [12])
    }
}

@Suite("RTT flow table limits")
struct RTTFlowLimitTests {
    @Test func flowEvictionRTTWithATinyTable() {
        var configuration = RTTConfiguration()
        configuration.maximumFlows = 4
        var h = RTTHarness(configuration)
        for i in 0..<10 {
            let port = RTTEndpoint("10.0.0.2", UInt16(8000 + i))
            h.feed(RTTWire.tcp(client, port, seq: UInt32(i * 1000), flags: [.syn]), at: Int64(i))
        }
        #expect(h.engine.counters.evicted == 6)
        #expect(h.engine.counters.flows == 10)
        // The newest flow is still there; the oldest was evicted.
        h.feed(RTTWire.tcp(RTTEndpoint("10.0.0.2", 8009), client, seq: 1, ack: 9001, flags: [.syn, .ack]), at: 100)
        h.feed(RTTWire.tcp(RTTEndpoint("10.0.0.2", 8000), client, seq: 1, ack: 1, flags: [.syn, .ack]), at: 110)
        #expect(h.microseconds(.handshake) == [91])
        let report = h.engine.report(target: "t")
        #expect(report.counters.evicted == 7)
        #expect(report.counters.activeFlows == 4)
        #expect(report.method(.handshake)?.unanswered == 9)
        #expect(report.method(.handshake)?.unmatched == 1)
        #expect(report.counters.unanswered == 9)
        #expect(report.topFlows.count == 10)
    }

    @Test func flowExpiryRTTByCaptureTime() {
        var configuration = RTTConfiguration()
        configuration.flowIdleTimeoutNanoseconds = 1_000_000_000
        var h = RTTHarness(configuration)
        h.feed(RTTWire.tcp(client, server, seq: 1, flags: [.syn]), at: 0)
        h.feed(RTTWire.echo(RTTEndpoint("10.0.0.1"), RTTEndpoint("10.0.0.3"), request: true, identifier: 1, sequence: 1),
               at: 500_000)
        h.feed(RTTWire.tcp(RTTEndpoint("10.0.0.5", 1), server, seq: 1, flags: [.syn]), at: 1_200_000)
        #expect(h.engine.counters.expired == 1)
        #expect(h.engine.counters.unanswered == 1)
        h.feed(RTTWire.tcp(RTTEndpoint("10.0.0.5", 1), server, seq: 1, flags: [.syn]), at: 2_000_000)
        #expect(h.engine.counters.expired == 2)
        #expect(h.engine.counters(for: .icmp).unanswered == 1)
        // The answer to the expired SYN finds no SYN.
        h.feed(RTTWire.tcp(server, client, seq: 9, ack: 2, flags: [.syn, .ack]), at: 2_000_100)
        #expect(h.samples(.handshake).isEmpty)
        #expect(h.engine.counters(for: .handshake).unmatched == 1)
        #expect(h.engine.counters.activeFlows == 2)
    }

    @Test func flowLimitsRTTPendingSegmentsStayBounded() {
        var configuration = RTTConfiguration()
        configuration.maximumOutstandingSegments = 8
        var h = RTTHarness(configuration)
        connect(&h)
        for i in 0..<20 {
            h.feed(RTTWire.tcp(client, server, seq: 1001 + UInt32(i) * 10, ack: 5001, payload: 10), at: 1000 + Int64(i))
        }
        #expect(h.engine.counters.untrackedSegments == 12)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1081), at: 2000)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1201), at: 2010)
        // The eighth segment ends at 1081; nothing remembered ends at 1201.
        #expect(h.samples(.ack).filter { $0.closingPacketNumber > 3 }.map(\.openingPacketNumber) == [11])
    }
}

@Suite("RTT reports")
struct RTTReportTests {
    private func exercised() -> RTTHarness {
        var h = RTTHarness()
        connect(&h, timestamps: true)
        h.feed(RTTWire.tcp(client, server, seq: 1001, ack: 5001, flags: [.psh, .ack], payload: 100, timestamps: (102, 500)),
               at: 1000)
        h.feed(RTTWire.tcp(server, client, seq: 5001, ack: 1101, flags: [.psh, .ack], payload: 100, timestamps: (501, 102)),
               at: 1060)
        h.feed(RTTWire.tcp(client, server, seq: 1101, ack: 5101, timestamps: (103, 501)), at: 1100)
        h.feed(RTTWire.echo(RTTEndpoint("10.0.0.1"), RTTEndpoint("10.0.0.2"), request: true, identifier: 3, sequence: 1),
               at: 2000)
        h.feed(RTTWire.echo(RTTEndpoint("10.0.0.2"), RTTEndpoint("10.0.0.1"), request: false, identifier: 3, sequence: 1),
               at: 2100)
        h.feed(RTTWire.tcp(RTTEndpoint("10.0.0.1", 40000), server, seq: 1, flags: [.syn]), at: 3000)
        return h
    }

    @Test func reportRTTJSONHasTheInterfaceKeys() throws {
        let h = exercised()
        let report = h.engine.report(target: "-r test.pcap")
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["command"] as? String == "capture")
        let methods = try #require(object["methods"] as? [[String: Any]])
        #expect(methods.map { $0["method"] as? String } == ["handshake", "reqresp", "ack", "tsecr", "icmp"])
        for method in methods {
            #expect(method["command"] as? String == "capture")
            #expect(method["target"] as? String == "-r test.pcap")
            #expect((method["samples"] as? Int ?? 0) > 0)
            let rtt = try #require(method["rtt_ns"] as? [String: Any])
            #expect(Set(rtt.keys) == ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"])
            for key in ["unanswered", "unmatched", "retransmissions"] { #expect(method[key] != nil) }
            #expect(method["clock"] as? String == "wire", "capture's round trips are the wire's clock (INTERFACE.md, Two clocks)")
        }
        #expect(methods[0]["samples"] as? Int == 1)
        #expect((methods[0]["rtt_ns"] as? [String: Any])?["p50"] as? Int == 100_000)
        let counters = try #require(object["counters"] as? [String: Any])
        #expect(counters["unanswered"] as? Int == 1)
        for key in ["evicted", "unmatched", "retransmissions", "expired", "flows"] { #expect(counters[key] != nil) }
        let flows = try #require(object["top_flows"] as? [[String: Any]])
        #expect(flows.first?["flow"] as? String == "10.0.0.1:51332>10.0.0.2:7001")
        #expect(flows.first?["protocol"] as? String == "tcp")
        let decoded = try JSONDecoder().decode(CaptureRTTReport.self, from: data)
        #expect(decoded.methods.map(\.samples) == report.methods.map(\.samples))
        #expect(decoded.topFlows == report.topFlows)
    }

    @Test func reportRTTSamplesLine() {
        let h = exercised()
        let line = h.samples(.handshake)[0].jsonLine
        #expect(line == "{\"method\":\"handshake\",\"time_ns\":\(RTTHarness.epochNanoseconds + 100_000),\"rtt_ns\":100000,"
                + "\"flow\":\"10.0.0.1:51332>10.0.0.2:7001\"}")
        let v6 = RTTSample(method: .ack, timeNanoseconds: 1, rttNanoseconds: 2,
                           flow: RTTFlow(protocolNumber: 6, initiator: .v6(IPv6Address(high: 0xFD00_0077_0000_0000, low: 1)),
                                         initiatorPort: 5, responder: .v6(IPv6Address(high: 0xFD00_0077_0000_0000, low: 2)),
                                         responderPort: 7001),
                           openingPacketNumber: 1, closingPacketNumber: 2)
        #expect(v6.flow.description == "[fd00:77::1]:5>[fd00:77::2]:7001")
    }

    @Test func reportRTTTextLabelsEachRoundTrip() {
        let h = exercised()
        let text = RTTTextReport.render(h.engine.report(target: "-r test.pcap"))
        for label in ["SYN→SYN-ACK RTT", "request→response RTT", "data→ACK RTT", "TSval→TSecr RTT", "ICMP echo RTT"] {
            #expect(text.contains(label))
        }
        #expect(text.contains("toward responder"))
        #expect(text.contains("On the client's host, reqresp is the full round trip"))
        #expect(text.contains("tsecr halves (p50)"))
        #expect(text.contains("10.0.0.1:51332>10.0.0.2:7001"))
        #expect(text.contains("unanswered: 1 SYNs"))
        let handshakeRow = text.split(separator: "\n").first { $0.hasPrefix("handshake") }
        #expect(handshakeRow?.contains("0.100") == true)
    }
}
