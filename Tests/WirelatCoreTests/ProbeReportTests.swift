import Foundation
import Testing
import WirelatCore

func probeReply(_ seq: Int, _ outcome: ProbeOutcome, _ rttMicroseconds: Double? = nil, clock: ProbeClock = .wire,
                sendToReplyMicroseconds: Double? = nil) -> ProbeReply {
    var r = ProbeReply(seq: seq, outcome: outcome, rttNanoseconds: rttMicroseconds.map { UInt64($0 * 1000) },
                       clock: rttMicroseconds == nil ? nil : clock)
    r.sendToReplyNanoseconds = sendToReplyMicroseconds.map { UInt64($0 * 1000) }
    return r
}

@Suite("Probe reports and text")
struct ProbeReportTests {
    @Test("first-probe rule: apart only when > 2× the later median and ≥ 20 µs above it")
    func firstProbeRule() throws {
        let us: (Double) -> UInt64? = { UInt64($0 * 1000) }
        let slow = try #require(FirstProbeVerdict.evaluate([us(350), us(45), us(44), us(46)]))
        #expect(slow.apart && slow.restMedianNanoseconds == 45_000)
        #expect(FirstProbeVerdict.evaluate([us(60), us(45), us(44)])?.apart == false, "jitter, not 2×")
        #expect(FirstProbeVerdict.evaluate([us(25), us(10), us(10)])?.apart == false, "2.5× but only 15 µs: below the floor")
        #expect(FirstProbeVerdict.evaluate([us(31), us(10), us(11), us(12)])?.apart == true)
        #expect(FirstProbeVerdict.evaluate([nil, us(10), us(10)]) == nil, "probe 1 unanswered")
        #expect(FirstProbeVerdict.evaluate([us(300), us(10), nil]) == nil, "fewer than two later answers")
        #expect(FirstProbeVerdict.evaluate([]) == nil)
        // An even count takes the lower middle value.
        #expect(FirstProbeVerdict.evaluate([us(1), us(40), us(10), us(30), us(20)])?.restMedianNanoseconds == 20_000)
    }

    @Test("a SYN probe report: counts, loss, label, first probe apart by its send-to-reply time, steady state without it")
    func synReport() throws {
        let replies = [
            probeReply(0, .synAck, 40, sendToReplyMicroseconds: 400),
            probeReply(1, .synAck, 41, sendToReplyMicroseconds: 50),
            probeReply(2, .reset, 39, sendToReplyMicroseconds: 49),
            probeReply(3, .timeout),
            probeReply(4, .synAck, 42, clock: .app, sendToReplyMicroseconds: 52),
        ]
        let r = ProbeReport(method: .tcpSYN, target: "10.77.0.2:1521", socket: "raw", replies: replies,
                            intervalNanoseconds: 1_000_000_000, timeoutNanoseconds: 1_000_000_000, durationNanoseconds: 4_000_000_000)
        #expect(r.sent == 5 && r.lost == 1 && r.samples == 4)
        #expect(r.outcomes == ["SA": 3, "RA": 1, "timeout": 1])
        #expect(r.label == "SYN→SYN-ACK/RST RTT")
        #expect(r.clock == .wire, "rtt_ns keeps the clock most probes had when neither covers all")
        #expect(r.wireRTT?.count == 3 && r.appRTT?.count == 1)
        #expect(r.wireClockMissing == "1 of 4 answered probes: not measured")
        #expect(r.rttNanoseconds.min == 39_000 && r.rttNanoseconds.max == 42_000)
        let first = try #require(r.firstProbe)
        #expect(first.apart && first.firstNanoseconds == 400_000)
        let steady = try #require(r.steadyRTTNanoseconds)
        #expect(steady.count == 3 && steady.min == 39_000)
        #expect(r.anythingAnswered)

        let closed = ProbeReport(method: .tcpSYN, target: "t", socket: "raw", replies: [probeReply(0, .reset, 10)],
                                 intervalNanoseconds: 0, timeoutNanoseconds: 0, durationNanoseconds: 0)
        #expect(closed.label == "SYN→RST RTT")
        let filtered = ProbeReport(method: .tcpSYN, target: "t", socket: "raw", replies: [probeReply(0, .timeout)],
                                   intervalNanoseconds: 0, timeoutNanoseconds: 0, durationNanoseconds: 0)
        #expect(!filtered.anythingAnswered && filtered.samples == 0 && filtered.rttNanoseconds == .empty)
    }

    @Test("the JSON has INTERFACE.md's keys: command, method, target, samples, rtt_ns{…}, sent, lost, replies")
    func json() throws {
        let r = ProbeReport(method: .icmpEcho, target: "10.77.0.2", socket: "ping",
                            replies: [probeReply(1, .reply, 45), probeReply(2, .timeout)],
                            intervalNanoseconds: 1, timeoutNanoseconds: 1, payloadBytes: 56, durationNanoseconds: 1)
        let data = try JSONEncoder().encode(r)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["command"] as? String == "probe")
        #expect(object["method"] as? String == "icmp-echo")
        #expect(object["target"] as? String == "10.77.0.2")
        for key in ["samples", "sent", "lost", "replies", "rtt_ns"] { #expect(object[key] != nil, "\(key)") }
        let rtt = try #require(object["rtt_ns"] as? [String: Any])
        #expect(Set(rtt.keys) == ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"])
        let replies = try #require(object["replies"] as? [[String: Any]])
        #expect(replies.first?["result"] as? String == "reply")
        #expect(replies.last?["result"] as? String == "timeout")
        var expected = r
        expected.rttNanoseconds.count = 0 // travels as "samples", not inside rtt_ns
        expected.wireRTT?.count = 0
        #expect(try JSONDecoder().decode(ProbeReport.self, from: data) == expected)
    }

    @Test("hping3's line, field for field; IPv6 without DF and id; a timeout line")
    func hpingLines() {
        var r = probeReply(0, .synAck, 87)
        r.length = 44; r.ttl = 64; r.dontFragment = true; r.ipID = 0; r.sourcePort = 1521; r.flags = "SA"; r.window = 64240
        #expect(ProbeText.line(r, method: .tcpSYN, host: "10.77.0.2", port: 1521, timeoutNanoseconds: 1_000_000_000)
            == "len=44 ip=10.77.0.2 ttl=64 DF id=0 sport=1521 flags=SA seq=0 win=64240 rtt=0.087 ms clock=wire")
        r.setClocks(wire: 87_000, app: 130_000)
        #expect(ProbeText.line(r, method: .tcpSYN, host: "10.77.0.2", port: 1521, timeoutNanoseconds: 1_000_000_000)
            == "len=44 ip=10.77.0.2 ttl=64 DF id=0 sport=1521 flags=SA seq=0 win=64240 rtt=0.087 ms clock=wire app=0.130 ms")
        r.setClocks(wire: 87_000, app: nil)
        r.dontFragment = nil; r.ipID = nil; r.length = 64
        #expect(ProbeText.line(r, method: .tcpSYN, host: "fd00:77::2", port: 1521, timeoutNanoseconds: 1_000_000_000)
            == "len=64 ip=fd00:77::2 ttl=64 sport=1521 flags=SA seq=0 win=64240 rtt=0.087 ms clock=wire")
        #expect(ProbeText.line(probeReply(3, .timeout), method: .tcpSYN, host: "10.77.0.2", port: 1521, timeoutNanoseconds: 1_000_000_000)
            == "timeout ip=10.77.0.2 dport=1521 seq=3 (no reply within 1s)")
        var refused = probeReply(1, .refused, 50, clock: .app)
        refused.localPort = 40000
        #expect(ProbeText.line(refused, method: .tcpConnect, host: "10.77.0.2", port: 1521, timeoutNanoseconds: 1)
            == "refused ip=10.77.0.2 dport=1521 sport=40000 flags=RA seq=1 rtt=0.050 ms clock=app")
    }

    @Test("ping's line and its time= precision (iputils ping_common.c)")
    func pingLines() {
        var r = probeReply(1, .reply, 45)
        r.length = 64; r.ttl = 64
        #expect(ProbeText.line(r, method: .icmpEcho, host: "10.77.0.2", port: nil, timeoutNanoseconds: 1)
            == "64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.045 ms clock=wire")
        r.setClocks(wire: 10_000, app: 52_000, ping: 45_000)
        #expect(ProbeText.line(r, method: .icmpEcho, host: "10.77.0.2", port: nil, timeoutNanoseconds: 1)
            == "64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.045 ms clock=ping wire=0.010 ms app=0.052 ms",
                "time= is ping's clock, as iputils ping prints it")
        #expect(ProbeText.line(probeReply(4, .timeout), method: .icmpEcho, host: "10.77.0.2", port: nil, timeoutNanoseconds: 1)
            == "no answer yet for icmp_seq=4")
        #expect(ProbeText.pingTime(45_999) == "0.045")
        #expect(ProbeText.pingTime(999_999) == "0.999")
        #expect(ProbeText.pingTime(1_234_000) == "1.23")
        #expect(ProbeText.pingTime(12_345_000) == "12.3")
        #expect(ProbeText.pingTime(123_456_000) == "123")
    }

    @Test("ping's statistics block, then percentiles, clock, and the first probe apart")
    func pingSummary() {
        let replies = [probeReply(1, .reply, 45, sendToReplyMicroseconds: 350), probeReply(2, .reply, 45, sendToReplyMicroseconds: 60),
                       probeReply(3, .reply, 44, sendToReplyMicroseconds: 58), probeReply(4, .timeout)]
        let r = ProbeReport(method: .icmpEcho, target: "10.77.0.2", socket: "raw", replies: replies, intervalNanoseconds: 1_000_000_000,
                            timeoutNanoseconds: 1_000_000_000, payloadBytes: 56, durationNanoseconds: 3_004_000_000)
        let text = ProbeText.summary(r, host: "10.77.0.2")
        #expect(text.contains("--- 10.77.0.2 ping statistics ---\n4 packets transmitted, 3 received, 25% packet loss, time 3004ms\n"))
        #expect(text.contains("rtt min/avg/max/mdev = 0.044/0.044/0.045/0.000 ms\n"))
        #expect(text.contains("ICMP echo→echo-reply RTT, 3 samples; the lines above are the wire clock, rtt_ns the wire clock\n"))
        #expect(text.contains("\nwire            44.0     45.0"))
        #expect(text.contains("wire: kernel software timestamps"))
        #expect(text.contains("ping clock missing: not measured\n"))
        #expect(text.contains("first probe 0.350 ms from the send call to the reply"))
        #expect(text.contains("steady state p50 0.044 ms"))
    }

    @Test("two clocks: each its own distribution, rtt_ns the wire, the host overhead named, JSON keys as INTERFACE.md's")
    func twoClocks() throws {
        func reply(_ seq: Int, wire: UInt64?, app: UInt64, ping: UInt64?) -> ProbeReply {
            var r = ProbeReply(seq: seq, outcome: .reply)
            r.setClocks(wire: wire, app: app, ping: ping)
            if wire == nil { r.wireClockMissing = "no TX timestamp on the error queue (the device gives none)" }
            return r
        }
        let replies = (1...5).map { reply($0, wire: UInt64(10_000 + $0 * 100), app: UInt64(50_000 + $0 * 100), ping: UInt64(30_000 + $0 * 100)) }
        let r = ProbeReport(method: .icmpEcho, target: "10.77.0.2", socket: "ping", replies: replies,
                            intervalNanoseconds: 1, timeoutNanoseconds: 1, durationNanoseconds: 1)
        #expect(r.clock == .wire && r.rttNanoseconds == r.wireRTT)
        let near: (UInt64?, UInt64) -> Bool = { v, want in v.map { Double($0) >= Double(want) * 0.99 && Double($0) <= Double(want) * 1.01 } ?? false }
        #expect(near(r.wireRTT?.p50, 10_300) && near(r.pingRTT?.p50, 30_300) && near(r.appRTT?.p50, 50_300))
        let overhead = try #require(r.hostOverheadP50Nanoseconds)
        #expect(r.wireClockMissing == nil && r.pingClockMissing == nil && r.appClockMissing == nil)
        let text = ProbeText.summary(r, host: "10.77.0.2")
        #expect(text.contains("host overhead (app − wire) p50 \(ProbeText.microseconds(Double(overhead))): system calls and wake-ups on this host\n"))
        #expect(overhead > 39_000 && overhead < 41_000)
        #expect(text.contains("rtt min/avg/max/mdev = 0.030/0.030/0.030/0.000 ms\n"), "ping's summary on ping's clock")
        #expect(text.contains("the lines above are the ping clock, rtt_ns the wire clock"))
        let rows = text.split(separator: "\n").filter { ["wire ", "ping ", "app "].contains(where: $0.hasPrefix) }
        #expect(rows.count == 3)
        for row in rows { #expect(row.split(separator: " ").count == 9, "clock name and 8 columns: \(row)") }

        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
        #expect(object["clock"] as? String == "wire")
        for key in ["rtt_ns", "wire_rtt_ns", "app_rtt_ns", "ping_rtt_ns"] {
            let q = try #require(object[key] as? [String: Any], "\(key)")
            #expect(Set(q.keys) == ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"])
        }
        let first = try #require((object["replies"] as? [[String: Any]])?.first)
        #expect(first["wire_rtt_ns"] as? Int == 10_100 && first["app_rtt_ns"] as? Int == 50_100 && first["ping_rtt_ns"] as? Int == 30_100)

        // No TX timestamps: wire absent with its reason, rtt_ns the app clock, no overhead line.
        let noWire = (1...3).map { reply($0, wire: nil, app: 50_000, ping: 30_000) }
        let m = ProbeReport(method: .icmpEcho, target: "10.77.0.2", socket: "ping", replies: noWire,
                            intervalNanoseconds: 1, timeoutNanoseconds: 1, durationNanoseconds: 1)
        #expect(m.clock == .app && m.wireRTT == nil && m.rttNanoseconds == m.appRTT)
        #expect(m.wireClockMissing == "no TX timestamp on the error queue (the device gives none)")
        let missing = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(m)) as? [String: Any])
        #expect(missing["wire_rtt_ns"] == nil && missing["clock"] as? String == "app")
        #expect(missing["wire_clock_missing"] as? String == "no TX timestamp on the error queue (the device gives none)")
        let mText = ProbeText.summary(m, host: "10.77.0.2")
        #expect(mText.contains("wire clock missing: no TX timestamp") && !mText.contains("host overhead"))
    }

    @Test("--samples lines carry each clock measured; --hgrm sections parse back to the JSON's percentiles within the histogram's precision")
    func samplesAndHgrm() throws {
        var replies: [ProbeReply] = []
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for i in 1...2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let wire = 8_000 + (state >> 33) % 20_000
            var r = ProbeReply(seq: i, outcome: .reply)
            r.setClocks(wire: wire, app: wire + 20_000 + (state >> 50) % 5_000, ping: wire + 12_000)
            r.timeNanoseconds = 1_780_000_000_000_000_000 + Int64(i) * 1_000_000
            replies.append(r)
        }
        replies.append(ProbeReply(seq: 2001, outcome: .timeout))
        let report = ProbeReport(method: .icmpEcho, target: "10.77.0.2", socket: "raw", replies: replies,
                                 intervalNanoseconds: 1, timeoutNanoseconds: 1, durationNanoseconds: 1)

        let lines = replies.compactMap { $0.sampleLine(method: .icmpEcho) }
        #expect(lines.count == 2000, "the timeout has no sample")
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(Set(first.keys) == ["method", "time_ns", "wire_rtt_ns", "app_rtt_ns", "ping_rtt_ns"])
        #expect(first["method"] as? String == "icmp-echo" && first["time_ns"] as? Int == 1_780_000_000_001_000_000)
        #expect(first["wire_rtt_ns"] as? Int == Int(replies[0].wireRTTNanoseconds!))
        var appOnly = ProbeReply(seq: 0, outcome: .connected)
        appOnly.setClocks(wire: nil, app: 120_000)
        #expect(appOnly.sampleLine(method: .tcpConnect) == "{\"method\":\"tcp-connect\",\"time_ns\":0,\"app_rtt_ns\":120000}",
                "a clock missing for a sample is left out")

        let text = report.hgrm()
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        var sections: [String: [(milliseconds: Double, percentile: Double)]] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#[method=") {
                let clock = line.split(separator: "clock=").last.map { String($0.dropLast()) }
                #expect(line.hasPrefix("#[method=icmp-echo clock="))
                current = clock
                sections[clock ?? "", default: []] = []
                continue
            }
            let fields = line.split(separator: " ")
            guard let c = current, fields.count >= 3, let v = Double(fields[0]), let p = Double(fields[1]) else { continue }
            sections[c, default: []].append((v, p))
        }
        #expect(Set(sections.keys) == ["wire", "ping", "app"])
        for (clock, points) in sections {
            let summary = try #require(object["\(clock)_rtt_ns"] as? [String: Any])
            for (percentile, key) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
                let expected = Double(try #require(summary[key] as? Int))
                let point = try #require(points.first { $0.percentile >= percentile })
                // Three significant digits: values within 0.1% of each other share a bucket.
                #expect(abs(point.milliseconds * 1e6 - expected) <= expected * 0.002 + 1_000, "\(clock) \(key): .hgrm \(point.milliseconds) ms, JSON \(expected) ns")
            }
        }
    }
}
