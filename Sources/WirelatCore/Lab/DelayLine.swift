import Foundation

/// The link `wirelat lab` emulates, the same in both directions.
///
/// The names follow netem(8) where netem has the same knob: `delay`, `jitter`, `loss`,
/// `rate`, `limit`. Unlike netem, the queue limit counts only the packets waiting for the
/// transmitter (a router's buffer), not the ones already on their way.
public struct LinkSettings: Sendable, Equatable, Codable {
    /// One-way propagation delay added to every packet.
    public var delayNanoseconds: UInt64 = 0
    /// Spread of the delay: see ``JitterDistribution``.
    public var jitterNanoseconds: UInt64 = 0
    public var distribution: JitterDistribution = .uniform
    /// Share of packets lost, independently per packet, 0…100.
    public var lossPercent: Double = 0
    /// Line rate in bits per second; 0 means no serialization time at all.
    public var rateBitsPerSecond: UInt64 = 0
    /// Packets that may wait for the transmitter (the one being sent included) before
    /// new ones are dropped. Matters only with a rate.
    public var queueLimitPackets: Int = 1000
    /// Packets one direction may hold in all (waiting and in flight), a bound on memory.
    public var heldLimitPackets: Int = 65536
    /// Let jitter reorder packets. Off: a packet never leaves before the one ahead of it.
    public var reorder = false

    public init() {}

    /// One line for humans: `delay 1ms, jitter 0, loss 0%, rate unlimited, queue 1000`.
    public var summary: String {
        var parts = ["delay \(formatDuration(.nanoseconds(Int64(clamping: delayNanoseconds))))"]
        if jitterNanoseconds > 0 {
            parts.append("jitter \(formatDuration(.nanoseconds(Int64(clamping: jitterNanoseconds)))) \(distribution.rawValue)"
                + (reorder ? " (reordering)" : " (no reordering)"))
        } else {
            parts.append("jitter 0")
        }
        parts.append("loss \(formatPercent(lossPercent))")
        parts.append("rate " + (rateBitsPerSecond == 0 ? "unlimited" : formatBitRate(rateBitsPerSecond)))
        parts.append("queue \(queueLimitPackets) packets")
        return parts.joined(separator: ", ")
    }
}

/// How a packet's jitter is drawn around the delay.
public enum JitterDistribution: String, Sendable, Codable, CaseIterable {
    /// Uniform on [delay − jitter, delay + jitter], as netem draws it without a table.
    case uniform
    /// Normal with mean delay and standard deviation jitter, as netem's `distribution normal`.
    case normal
}

/// What happened to a packet offered to a ``DelayLine``.
public enum DelayLineAdmission: Equatable, Sendable {
    /// Due now and nothing is ahead of it: send it at once; the line does not keep it.
    case forwardNow
    /// Kept; it leaves at `deadline` (monotonic nanoseconds).
    case queued(deadline: UInt64)
    /// Lost on the wire, after it took its time on the transmitter.
    case lost
    /// The transmitter's queue (or the line's hold limit) was full.
    case queueFull
}

/// A packet held by a ``DelayLine``: the caller's handle for its bytes, when it leaves,
/// and how big it is.
public struct HeldPacket: Equatable, Sendable {
    public var handle: Int
    public var deadline: UInt64
    public var bytes: Int

    public init(handle: Int, deadline: UInt64, bytes: Int) {
        self.handle = handle
        self.deadline = deadline
        self.bytes = bytes
    }
}

/// Counts kept by one direction of the line.
public struct DelayLineCounters: Equatable, Sendable, Codable {
    /// Packets and bytes offered (read from the sending side).
    public var offeredPackets: UInt64 = 0
    public var offeredBytes: UInt64 = 0
    /// Packets and bytes admitted: forwarded at once or queued.
    public var admittedPackets: UInt64 = 0
    public var admittedBytes: UInt64 = 0
    public var droppedLoss: UInt64 = 0
    public var droppedQueue: UInt64 = 0

    public init() {}
}

/// One direction of the lab's link: the pure queueing model, with no clock and no I/O.
///
/// A packet offered at `now` waits for the transmitter (`rate`: it starts when the link is
/// free and takes `bytes × 8 / rate`), may then be lost, and leaves `delay ± jitter` after
/// its last bit went out. The line is a FIFO of (deadline, packet): without `reorder` the
/// deadlines never decrease (a packet drawn earlier than the one ahead of it leaves with
/// it), so the caller needs one timer, for the head. With `reorder` it is a heap on the
/// deadline, and the head is still the next to leave. Times are monotonic nanoseconds.
public struct DelayLine: Sendable {
    public let settings: LinkSettings
    public private(set) var counters = DelayLineCounters()

    private var held: HeldQueue
    /// When each packet still on the transmitter finishes; only with a rate.
    private var transmitting = Ring<UInt64>()
    private var linkFreeAt: UInt64 = 0
    /// Leftover of `bytes × 8 × 10⁹ mod rate`, so serialization times never drift.
    private var serializationRemainder: UInt64 = 0
    private var lastDeadline: UInt64 = 0
    private var random: SeededRandom

    public init(settings: LinkSettings, seed: UInt64) {
        self.settings = settings
        random = SeededRandom(seed: seed)
        held = HeldQueue(ordered: settings.reorder)
    }

    /// Packets held (waiting for the transmitter or in flight).
    public var depth: Int { held.count }

    /// Packets waiting for, or on, the transmitter at `now`.
    public mutating func backlog(at now: UInt64) -> Int {
        while let first = transmitting.first, first <= now { _ = transmitting.popFirst() }
        return transmitting.count
    }

    /// When the head packet leaves, nil when nothing is held.
    public var headDeadline: UInt64? { held.first?.deadline }

    /// The serialization time of `bytes` at `rateBitsPerSecond`, in nanoseconds (rounded
    /// down; the remainder is carried by the line, not lost).
    public static func serializationNanoseconds(bytes: Int, rateBitsPerSecond: UInt64) -> UInt64 {
        guard rateBitsPerSecond > 0 else { return 0 }
        return UInt64(bytes) * 8 * 1_000_000_000 / rateBitsPerSecond
    }

    /// Offers a packet of `bytes` read at `now`. A `.queued` packet is kept under `handle`
    /// until ``popDue(at:)`` returns it.
    public mutating func offer(handle: Int, bytes: Int, at now: UInt64) -> DelayLineAdmission {
        counters.offeredPackets &+= 1
        counters.offeredBytes &+= UInt64(bytes)
        if held.count >= settings.heldLimitPackets {
            counters.droppedQueue &+= 1
            return .queueFull
        }
        var sent = now
        if settings.rateBitsPerSecond > 0 {
            if backlog(at: now) >= settings.queueLimitPackets {
                counters.droppedQueue &+= 1
                return .queueFull
            }
            let start = max(now, linkFreeAt)
            let bits = UInt64(bytes) * 8 * 1_000_000_000 + serializationRemainder
            serializationRemainder = bits % settings.rateBitsPerSecond
            sent = start + bits / settings.rateBitsPerSecond
            linkFreeAt = sent
            transmitting.append(sent)
        }
        if settings.lossPercent > 0 && random.nextUnit() * 100 < settings.lossPercent {
            counters.droppedLoss &+= 1
            return .lost
        }
        var deadline = sent &+ drawDelay()
        if !settings.reorder {
            deadline = max(deadline, lastDeadline)
            lastDeadline = deadline
        }
        counters.admittedPackets &+= 1
        counters.admittedBytes &+= UInt64(bytes)
        if deadline <= now && held.isEmpty {
            return .forwardNow
        }
        held.push(HeldPacket(handle: handle, deadline: deadline, bytes: bytes))
        return .queued(deadline: deadline)
    }

    /// The head packet if its deadline has come by `now`.
    public mutating func popDue(at now: UInt64) -> HeldPacket? {
        guard let first = held.first, first.deadline <= now else { return nil }
        return held.popFirst()
    }

    /// delay + jitter, never negative.
    private mutating func drawDelay() -> UInt64 {
        let delay = settings.delayNanoseconds
        let jitter = settings.jitterNanoseconds
        guard jitter > 0 else { return delay }
        let offset: Double
        switch settings.distribution {
        case .uniform: offset = (random.nextUnit() * 2 - 1) * Double(jitter)
        case .normal: offset = random.nextStandardNormal() * Double(jitter)
        }
        let total = Double(delay) + offset
        return total <= 0 ? 0 : UInt64(total.rounded())
    }
}

/// A small log-linear histogram of nanosecond values: exact below 32 ns, then 32 buckets
/// per power of two (within 3 %), up to 2³⁸ ns (4.6 minutes). Recording is a few
/// instructions and a percentile walks at most about a thousand buckets, so the delay line
/// can summarize its own latency ten times a second without stalling its packets.
public struct CompactHistogram: Sendable, Equatable {
    static let subBucketBits = 5
    static let subBuckets = 1 << subBucketBits
    static let maxExponent = 38
    private var counts = [UInt64](repeating: 0, count: (maxExponent - subBucketBits + 2) * subBuckets)
    public private(set) var count: UInt64 = 0
    public private(set) var sum: Double = 0
    public private(set) var max: UInt64 = 0
    public private(set) var min: UInt64 = .max

    public init() {}

    public var mean: Double { count == 0 ? 0 : sum / Double(count) }

    @inline(__always)
    static func index(_ value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let exponent = Swift.min(63 - value.leadingZeroBitCount, maxExponent)
        let clamped = Swift.min(value, (UInt64(1) << (maxExponent + 1)) - 1)
        let sub = Int((clamped >> UInt64(exponent - subBucketBits)) & UInt64(subBuckets - 1))
        return (exponent - subBucketBits + 1) * subBuckets + sub
    }

    /// The middle of bucket `index`.
    static func value(at index: Int) -> UInt64 {
        if index < subBuckets { return UInt64(index) }
        let exponent = index / subBuckets + subBucketBits - 1
        let sub = UInt64(index % subBuckets)
        let width = UInt64(1) << UInt64(exponent - subBucketBits)
        return (UInt64(1) << UInt64(exponent)) + sub * width + width / 2
    }

    @inline(__always)
    public mutating func record(_ value: UInt64) {
        counts[Self.index(value)] &+= 1
        count &+= 1
        sum += Double(value)
        if value > max { max = value }
        if value < min { min = value }
    }

    /// The value at percentile `p` (0…100), kept within [min, max]; 0 when empty.
    public func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((p / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Swift.min(Swift.max(Self.value(at: i), min), max) }
        }
        return max
    }
}

/// xoshiro256** (Blackman and Vigna, 2018), seeded through SplitMix64: fast, and the same
/// sequence for the same seed on every machine, so the lab's loss and jitter can be
/// replayed with `--seed`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform on [0, 1), 53 bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal, by the Box–Muller transform (two values per pair of uniforms).
    public mutating func nextStandardNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = 1 - nextUnit()   // (0, 1]: log stays finite
        let u2 = nextUnit()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = radius * sin(angle)
        return radius * cos(angle)
    }
}

/// A growable ring buffer: O(1) append and popFirst.
struct Ring<Element: Sendable>: Sendable {
    private var storage: [Element?] = Array(repeating: nil, count: 16)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    var first: Element? { count == 0 ? nil : storage[head] }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    private mutating func grow() {
        var bigger: [Element?] = Array(repeating: nil, count: storage.count * 2)
        for i in 0..<count { bigger[i] = storage[(head + i) & (storage.count - 1)] }
        storage = bigger
        head = 0
    }
}

/// The packets a line holds, in leaving order: a FIFO when deadlines never decrease, a
/// binary min-heap on (deadline, arrival) when jitter may reorder them.
struct HeldQueue: Sendable {
    private let ordered: Bool
    private var fifo = Ring<HeldPacket>()
    private var heap: [(packet: HeldPacket, sequence: UInt64)] = []
    private var sequence: UInt64 = 0

    init(ordered: Bool) { self.ordered = ordered }

    var count: Int { ordered ? heap.count : fifo.count }
    var isEmpty: Bool { count == 0 }
    var first: HeldPacket? { ordered ? heap.first?.packet : fifo.first }

    mutating func push(_ packet: HeldPacket) {
        guard ordered else { return fifo.append(packet) }
        sequence &+= 1
        heap.append((packet, sequence))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !precedes(heap[i], heap[parent]) { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popFirst() -> HeldPacket? {
        guard ordered else { return fifo.popFirst() }
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && precedes(heap[l], heap[m]) { m = l }
                if r < heap.count && precedes(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top.packet
    }

    private func precedes(_ a: (packet: HeldPacket, sequence: UInt64), _ b: (packet: HeldPacket, sequence: UInt64)) -> Bool {
        a.packet.deadline != b.packet.deadline ? a.packet.deadline < b.packet.deadline : a.sequence < b.sequence
    }
}

/// `12.5%`, `0%`, `0.01%`.
public func formatPercent(_ value: Double) -> String {
    if value == value.rounded() { return "\(Int(value))%" }
    var text = formatFixed(value, 3)
    while text.hasSuffix("0") { text.removeLast() }
    return text + "%"
}

/// `10 Mbit/s`, `1.5 Gbit/s`, `64 kbit/s`, `800 bit/s` (decimal prefixes, as tc(8) prints).
public func formatBitRate(_ bitsPerSecond: UInt64) -> String {
    let units: [(UInt64, String)] = [(1_000_000_000, "Gbit/s"), (1_000_000, "Mbit/s"), (1_000, "kbit/s")]
    for (scale, name) in units where bitsPerSecond >= scale {
        var text = formatFixed(Double(bitsPerSecond) / Double(scale), 3)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return "\(text) \(name)"
    }
    return "\(bitsPerSecond) bit/s"
}

/// Parses a line rate in bits per second: `10000000`, `10M`, `10mbit`, `1.5Gbit/s`, `64k`.
/// The prefixes are decimal (k = 1000), as in tc(8); nil for anything else.
public func parseBitRate(_ text: String) -> UInt64? {
    var t = Substring(text.lowercased())
    for suffix in ["bit/s", "bps", "bit", "b/s"] where t.hasSuffix(suffix) {
        t = t.dropLast(suffix.count)
        break
    }
    var scale = 1.0
    if let last = t.last, let s = ["k": 1e3, "m": 1e6, "g": 1e9][String(last)] {
        scale = s
        t = t.dropLast()
    }
    guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
          let value = Double(t), value.isFinite else { return nil }
    let bits = (value * scale).rounded()
    guard bits >= 0, bits < 1e15 else { return nil }
    return UInt64(bits)
}

/// Parses a percentage, `10`, `0.5` or `10%`, within 0…100; nil for anything else.
public func parsePercent(_ text: String) -> Double? {
    var t = Substring(text)
    if t.hasSuffix("%") { t = t.dropLast() }
    guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
          let value = Double(t), value >= 0, value <= 100 else { return nil }
    return value
}
