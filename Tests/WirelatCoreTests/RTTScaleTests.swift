import Foundation
import Testing
import WirelatCore

@Suite("RTT at scale")
struct RTTScaleTests {
    /// Two million SYNs from distinct flows, none answered, with the default limits:
    /// the table stays at 100 000 flows, every SYN is counted as unanswered, and memory
    /// stays far below 200 MB.
    @Test func memoryRTTTwoMillionUnansweredSYNs() {
        var engine = RTTEngine()
        // IPv4 10.x.y.z:p → 10.99.0.1:8080, SYN, 20-byte header.
        var frame: [UInt8] = [0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 0, 10, 99, 0, 1,
                              0, 0, 0x1F, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0]
        var time = RTTHarness.epochNanoseconds
        for i in 0..<2_000_000 {
            frame[13] = UInt8(truncatingIfNeeded: i >> 16)
            frame[14] = UInt8(truncatingIfNeeded: i >> 8)
            frame[15] = UInt8(truncatingIfNeeded: i)
            frame[20] = UInt8(truncatingIfNeeded: i >> 24)
            frame[21] = UInt8(truncatingIfNeeded: i &* 7)
            time += 1000
            frame.withUnsafeBytes { raw in
                engine.process(PacketDecoder.decode(raw, linkType: .rawLinkType), frame: raw, timeNanoseconds: time)
            }
        }
        let report = engine.report(target: "synthetic")
        #expect(report.counters.flows == 2_000_000)
        #expect(report.counters.activeFlows == 100_000)
        #expect(report.counters.evicted == 1_900_000)
        #expect(report.counters.unanswered == 2_000_000)
        #expect(report.method(.handshake)?.unanswered == 2_000_000)
        // The engine's own storage is what stays bounded; the process's peak RSS
        // (other suites run alongside) is measured by scripts/bench-rtt.
        #expect(engine.stateBytes < 40 << 20)
    }

    /// Random SYNs and SYN-ACKs over 200 four-tuples through a table of 64 flows, checked
    /// against a plain least-recently-used model: every sample, unmatched answer and
    /// eviction is where the model puts it (exercises the index's deletions too).
    @Test func flowTableRTTAgreesWithAnLRUModel() {
        var configuration = RTTConfiguration()
        configuration.maximumFlows = 64
        var h = RTTHarness(configuration)
        enum State { case awaiting, answered, unopened }
        var model: [(port: UInt16, state: State)] = []  // least recently used first
        var expectedSamples = 0
        var expectedUnmatched = 0
        var expectedEvictions = 0
        var rng = SystemRandomNumberGenerator()
        let server = RTTEndpoint("10.0.0.2", 7001)

        func touch(_ port: UInt16, _ update: (State?) -> State) {
            let existing = model.firstIndex { $0.port == port }
            let state = update(existing.map { model[$0].state })
            if let existing { model.remove(at: existing) } else if model.count == 64 {
                model.removeFirst()
                expectedEvictions += 1
            }
            model.append((port, state))
        }

        for step in 0..<20_000 {
            let port = UInt16(1000 + Int.random(in: 0..<200, using: &rng))
            let client = RTTEndpoint("10.0.0.1", port)
            if Bool.random(using: &rng) {
                h.feed(RTTWire.tcp(client, server, seq: UInt32(port), flags: [.syn]), at: Int64(step))
                touch(port) { state in state == .answered ? .answered : .awaiting }
            } else {
                h.feed(RTTWire.tcp(server, client, seq: 9, ack: UInt32(port) + 1, flags: [.syn, .ack]), at: Int64(step))
                touch(port) { state in
                    switch state {
                    case .awaiting:
                        expectedSamples += 1
                        return .answered
                    case .answered:
                        return .answered
                    case .unopened, nil:
                        expectedUnmatched += 1
                        return .unopened
                    }
                }
            }
        }
        let report = h.engine.report(target: "t")
        #expect(h.samples(.handshake).count == expectedSamples)
        #expect(report.method(.handshake)?.unmatched == UInt64(expectedUnmatched))
        #expect(report.counters.evicted == UInt64(expectedEvictions))
        #expect(report.counters.activeFlows == 64)
    }
}
