/// Who probes whom in a mesh of agents when each host should be probed by K others rather
/// than by all: highest-random-weight (rendezvous) hashing, Thaler and Ravishankar 1998.
///
/// For every host j, the K other hosts with the highest ``score(prober:target:)`` probe j.
/// So every host is probed by exactly min(K, N−1) others, each agent probes about K hosts
/// (a binomial spread around K), every agent computes the same assignment from the same
/// list of names, and when a host joins or leaves only its own pairs change, plus one
/// replacement prober for each host it probed (or one displaced prober for each host it
/// now probes). The score is a fixed function of the two names' UTF-8 bytes, the same on
/// every machine and in every process (Swift's `Hasher` is seeded per process).
public enum Rendezvous {
    /// FNV-1a, 64 bits (Fowler, Noll, Vo; draft-eastlake-fnv): offset basis
    /// 0xcbf29ce484222325, prime 0x100000001b3, xor then multiply for every byte.
    public static func fnv1a64<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        fnv1a64(continuing: fnvOffsetBasis, bytes)
    }

    private static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325

    private static func fnv1a64<Bytes: Sequence<UInt8>>(continuing start: UInt64, _ bytes: Bytes) -> UInt64 {
        var hash = start
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// One step of SplitMix64 (Steele, Lea, Flood 2014) from state `x`: add the golden
    /// gamma 0x9e3779b97f4a7c15, then the variant-13 finaliser. Spreads FNV's weak low bits
    /// over the whole word. `splitmix64(0)` is 0xe220a8397b1dcdaf.
    public static func splitmix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// The weight of the pair: splitmix64(FNV-1a-64(prober's UTF-8, 0x00, target's UTF-8)).
    public static func score(prober: String, target: String) -> UInt64 {
        let head = fnv1a64(continuing: fnvOffsetBasis, prober.utf8)
        let separated = fnv1a64(continuing: head, CollectionOfOne(UInt8(0)))
        return splitmix64(fnv1a64(continuing: separated, target.utf8))
    }

    /// Whether `a` outranks `b` as a prober of some target: higher score, ties (never
    /// seen in practice) broken by the smaller name so the order stays total.
    private static func outranks(_ a: (name: String, score: UInt64), _ b: (name: String, score: UInt64)) -> Bool {
        a.score != b.score ? a.score > b.score : a.name < b.name
    }

    /// The `count` hosts of `hosts` (other than `target`, each name once) that probe
    /// `target`, highest score first. A `count` of 0 or less means all of them.
    public static func probers(of target: String, among hosts: [String], count: Int) -> [String] {
        var seen = Set<String>()
        var ranked: [(name: String, score: UInt64)] = []
        for host in hosts where host != target && seen.insert(host).inserted {
            ranked.append((host, score(prober: host, target: target)))
        }
        ranked.sort(by: outranks)
        let k = count > 0 ? min(count, ranked.count) : ranked.count
        return ranked.prefix(k).map(\.name)
    }

    /// The hosts of `hosts` that `me` probes, in the order of `hosts`: those j for which
    /// `me` is one of ``probers(of:among:count:)`` with `count` = `fanout`. A `fanout` of
    /// 0 or less means every other host.
    ///
    /// When `me` is not in `hosts` (an agent outside the mesh), it is ranked as if it
    /// were: it probes about `fanout` hosts, and the members' assignment, which does not
    /// know about it, is unchanged.
    public static func targets(of me: String, among hosts: [String], fanout: Int) -> [String] {
        var seen = Set<String>()
        let unique = hosts.filter { seen.insert($0).inserted }
        guard fanout > 0 else { return unique.filter { $0 != me } }
        var result: [String] = []
        for target in unique where target != me {
            let mine = (name: me, score: score(prober: me, target: target))
            var better = 0
            for other in unique where other != target && other != me {
                if outranks((other, score(prober: other, target: target)), mine) {
                    better += 1
                    if better >= fanout { break }
                }
            }
            if better < fanout { result.append(target) }
        }
        return result
    }
}
