import Foundation
import Testing
import WirelatCore

private let ms: UInt64 = 1_000_000
private let us: UInt64 = 1_000

private func settings(delay: UInt64 = 0, jitter: UInt64 = 0, distribution: JitterDistribution = .uniform,
                      loss: Double = 0, rate: UInt64 = 0, queue: Int = 1000, reorder: Bool = false) -> LinkSettings {
    var s = LinkSettings()
    s.delayNanoseconds = delay
    s.jitterNanoseconds = jitter
    s.distribution = distribution
    s.lossPercent = loss
    s.rateBitsPerSecond = rate
    s.queueLimitPackets = queue
    s.reorder = reorder
    return s
}

/// Offers `count` packets `spacing` apart from t = 1 s and drains the line as an event loop
/// would (popping whatever is due before each arrival, then the rest): the handles in the
/// order they left and each one's (arrival, deadline).
private func run(_ line: inout DelayLine, count: Int, spacing: UInt64, bytes: Int = 100) -> (order: [Int], times: [Int: (arrival: UInt64, deadline: UInt64)]) {
    var order: [Int] = []
    var times: [Int: (arrival: UInt64, deadline: UInt64)] = [:]
    var now: UInt64 = 1_000_000_000
    for handle in 0..<count {
        while let p = line.popDue(at: now) { order.append(p.handle) }
        switch line.offer(handle: handle, bytes: bytes, at: now) {
        case .forwardNow:
            order.append(handle)
            times[handle] = (now, now)
        case .queued(let deadline):
            times[handle] = (now, deadline)
        case .lost, .queueFull:
            break
        }
        now += spacing
    }
    while let deadline = line.headDeadline {
        now = max(now, deadline)
        while let p = line.popDue(at: now) { order.append(p.handle) }
    }
    return (order, times)
}

@Suite("Delay line model")
struct DelayLineTests {
    @Test("no delay, no rate: every packet is forwarded at once and nothing is held")
    func passThrough() {
        var line = DelayLine(settings: settings(), seed: 1)
        for i in 0..<100 {
            #expect(line.offer(handle: i, bytes: 1500, at: 1_000 + UInt64(i)) == .forwardNow)
        }
        #expect(line.depth == 0)
        #expect(line.counters.admittedPackets == 100)
        #expect(line.counters.admittedBytes == 150_000)
    }

    @Test("a delayed packet leaves exactly at arrival + delay, not before")
    func fixedDelay() {
        var line = DelayLine(settings: settings(delay: 1 * ms), seed: 1)
        #expect(line.offer(handle: 7, bytes: 64, at: 5 * ms) == .queued(deadline: 6 * ms))
        #expect(line.headDeadline == 6 * ms)
        #expect(line.popDue(at: 6 * ms - 1) == nil)
        #expect(line.popDue(at: 6 * ms) == HeldPacket(handle: 7, deadline: 6 * ms, bytes: 64))
        #expect(line.depth == 0)
        #expect(line.headDeadline == nil)
    }

    @Test("jitter without --reorder: packets leave in arrival order and deadlines never decrease",
          arguments: JitterDistribution.allCases)
    func jitterKeepsOrder(distribution: JitterDistribution) {
        var line = DelayLine(settings: settings(delay: 1 * ms, jitter: 500 * us, distribution: distribution), seed: 42)
        let result = run(&line, count: 20_000, spacing: 10 * us)
        #expect(result.order == Array(0..<20_000))
        let deadlines = (0..<20_000).map { result.times[$0]!.deadline }
        #expect(zip(deadlines, deadlines.dropFirst()).allSatisfy { $0 <= $1 })
        if distribution == .uniform {
            // No packet leaves before delay − jitter.
            #expect((0..<20_000).allSatisfy { result.times[$0]!.deadline >= result.times[$0]!.arrival + 500 * us })
        }
    }

    @Test("jitter with --reorder: some packets overtake, and they leave in deadline order")
    func jitterReorders() {
        var line = DelayLine(settings: settings(delay: 1 * ms, jitter: 500 * us, reorder: true), seed: 42)
        let result = run(&line, count: 5_000, spacing: 10 * us)
        #expect(Set(result.order) == Set(0..<5_000))
        #expect(result.order != Array(0..<5_000))
        let deadlines = result.order.map { result.times[$0]!.deadline }
        #expect(zip(deadlines, deadlines.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test("uniform jitter stays within delay ± jitter with mean delay; normal has standard deviation jitter")
    func jitterDistributions() {
        let n = 100_000
        for distribution in JitterDistribution.allCases {
            var line = DelayLine(settings: settings(delay: 10 * ms, jitter: 1 * ms, distribution: distribution, reorder: true), seed: 7)
            var sum = 0.0, sumSquares = 0.0
            var low = UInt64.max, high: UInt64 = 0
            for i in 0..<n {
                guard case .queued(let deadline) = line.offer(handle: i, bytes: 100, at: 0) else {
                    Issue.record("packet \(i) was not queued")
                    return
                }
                _ = line.popDue(at: .max)
                let delay = Double(deadline)
                sum += delay
                sumSquares += delay * delay
                low = min(low, deadline)
                high = max(high, deadline)
            }
            let mean = sum / Double(n)
            let stddev = (sumSquares / Double(n) - mean * mean).squareRoot()
            #expect(abs(mean - 10e6) < 0.02e6, "\(distribution) mean \(mean)")
            switch distribution {
            case .uniform:
                #expect(low >= 9 * ms && high <= 11 * ms)
                #expect(abs(stddev - 1e6 / 3.0.squareRoot()) < 0.02e6, "uniform stddev \(stddev)")
            case .normal:
                #expect(abs(stddev - 1e6) < 0.02e6, "normal stddev \(stddev)")
            }
        }
    }

    @Test("a negative draw is clamped to no delay, never below the arrival time")
    func clampAtZero() {
        var line = DelayLine(settings: settings(delay: 100 * us, jitter: 1 * ms, reorder: true), seed: 3)
        var early = 0, atOnce = 0
        for i in 0..<10_000 {
            switch line.offer(handle: i, bytes: 100, at: 50 * ms) {
            case .queued(let deadline): if deadline < 50 * ms { early += 1 }
            case .forwardNow: atOnce += 1
            default: Issue.record("unexpected drop")
            }
            while line.popDue(at: .max) != nil {}
        }
        #expect(early == 0)
        // delay − jitter < 0 for 45 % of uniform draws: those are due on arrival.
        #expect(atOnce > 4_000 && atOnce < 5_000, "\(atOnce)")
    }

    @Test("rate: serialization time is bytes × 8 / rate, back to back while the link is busy, then the delay")
    func rateSerialization() {
        #expect(DelayLine.serializationNanoseconds(bytes: 1500, rateBitsPerSecond: 10_000_000) == 1_200_000)
        #expect(DelayLine.serializationNanoseconds(bytes: 125, rateBitsPerSecond: 1_000_000) == 1_000_000)
        var line = DelayLine(settings: settings(delay: 1 * ms, rate: 10_000_000), seed: 1)
        let t0: UInt64 = 100 * ms
        #expect(line.offer(handle: 0, bytes: 1500, at: t0) == .queued(deadline: t0 + 1_200_000 + 1 * ms))
        #expect(line.offer(handle: 1, bytes: 1500, at: t0) == .queued(deadline: t0 + 2_400_000 + 1 * ms))
        #expect(line.offer(handle: 2, bytes: 1500, at: t0 + 100 * us) == .queued(deadline: t0 + 3_600_000 + 1 * ms))
        #expect(line.backlog(at: t0 + 1_300_000) == 2)
        // After the link went idle, a packet starts at its own arrival.
        let later = t0 + 50 * ms
        #expect(line.offer(handle: 3, bytes: 100, at: later) == .queued(deadline: later + 80_000 + 1 * ms))
    }

    @Test("rate: fractional nanoseconds are carried, so many small packets do not drift")
    func rateRemainder() {
        // 1 byte at 3 Mbit/s is 2666.67 ns: three of them take exactly 8000 ns.
        var line = DelayLine(settings: settings(rate: 3_000_000), seed: 1)
        var deadlines: [UInt64] = []
        for i in 0..<3 {
            if case .queued(let d) = line.offer(handle: i, bytes: 1, at: 0) { deadlines.append(d) }
        }
        #expect(deadlines == [2666, 5333, 8000])
        // 10⁵ packets of 1000 bytes at 1 Gbit/s: exactly 0.8 s.
        var big = DelayLine(settings: settings(rate: 1_000_000_000, queue: 200_000), seed: 1)
        var last: UInt64 = 0
        for i in 0..<100_000 {
            if case .queued(let d) = big.offer(handle: i, bytes: 1000, at: 0) { last = d }
            _ = big.popDue(at: .max)
        }
        #expect(last == 800_000_000)
    }

    @Test("queue limit: packets beyond it are dropped and counted; room comes back as the link drains")
    func queueLimit() {
        // 1250 bytes at 1 Mbit/s take 10 ms each.
        var line = DelayLine(settings: settings(rate: 1_000_000, queue: 5), seed: 1)
        var admissions: [DelayLineAdmission] = []
        for i in 0..<10 { admissions.append(line.offer(handle: i, bytes: 1250, at: 0)) }
        #expect(admissions.prefix(5).allSatisfy { if case .queued = $0 { true } else { false } })
        #expect(admissions.suffix(5).allSatisfy { $0 == .queueFull })
        #expect(line.counters.droppedQueue == 5)
        #expect(line.counters.admittedPackets == 5)
        #expect(line.backlog(at: 0) == 5)
        #expect(line.backlog(at: 10 * ms) == 4)
        guard case .queued(let deadline) = line.offer(handle: 10, bytes: 1250, at: 10 * ms) else {
            Issue.record("no room after the first packet finished")
            return
        }
        #expect(deadline == 60 * ms)
    }

    @Test("the hold limit bounds memory without a rate")
    func holdLimit() {
        var s = settings(delay: 1000 * ms)
        s.heldLimitPackets = 3
        var line = DelayLine(settings: s, seed: 1)
        let results = (0..<5).map { line.offer(handle: $0, bytes: 100, at: 0) }
        #expect(results.filter { $0 == .queueFull }.count == 2)
        #expect(line.depth == 3)
    }

    @Test("loss: independent per packet, the configured share, the same pattern for the same seed")
    func seededLoss() {
        func pattern(seed: UInt64, loss: Double, count: Int) -> [Bool] {
            var line = DelayLine(settings: settings(loss: loss), seed: seed)
            return (0..<count).map { line.offer(handle: $0, bytes: 100, at: UInt64($0)) == .lost }
        }
        let a = pattern(seed: 99, loss: 10, count: 100_000)
        #expect(a == pattern(seed: 99, loss: 10, count: 100_000))
        #expect(a != pattern(seed: 100, loss: 10, count: 100_000))
        let lost = a.filter { $0 }.count
        #expect(abs(lost - 10_000) < 500, "\(lost) of 100000 lost at 10%")
        // Independence: after a loss, the next packet is lost 10% of the time too.
        var afterLoss = 0, lostAfterLoss = 0
        for i in 1..<a.count where a[i - 1] {
            afterLoss += 1
            if a[i] { lostAfterLoss += 1 }
        }
        #expect(abs(Double(lostAfterLoss) / Double(afterLoss) - 0.10) < 0.015)
        #expect(!pattern(seed: 1, loss: 0, count: 10_000).contains(true))
        #expect(!pattern(seed: 1, loss: 100, count: 10_000).contains(false))
    }

    @Test("a lost packet still took its time on the transmitter")
    func lossAfterSerialization() {
        var line = DelayLine(settings: settings(loss: 100, rate: 1_000_000), seed: 1)
        #expect(line.offer(handle: 0, bytes: 1250, at: 0) == .lost)
        #expect(line.backlog(at: 5 * ms) == 1)
        #expect(line.backlog(at: 10 * ms) == 0)
        #expect(line.counters.droppedLoss == 1)
    }

    @Test("SeededRandom: deterministic, uniform in [0, 1)")
    func seededRandom() {
        var a = SeededRandom(seed: 12345), b = SeededRandom(seed: 12345)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
        var r = SeededRandom(seed: 1)
        var sum = 0.0
        var outside = 0
        for _ in 0..<100_000 {
            let u = r.nextUnit()
            if u < 0 || u >= 1 { outside += 1 }
            sum += u
        }
        #expect(outside == 0)
        #expect(abs(sum / 100_000 - 0.5) < 0.01)
    }

    @Test("rates, percentages and the settings line parse and print as documented")
    func parsing() {
        #expect(parseBitRate("10000000") == 10_000_000)
        #expect(parseBitRate("10M") == 10_000_000)
        #expect(parseBitRate("10mbit") == 10_000_000)
        #expect(parseBitRate("1.5Gbit/s") == 1_500_000_000)
        #expect(parseBitRate("64k") == 64_000)
        #expect(parseBitRate("0") == 0)
        #expect(parseBitRate("fast") == nil)
        #expect(parseBitRate("-5") == nil)
        #expect(parsePercent("10") == 10)
        #expect(parsePercent("0.5%") == 0.5)
        #expect(parsePercent("101") == nil)
        #expect(parsePercent("x") == nil)
        #expect(formatBitRate(10_000_000) == "10 Mbit/s")
        #expect(formatBitRate(1_500_000_000) == "1.5 Gbit/s")
        #expect(formatBitRate(800) == "800 bit/s")
        var s = settings(delay: 1 * ms, loss: 10, rate: 10_000_000)
        s.queueLimitPackets = 100
        #expect(s.summary == "delay 1ms, jitter 0, loss 10%, rate 10 Mbit/s, queue 100 packets")
    }
}
