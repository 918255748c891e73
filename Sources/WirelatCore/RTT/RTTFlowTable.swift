/// The flow a packet belongs to, the same for both directions: the two endpoints are
/// stored in a fixed order (the lower address and port first, compared as bytes), so a
/// packet from A to B and its answer from B to A find one entry. IPv4 addresses are kept
/// IPv4-mapped (RFC 4291 §2.5.5.2) beside a flag, so one layout serves both families.
/// For ICMP and ICMPv6 echo the two "ports" are the echo identifier (RFC 792, RFC 4443 §4.1).
struct RTTFlowKey: Equatable {
    var addressA: IPv6Address
    var addressB: IPv6Address
    var portA: UInt16
    var portB: UInt16
    var protocolNumber: UInt8
    var isIPv4: Bool

    /// The key of `packet`'s flow, and the side (0 for A, 1 for B) that sent it.
    @inline(__always)
    static func make(_ packet: RTTPacket) -> (key: RTTFlowKey, side: Int) {
        let s = packet.source
        let d = packet.destination
        if s < d || (s == d && packet.sourcePort <= packet.destinationPort) {
            return (RTTFlowKey(addressA: s, addressB: d, portA: packet.sourcePort, portB: packet.destinationPort,
                               protocolNumber: packet.protocolNumber, isIPv4: packet.isIPv4), 0)
        }
        return (RTTFlowKey(addressA: d, addressB: s, portA: packet.destinationPort, portB: packet.sourcePort,
                           protocolNumber: packet.protocolNumber, isIPv4: packet.isIPv4), 1)
    }

    /// A 64-bit hash of the key for the table's index, keyed by `seed`: three rounds of
    /// a 64×64→128-bit multiply folded to 64 bits (wyhash's mixing step), far cheaper
    /// than `Hasher`'s SipHash for a 38-byte key. The seed is random per table, as
    /// `Hasher`'s is per process, so colliding keys cannot be worked out in advance.
    @inline(__always)
    func hash(seed: UInt64) -> UInt64 {
        @inline(__always) func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let product = a.multipliedFullWidth(by: b)
            return product.high ^ product.low
        }
        let rest = UInt64(portA) << 32 | UInt64(portB) << 16 | UInt64(protocolNumber) << 8 | (isIPv4 ? 1 : 0)
        var h = mix(addressA.high ^ seed ^ 0xA076_1D64_78BD_642F, addressA.low ^ 0xE703_7ED1_A0B4_28DB)
        h = mix(h ^ addressB.high ^ 0x8EBC_6AF0_9C88_C6E3, addressB.low ^ seed ^ 0x5899_65CC_7537_4CC3)
        return mix(h ^ rest ^ 0x1D8E_4E27_C47D_124F, seed ^ 0xA076_1D64_78BD_642F)
    }

    static func mapped(_ address: IPAddress) -> IPv6Address {
        switch address {
        case .v4(let a): return IPv6Address(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(a.rawValue))
        case .v6(let a): return a
        }
    }

    func address(_ side: Int) -> IPAddress {
        let a = side == 0 ? addressA : addressB
        return isIPv4 ? .v4(IPv4Address(UInt32(truncatingIfNeeded: a.low))) : .v6(a)
    }

    func port(_ side: Int) -> UInt16 { side == 0 ? portA : portB }

    /// The flow as seen from `initiator` (0 or 1) toward the other side.
    func flow(initiator: Int) -> RTTFlow {
        RTTFlow(protocolNumber: protocolNumber,
                initiator: address(initiator), initiatorPort: port(initiator),
                responder: address(1 - initiator), responderPort: port(1 - initiator))
    }
}

/// What one direction of a TCP connection has sent and acknowledged, as far as the
/// capture shows. Sequence numbers compare in serial arithmetic (RFC 9293 §3.4).
struct RTTSideState {
    /// The sender's base sequence number as tshark keeps it: the ISN of its SYN, or one
    /// less than the first sequence number seen.
    var baseSequence: UInt32 = 0
    /// The highest SEG.SEQ + SEG.LEN seen from this side (its SND.NXT as far as seen).
    var nextSequence: UInt32 = 0
    /// The highest SEG.ACK this side has sent.
    var lastAcknowledgment: UInt32 = 0
    /// The newest TSval (RFC 7323 §3.2) considered for the tsecr method.
    var lastTSval: UInt32 = 0
    /// Unacknowledged segments (ack method), newest first, in the pending pool.
    var segments: Int32 = -1
    /// TSvals waiting for their echo (tsecr method), newest first, in the pending pool.
    var timestamps: Int32 = -1
    var segmentCount: UInt16 = 0
    var timestampCount: UInt16 = 0
    var flags: UInt8 = 0

    static let baseSet: UInt8 = 0x01
    static let nextSequenceSet: UInt8 = 0x02
    static let lastAcknowledgmentSet: UInt8 = 0x04
    static let lastTSvalSet: UInt8 = 0x08

    @inline(__always) func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
    @inline(__always) mutating func set(_ flag: UInt8) { flags |= flag }
}

/// One flow: both directions of a TCP connection, or the echo exchanges of one ICMP
/// identifier between two hosts. A plain value with no references, kept in one array.
struct RTTFlowEntry {
    var key: RTTFlowKey
    var lastSeen: Int64
    /// Neighbours in the least-recently-used list.
    var newer: Int32 = -1
    var older: Int32 = -1
    var packets: UInt32 = 0
    var samples: UInt32 = 0
    var bytes: UInt64 = 0
    var minimumRTT: UInt64 = .max
    var maximumRTT: UInt64 = 0
    /// Time and packet number of the latest SYN (handshake method).
    var synTime: Int64 = 0
    var synPacket: UInt64 = 0
    /// Time and packet number of the open request's latest segment (reqresp method).
    var requestEndTime: Int64 = 0
    var requestEndPacket: UInt64 = 0
    var synSequence: UInt32 = 0
    /// 0 or 1 once known, `RTTFlowEntry.unknown` before.
    var initiator: UInt8 = RTTFlowEntry.unknown
    var initiatorGuessed = false
    var handshake: UInt8 = RTTFlowEntry.handshakeNone
    /// The side whose data was seen last (reqresp method), or `unknown`.
    var runSide: UInt8 = RTTFlowEntry.unknown
    var requestOpen = false
    var requestClean = false
    var synCount: UInt8 = 0
    var side0 = RTTSideState()
    var side1 = RTTSideState()

    static let unknown: UInt8 = 2
    static let handshakeNone: UInt8 = 0
    static let handshakeAwaiting: UInt8 = 1
    static let handshakeAnswered: UInt8 = 2

    init(key: RTTFlowKey, lastSeen: Int64) {
        self.key = key
        self.lastSeen = lastSeen
    }

    subscript(side side: Int) -> RTTSideState { side == 0 ? side0 : side1 }

    /// Runs `body` on one side's state where it lies in the entry (a subscript's setter
    /// would copy the whole state out and back).
    @inline(__always)
    mutating func withSide<Result>(_ side: Int, _ body: (inout RTTSideState) -> Result) -> Result {
        side == 0 ? body(&side0) : body(&side1)
    }

    /// The side the flow's exchanges start from: the initiator when known, else the guess
    /// of ``guessedInitiator``.
    var displayInitiator: Int { initiator == Self.unknown ? guessedInitiator(fallback: 0) : Int(initiator) }

    /// The likely client of a connection whose handshake was not captured: the side with
    /// the higher port (an ephemeral port talking to a service port), or `fallback` when
    /// the ports are equal.
    func guessedInitiator(fallback: Int) -> Int {
        if key.portA == key.portB { return fallback }
        return key.portA > key.portB ? 0 : 1
    }
}

/// A bounded table of flows: entries in one array, found through an open-addressing
/// index of 32-bit slots (linear probing, backward-shift deletion, load ≤ ½), and
/// threaded on an intrusive least-recently-used list so the oldest flow is evicted when
/// the table is full and idle flows expire from the old end.
struct RTTFlowTable {
    private(set) var entries: ContiguousArray<RTTFlowEntry> = []
    private var freeEntries: [Int32] = []
    private var slots: [Int32]
    private let slotMask: Int
    let capacity: Int
    private(set) var count = 0
    /// Most and least recently used entries, -1 when empty.
    private(set) var newest: Int32 = -1
    private(set) var oldest: Int32 = -1
    /// Keys ``RTTFlowKey/hash(seed:)``.
    private let seed = UInt64.random(in: .min ... .max)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        var slotCount = 16
        while slotCount < self.capacity * 2 { slotCount <<= 1 }
        slots = [Int32](repeating: -1, count: slotCount)
        slotMask = slotCount - 1
        entries.reserveCapacity(min(self.capacity, 1024))
    }

    var isFull: Bool { count >= capacity }

    /// Bytes held by the table's arrays (entries, index, free list).
    var storageBytes: Int {
        entries.capacity * MemoryLayout<RTTFlowEntry>.stride + slots.count * MemoryLayout<Int32>.stride
            + freeEntries.capacity * MemoryLayout<Int32>.stride
    }

    @inline(__always)
    private func home(_ key: RTTFlowKey) -> Int { Int(truncatingIfNeeded: key.hash(seed: seed)) & slotMask }

    /// The entry of `key`'s flow, nil when there is none. The most recently used flow is
    /// tried before the index: packets come in runs of one flow (a burst of segments, a
    /// segment and its ACK), and one compare of the key is cheaper than its hash.
    func find(_ key: RTTFlowKey) -> Int32? {
        if newest >= 0 && entries[Int(newest)].key == key { return newest }
        var slot = home(key)
        while true {
            let index = slots[slot]
            if index < 0 { return nil }
            if entries[Int(index)].key == key { return index }
            slot = (slot + 1) & slotMask
        }
    }

    /// Adds a flow that `find` did not find; the caller makes room first when `isFull`.
    mutating func insert(_ entry: RTTFlowEntry) -> Int32 {
        precondition(count < capacity, "the flow table is full; evict before inserting")
        let index: Int32
        if let reused = freeEntries.popLast() {
            index = reused
            entries[Int(reused)] = entry
        } else {
            index = Int32(entries.count)
            if entries.count == entries.capacity {
                entries.reserveCapacity(min(capacity, entries.count * 2))
            }
            entries.append(entry)
        }
        var slot = home(entry.key)
        while slots[slot] >= 0 { slot = (slot + 1) & slotMask }
        slots[slot] = index
        count += 1
        linkNewest(index)
        return index
    }

    mutating func remove(_ index: Int32) {
        unlink(index)
        var hole = home(entries[Int(index)].key)
        while slots[hole] != index { hole = (hole + 1) & slotMask }
        var probe = hole
        while true {
            probe = (probe + 1) & slotMask
            let moving = slots[probe]
            if moving < 0 { break }
            let wanted = home(entries[Int(moving)].key)
            let distanceToHole = (hole - wanted) & slotMask
            let distanceToProbe = (probe - wanted) & slotMask
            if distanceToHole < distanceToProbe {
                slots[hole] = moving
                hole = probe
            }
        }
        slots[hole] = -1
        count -= 1
        freeEntries.append(index)
    }

    /// Marks `index` as the most recently used flow.
    mutating func touch(_ index: Int32) {
        if newest == index { return }
        unlink(index)
        linkNewest(index)
    }

    /// A flow, read or changed in place. The engine leaves `key`, `newer` and `older` alone.
    subscript(index: Int32) -> RTTFlowEntry {
        get { entries[Int(index)] }
        _modify { yield &entries[Int(index)] }
    }

    /// Live entries from the least to the most recently used.
    func forEachLive(_ body: (RTTFlowEntry) -> Void) {
        var index = oldest
        while index >= 0 {
            let entry = entries[Int(index)]
            body(entry)
            index = entry.newer
        }
    }

    private mutating func linkNewest(_ index: Int32) {
        entries[Int(index)].older = newest
        entries[Int(index)].newer = -1
        if newest >= 0 { entries[Int(newest)].newer = index }
        newest = index
        if oldest < 0 { oldest = index }
    }

    private mutating func unlink(_ index: Int32) {
        let older = entries[Int(index)].older
        let newer = entries[Int(index)].newer
        if older >= 0 { entries[Int(older)].newer = newer } else { oldest = newer }
        if newer >= 0 { entries[Int(newer)].older = older } else { newest = older }
        entries[Int(index)].older = -1
        entries[Int(index)].newer = -1
    }
}

/// One remembered packet waiting for its answer: an unacknowledged segment
/// (`start`..<`end` in sequence space), a TSval (`start`), or an echo request
/// (`start` = sequence number, `end` = the requesting side).
struct RTTPendingRecord {
    var time: Int64
    var packet: UInt64
    var start: UInt32
    var end: UInt32
    var next: Int32
    var flags: UInt32

    /// The segment did not advance its sender's sequence space (a retransmission,
    /// an out-of-order arrival or a keep-alive): Karn's algorithm takes no sample from it.
    static let ambiguous: UInt32 = 0x1
}

/// Every flow's pending records in one array, linked into per-flow lists and recycled
/// through a free list; `limit` caps the total.
struct RTTPendingPool {
    private(set) var records: ContiguousArray<RTTPendingRecord> = []
    private var freeHead: Int32 = -1
    let limit: Int
    private(set) var inUse = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    var storageBytes: Int { records.capacity * MemoryLayout<RTTPendingRecord>.stride }

    subscript(index: Int32) -> RTTPendingRecord {
        get { records[Int(index)] }
        _modify { yield &records[Int(index)] }
    }

    /// Stores `record` at the head of the list `head`; false when the pool is exhausted.
    @inline(__always)
    mutating func push(_ record: RTTPendingRecord, onto head: inout Int32) -> Bool {
        var record = record
        record.next = head
        if freeHead >= 0 {
            let index = freeHead
            freeHead = records[Int(index)].next
            records[Int(index)] = record
            head = index
        } else {
            guard records.count < limit else { return false }
            if records.count == records.capacity {
                records.reserveCapacity(min(limit, max(64, records.count * 2)))
            }
            head = Int32(records.count)
            records.append(record)
        }
        inUse += 1
        return true
    }

    /// Unlinks `index` (whose predecessor is `previous`, -1 at the head) and recycles it.
    mutating func remove(_ index: Int32, previous: Int32, head: inout Int32) {
        let next = records[Int(index)].next
        if previous < 0 { head = next } else { records[Int(previous)].next = next }
        records[Int(index)].next = freeHead
        freeHead = index
        inUse -= 1
    }

    /// Recycles a whole list.
    mutating func removeAll(_ head: inout Int32) {
        while head >= 0 { remove(head, previous: -1, head: &head) }
    }
}

/// Serial-number comparisons (RFC 9293 §3.4, RFC 1982), spelled as tshark's
/// `LT_SEQ`/`GT_SEQ`/`LE_SEQ` macros.
enum SerialNumber {
    @inline(__always) static func less(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
    @inline(__always) static func greater(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: b &- a) < 0 }
    @inline(__always) static func lessOrEqual(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) <= 0 }
}
