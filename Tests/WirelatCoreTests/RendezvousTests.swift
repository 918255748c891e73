import Testing
import WirelatCore

/// The agents of a mesh agree on who probes whom without talking to each other: every
/// host is probed by exactly K others, the load is spread, and a host joining or leaving
/// moves only the pairs it must.
@Suite("Rendezvous fan-out")
struct RendezvousTests {
    static let labHosts = (1...100).map { "10.77.0.\($0)" }

    /// Every (prober, target) pair, computed the way the agents do: each from its own view.
    static func pairs(_ hosts: [String], fanout: Int) -> Set<String> {
        var result = Set<String>()
        for me in hosts {
            for target in Rendezvous.targets(of: me, among: hosts, fanout: fanout) {
                result.insert("\(me)>\(target)")
            }
        }
        return result
    }

    @Test("FNV-1a 64 and SplitMix64 match their published values")
    func hashDefinitions() {
        // FNV test vectors (draft-eastlake-fnv, appendix) and SplitMix64's first output
        // from state 0 (Vigna's splitmix64.c).
        #expect(Rendezvous.fnv1a64(Array("".utf8)) == 0xcbf2_9ce4_8422_2325)
        #expect(Rendezvous.fnv1a64(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
        #expect(Rendezvous.fnv1a64(Array("foobar".utf8)) == 0x8594_4171_f739_67e8)
        #expect(Rendezvous.splitmix64(0) == 0xe220_a839_7b1d_cdaf)
    }

    @Test("scores are fixed values, the same in every process and on every machine")
    func determinism() {
        // Computed outside Swift from the definitions: splitmix64(fnv1a64(p ‖ 0x00 ‖ t)).
        #expect(Rendezvous.score(prober: "10.77.0.1", target: "10.77.0.2") == 0xd605_d62f_8cd6_2175)
        #expect(Rendezvous.score(prober: "10.77.0.2", target: "10.77.0.1") == 0x9232_5bc3_98cc_4cd6)
        #expect(Rendezvous.score(prober: "a", target: "b") == 0x58e8_e46b_1f08_5a21)
        #expect(Rendezvous.score(prober: "fd00:77::1", target: "db01") == 0x9a89_5153_1625_4a70)
    }

    @Test("every host is probed by exactly min(K, N−1) others", arguments: [1, 2, 3, 5, 29, 30, 100])
    func coverage(fanout: Int) {
        let hosts = (1...30).map { "host-\($0)" }
        let pairs = Self.pairs(hosts, fanout: fanout)
        for target in hosts {
            let probers = hosts.filter { pairs.contains("\($0)>\(target)") }
            #expect(probers.count == min(fanout, hosts.count - 1), "\(target): \(probers)")
            #expect(Set(probers) == Set(Rendezvous.probers(of: target, among: hosts, count: fanout)))
            #expect(!probers.contains(target))
        }
    }

    @Test("with 100 hosts and K = 5 each agent probes about 5 (printed spread)")
    func balance() {
        for (label, hosts) in [("10.77.0.1-100", Self.labHosts), ("host000-099", (0..<100).map { "host" + String(1000 + $0).dropFirst() })] {
            var load: [String: Int] = [:]
            for me in hosts { load[me] = Rendezvous.targets(of: me, among: hosts, fanout: 5).count }
            let counts = hosts.map { load[$0]! }
            var histogram: [Int: Int] = [:]
            for c in counts { histogram[c, default: 0] += 1 }
            let spread = histogram.keys.sorted().map { "\($0):\(histogram[$0]!)" }.joined(separator: " ")
            print("rendezvous \(label), K=5: targets per agent min \(counts.min()!) max \(counts.max()!); count:agents \(spread)")
            #expect(counts.reduce(0, +) == 500)
            #expect(counts.max()! <= 15)
            // Each agent's load is about Binomial(99, 5/99): P(0) ≈ e⁻⁵, so an idle agent or
            // two among 100 is expected; more than 3 would mean a skewed hash.
            #expect(counts.filter { $0 == 0 }.count <= 3)
            #expect(counts.filter { (2...8).contains($0) }.count >= 80)
        }
    }

    @Test("a host leaving moves only its own pairs and one replacement per host it probed")
    func stabilityOnLeave() {
        let hosts = Array(Self.labHosts.prefix(40))
        let before = Self.pairs(hosts, fanout: 4)
        for leaving in ["10.77.0.1", "10.77.0.17", "10.77.0.40"] {
            let after = Self.pairs(hosts.filter { $0 != leaving }, fanout: 4)
            let gone = before.subtracting(after)
            let new = after.subtracting(before)
            let probedByLeaving = before.filter { $0.hasPrefix(leaving + ">") }.map { String($0.split(separator: ">")[1]) }
            #expect(gone.allSatisfy { $0.split(separator: ">").contains(Substring(leaving)) }, "\(gone)")
            // Each target the leaving host probed gets exactly one new prober; nothing else changes.
            #expect(new.count == probedByLeaving.count)
            #expect(Set(new.map { String($0.split(separator: ">")[1]) }) == Set(probedByLeaving))
        }
    }

    @Test("a host joining takes its own pairs and displaces one prober per host it probes")
    func stabilityOnJoin() {
        let hosts = Array(Self.labHosts.prefix(40))
        let before = Self.pairs(hosts, fanout: 4)
        for joining in ["10.77.0.41", "db01", "fd00:77::99"] {
            let after = Self.pairs(hosts + [joining], fanout: 4)
            let gone = before.subtracting(after)
            let new = after.subtracting(before)
            #expect(new.allSatisfy { $0.split(separator: ">").contains(Substring(joining)) }, "\(new)")
            let probedByJoining = after.filter { $0.hasPrefix(joining + ">") }.map { String($0.split(separator: ">")[1]) }
            #expect(gone.count == probedByJoining.count)
            #expect(Set(gone.map { String($0.split(separator: ">")[1]) }) == Set(probedByJoining))
            #expect(after.filter { $0.hasSuffix(">" + joining) }.count == 4)
        }
    }

    @Test("fanout 0 means every other host; an agent outside the list probes about K")
    func edges() {
        let hosts = ["a", "b", "c", "d"]
        #expect(Rendezvous.targets(of: "b", among: hosts, fanout: 0) == ["a", "c", "d"])
        #expect(Rendezvous.probers(of: "b", among: hosts, count: 0).sorted() == ["a", "c", "d"])
        #expect(Rendezvous.targets(of: "b", among: hosts + ["b", "c"], fanout: 1)
            == Rendezvous.targets(of: "b", among: hosts, fanout: 1))
        let outsider = Rendezvous.targets(of: "zz", among: Self.labHosts, fanout: 5)
        #expect((1...15).contains(outsider.count), "\(outsider)")
        #expect(Rendezvous.targets(of: "a", among: ["a"], fanout: 3).isEmpty)
    }
}
