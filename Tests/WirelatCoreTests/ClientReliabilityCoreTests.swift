import Testing
import WirelatCore

/// Issue 10's parse-level items: messages a user reads when a value is refused.
@Suite("Issue 10: refused values and error wording")
struct ClientReliabilityCoreTests {
    @Test("a refused duration of 2^64−1 ns is spelled exactly, not clamped to Int64's 9223372036.854775807s")
    func largestDurationSpelledExactly() {
        // 18446744073.709551615s and 307445734.56182586025m are equally short; the larger unit wins.
        #expect(formatDuration(nanoseconds: UInt64.max) == "307445734.56182586025m")
        #expect(formatDuration(nanoseconds: 18_446_744_073_000_000_000) == "18446744073s")
        #expect(formatDuration(nanoseconds: 30 * 86_400 * 1_000_000_000) == "720h")
        #expect(formatDuration(nanoseconds: 0) == "0s")
        #expect(formatDuration(.milliseconds(-1500)) == "-1.5s")
    }

    @Test("--rate 0 is refused with the range that is really accepted")
    func rateZeroMessage() throws {
        var s = ClientSettings(host: "127.0.0.1")
        s.rate = 0
        let message = try #require(s.validationError())
        #expect(!message.contains("between 0 and"), "\(message)")
        #expect(message.contains("more than 0") && message.contains("10000000") && message.contains("got 0"), "\(message)")
        s.rate = 0.5
        #expect(s.validationError() == nil)
    }

    @Test("async mode counts messages, not round trips, in its errors")
    func asyncWording() {
        var s = ClientSettings(host: "127.0.0.1")
        #expect(s.exchanges(1) == "1 round trip")
        #expect(s.exchanges(3) == "3 round trips")
        s.mode = .async
        #expect(s.exchanges(1) == "1 message")
        #expect(s.exchanges(4096) == "4096 messages")
    }

    @Test("compare: every probe of every TCP method lost is a failure even when ICMP answered")
    func everyTCPProbeLost() {
        let icmp = compareRow(.icmpEcho, p50Microseconds: 35)
        let lostSYN = compareRow(.tcpSYN, p50Microseconds: 38, count: 5, lostEvery: 1)
        let lostConnect = compareRow(.tcpConnect, p50Microseconds: 52, count: 5, lostEvery: 1)
        let someConnect = compareRow(.tcpConnect, p50Microseconds: 52, count: 5, lostEvery: 2)
        let allLost = CompareReport(target: "10.77.0.2:1521", rounds: 5, methods: [icmp, lostSYN, lostConnect], notes: [])
        #expect(allLost.everyTCPProbeLost)
        #expect(allLost.tcpMethodNames == ["tcp-syn", "tcp-connect"])
        #expect(!CompareReport(target: "x", rounds: 5, methods: [icmp, lostSYN, someConnect], notes: []).everyTCPProbeLost)
        #expect(!CompareReport(target: "x", rounds: 5, methods: [icmp], notes: []).everyTCPProbeLost)
    }
}
