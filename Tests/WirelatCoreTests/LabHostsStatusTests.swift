import Foundation
import Testing
import WirelatCore

/// The status of a lab made with `--hosts`: the same schema as the two-host lab's, plus the
/// hosts, the router and each direction's own delay, written by hand and by the encoder alike.
@Suite("Lab status schema, --hosts")
struct LabHostsStatusTests {
    static func sample() -> LabStatus {
        let letters = ["a", "b", "c"]
        let delays: [UInt64] = [200_000, 400_000, 600_000]
        var directions: [LabDirectionStatus] = []
        for (letter, delay) in zip(letters, delays) { directions.append(LabDirectionStatus(direction: "\(letter)>router", delayNanoseconds: delay)) }
        for (letter, delay) in zip(letters, delays) { directions.append(LabDirectionStatus(direction: "router>\(letter)", delayNanoseconds: delay)) }
        directions[1].readPackets = 7
        directions[1].sentPackets = 7
        let hosts = zip(letters.indices, zip(letters, delays)).map { index, entry in
            LabHostStatus(letter: entry.0, namespace: "wirelat-\(entry.0)", ipv4: "10.77.0.\(index + 1)", ipv6: "fd00:77::\(index + 1)",
                          delayNanoseconds: entry.1)
        }
        var status = LabStatus(
            pid: 99, startedNanoseconds: 1_700_000_000_000_000_000, updatedNanoseconds: 1_700_000_000_500_000_000,
            delayNanoseconds: 600_000, jitterNanoseconds: 0, distribution: "uniform", reorder: false, lossPercent: 0,
            rateBitsPerSecond: 0, queueLimitPackets: 1000, seed: 3, directions: directions, hosts: hosts,
            router: LabRouterStatus(namespace: "wirelat-router", ipv4: "10.77.0.254", ipv6: "fd00:77::254"))
        status.sequence = 5
        status.sequenceEnd = 5
        return status
    }

    @Test("hosts, router and per-direction delays survive encode → decode and the hand-built text")
    func roundTrip() throws {
        let status = Self.sample()
        let encoded = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(LabStatus.self, from: encoded) == status)
        #expect(LabStatus.decode(status.json) == status)
        let decoded = try #require(LabStatus.decode(status.json))
        #expect(decoded.hosts?.map(\.delayNanoseconds) == [200_000, 400_000, 600_000])
        #expect(decoded.router?.namespace == "wirelat-router")
        #expect(decoded.directions.map(\.delayNanoseconds) == [200_000, 400_000, 600_000, 200_000, 400_000, 600_000])
    }

    @Test("the hand-built text has the encoder's keys for hosts, router and directions; the two-host lab's text has none of the new ones")
    func sameKeys() throws {
        let status = Self.sample()
        let handBuilt = try #require(try JSONSerialization.jsonObject(with: Data(status.json.utf8)) as? [String: Any])
        let encoded = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any])
        #expect(Set(handBuilt.keys) == Set(encoded.keys))
        let first = { (o: [String: Any], key: String) in ((o[key] as? [[String: Any]]) ?? [[:]])[0] }
        #expect(Set(first(handBuilt, "hosts").keys) == Set(first(encoded, "hosts").keys))
        #expect(Set(first(handBuilt, "directions").keys) == Set(first(encoded, "directions").keys))
        #expect(Set((handBuilt["router"] as? [String: Any] ?? [:]).keys) == ["namespace", "ipv4", "ipv6"])
        #expect(first(handBuilt, "hosts")["delay_ns"] as? Int == 200_000)

        var pair = status
        pair.hosts = nil
        pair.router = nil
        pair.directions = [LabDirectionStatus(direction: "a>b"), LabDirectionStatus(direction: "b>a")]
        let pairText = pair.json
        #expect(!pairText.contains("\"hosts\"") && !pairText.contains("\"router\"") && !pairText.contains("\"delay_ns\":null"))
        let pairObject = try #require(try JSONSerialization.jsonObject(with: Data(pairText.utf8)) as? [String: Any])
        #expect(first(pairObject, "directions")["delay_ns"] == nil)
    }

    @Test("the round trip between two hosts is twice the sum of their spoke delays")
    func roundTripFormula() {
        #expect(labRoundTripNanoseconds(200_000, 800_000) == 2_000_000)
        #expect(labRoundTripNanoseconds(0, 0) == 0)
    }
}
