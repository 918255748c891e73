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
    private var heap = MinHeap<Arrival>()
    private var sequence: UInt64 = 0

    init(ordered: Bool) { self.ordered = ordered }

    var count: Int { ordered ? heap.count : fifo.count }
    var isEmpty: Bool { count == 0 }
    var first: HeldPacket? { ordered ? heap.first?.packet : fifo.first }

    mutating func push(_ packet: HeldPacket) {
        guard ordered else { return fifo.append(packet) }
        sequence &+= 1
        heap.push(Arrival(packet: packet, sequence: sequence))
    }

    mutating func popFirst() -> HeldPacket? {
        guard ordered else { return fifo.popFirst() }
        return heap.popFirst()?.packet
    }

    /// A held packet in the heap: by deadline, then by arrival.
    struct Arrival: Comparable, Sendable {
        var packet: HeldPacket
        var sequence: UInt64

        static func < (a: Arrival, b: Arrival) -> Bool {
            a.packet.deadline != b.packet.deadline ? a.packet.deadline < b.packet.deadline : a.sequence < b.sequence
        }

        static func == (a: Arrival, b: Arrival) -> Bool { a.sequence == b.sequence }
    }
}
