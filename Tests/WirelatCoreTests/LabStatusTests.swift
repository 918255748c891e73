import Foundation
import Testing
import WirelatCore

/// The lab's status file has one schema: the hand-built text the delay line writes and
/// JSONEncoder's output both decode to the same value.
@Suite("Lab status schema")
struct LabStatusTests {
    static func sample(lastWriteError: String? = nil) -> LabStatus {
        var a = LabDirectionStatus(direction: "a>b")
        a.readPackets = 12
        a.readBytes = 3400
        a.sentPackets = 11
        a.sentBytes = 3300
        a.droppedLoss = 1
        a.droppedQueue = 2
        a.writeErrors = lastWriteError == nil ? 0 : 1
        a.lastWriteError = lastWriteError
        a.depth = 3
        a.backlog = 1
        a.maxDepth = 9
        a.forwardedAtOnce = 5
        a.forwardedByTimer = 6
        a.ownLatency.samples = 11
        a.ownLatency.meanNanoseconds = 2345.5
        a.ownLatency.p50Nanoseconds = 2000
        a.ownLatency.p99Nanoseconds = 9000
        a.ownLatency.maxNanoseconds = 12000
        let b = LabDirectionStatus(direction: "b>a")
        var status = LabStatus(
            pid: 4242, startedNanoseconds: 1_700_000_000_000_000_000, updatedNanoseconds: 1_700_000_001_000_000_000,
            delayNanoseconds: 300_000, jitterNanoseconds: 20_000, distribution: "normal", reorder: true,
            lossPercent: 0.5, rateBitsPerSecond: 10_000_000, queueLimitPackets: 1000, seed: 7, realtimePriority: 10,
            wakeEarlyNanoseconds: 50_000, pollLingerNanoseconds: .max, stopped: false, directions: [a, b])
        status.sequence = 17
        status.sequenceEnd = 17
        return status
    }

    @Test("encode → decode gives the same status; the hand-built text decodes to it too",
          arguments: [nil, "No buffer space available", "quote \" backslash \\ newline \n tab \t"])
    func roundTrip(lastWriteError: String?) throws {
        let status = Self.sample(lastWriteError: lastWriteError)
        let encoded = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(LabStatus.self, from: encoded) == status)
        #expect(LabStatus.decode(String(decoding: encoded, as: UTF8.self)) == status)
        #expect(LabStatus.decode(status.json) == status)
        #expect(status.json.hasSuffix("\n"))
    }

    @Test("the hand-built text has exactly the encoder's keys, seq first and seq_end last")
    func sameKeys() throws {
        let status = Self.sample(lastWriteError: "x")
        let handBuilt = try #require(try JSONSerialization.jsonObject(with: Data(status.json.utf8)) as? [String: Any])
        let encoded = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any])
        #expect(Set(handBuilt.keys) == Set(encoded.keys))
        let direction = { (o: [String: Any]) in ((o["directions"] as? [[String: Any]]) ?? [])[0] }
        #expect(Set(direction(handBuilt).keys) == Set(direction(encoded).keys))
        let latency = { (o: [String: Any]) in (direction(o)["own_latency"] as? [String: Any]) ?? [:] }
        #expect(Set(latency(handBuilt).keys) == Set(latency(encoded).keys))
        #expect(status.json.hasPrefix("{\"seq\":17,\"command\":\"lab\","))
        #expect(status.json.hasSuffix(",\"seq_end\":17}\n"))
    }

    @Test("a status caught half-written (seq differs from seq_end) is refused")
    func halfWritten() {
        var status = Self.sample()
        let text = status.json
        status.sequence = 18
        let torn = String(text.prefix(text.count / 2)) + String(status.json.suffix(status.json.count - text.count / 2))
        #expect(LabStatus.decode(torn) == nil)
    }
}
