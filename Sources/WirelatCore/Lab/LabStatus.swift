import FoundationEssentials

// The delay line's status file, `status.json`: what `lab status` and the tests read.
// The key names are the `CodingKeys` below, for the encoder, the decoder and the
// hand-built writer alike.

/// The delay line's own added latency for one direction, one-way, in nanoseconds: per
/// packet, the time its write(2) was issued minus its deadline, or minus the time its
/// read(2) returned when it was forwarded at once. Not included: the wake-up after the
/// kernel queued the packet on the TUN device (invisible from user space), and the write
/// itself, in which the kernel runs the receiving namespace's stack as a veth would.
public struct OwnLatency: Codable, Sendable, Equatable {
    public var samples: UInt64 = 0
    public var meanNanoseconds: Double = 0
    public var p50Nanoseconds: UInt64 = 0
    public var p99Nanoseconds: UInt64 = 0
    public var maxNanoseconds: UInt64 = 0

    public enum CodingKeys: String, CodingKey {
        case samples
        case meanNanoseconds = "mean_ns"
        case p50Nanoseconds = "p50_ns"
        case p99Nanoseconds = "p99_ns"
        case maxNanoseconds = "max_ns"
    }

    public init() {}
}

/// One direction's counters in the status file.
public struct LabDirectionStatus: Codable, Sendable, Equatable {
    /// `a>b` or `b>a`.
    public var direction: String
    public var readPackets: UInt64 = 0
    public var readBytes: UInt64 = 0
    public var sentPackets: UInt64 = 0
    public var sentBytes: UInt64 = 0
    public var droppedLoss: UInt64 = 0
    public var droppedQueue: UInt64 = 0
    public var writeErrors: UInt64 = 0
    /// Why the latest failed write failed.
    public var lastWriteError: String?
    /// Packets held now, and of those how many wait for (or are on) the transmitter.
    public var depth: Int = 0
    public var backlog: Int = 0
    public var maxDepth: Int = 0
    /// Packets forwarded at once (due on arrival, nothing ahead) and by a timer.
    public var forwardedAtOnce: UInt64 = 0
    public var forwardedByTimer: UInt64 = 0
    public var ownLatency = OwnLatency()
    /// This direction's one-way delay, in a lab with `--hosts` (each spoke has its own);
    /// nil in the two-host lab, where every direction has the status's `delay_ns`.
    public var delayNanoseconds: UInt64?

    public enum CodingKeys: String, CodingKey {
        case direction
        case readPackets = "read_packets"
        case readBytes = "read_bytes"
        case sentPackets = "sent_packets"
        case sentBytes = "sent_bytes"
        case droppedLoss = "dropped_loss"
        case droppedQueue = "dropped_queue"
        case writeErrors = "write_errors"
        case lastWriteError = "last_write_error"
        case depth, backlog
        case maxDepth = "max_depth"
        case forwardedAtOnce = "forwarded_at_once"
        case forwardedByTimer = "forwarded_by_timer"
        case ownLatency = "own_latency"
        case delayNanoseconds = "delay_ns"
    }

    public init(direction: String, delayNanoseconds: UInt64? = nil) {
        self.direction = direction
        self.delayNanoseconds = delayNanoseconds
    }
}

/// One host of a lab made with `--hosts`: its namespace, addresses and the one-way delay
/// of its spoke (the delay line between it and the router, the same in both directions).
public struct LabHostStatus: Codable, Sendable, Equatable {
    /// `a`, `b`, `c`, …, as `wirelat lab exec` takes it.
    public var letter: String
    public var namespace: String
    public var ipv4: String
    public var ipv6: String
    public var delayNanoseconds: UInt64

    public enum CodingKeys: String, CodingKey {
        case letter, namespace, ipv4, ipv6
        case delayNanoseconds = "delay_ns"
    }

    public init(letter: String, namespace: String, ipv4: String, ipv6: String, delayNanoseconds: UInt64) {
        self.letter = letter
        self.namespace = namespace
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.delayNanoseconds = delayNanoseconds
    }
}

/// The router namespace of a lab made with `--hosts`: every host's spoke ends there, and it
/// forwards IPv4 and IPv6 between them.
public struct LabRouterStatus: Codable, Sendable, Equatable {
    public var namespace: String
    public var ipv4: String
    public var ipv6: String

    public enum CodingKeys: String, CodingKey {
        case namespace, ipv4, ipv6
    }

    public init(namespace: String, ipv4: String, ipv6: String) {
        self.namespace = namespace
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }
}

/// The round trip the delays of a lab made with `--hosts` add between two of its hosts: a
/// packet crosses the sender's spoke and the receiver's, and the answer both again, so
/// 2 × (Di + Dj).
public func labRoundTripNanoseconds(_ first: UInt64, _ second: UInt64) -> UInt64 {
    2 * (first + second)
}

/// What the delay line writes to `status.json` every ``Lab/statusIntervalNanoseconds``.
public struct LabStatus: Codable, Sendable, Equatable {
    public var command = "lab"
    /// Written first and last (as `seq` and `seq_end`): a reader that sees two different
    /// values caught the file while it was being rewritten, and reads it again.
    public var sequence: UInt64 = 0
    public var sequenceEnd: UInt64 = 0
    public var pid: Int32
    public var startedNanoseconds: Int64
    public var updatedNanoseconds: Int64
    public var delayNanoseconds: UInt64
    public var jitterNanoseconds: UInt64
    public var distribution: String
    public var reorder: Bool
    public var lossPercent: Double
    public var rateBitsPerSecond: UInt64
    public var queueLimitPackets: Int
    public var seed: UInt64
    /// The delay line's SCHED_FIFO priority, 0 under ordinary scheduling.
    public var realtimePriority: Int32 = 0
    /// How long before a deadline it wakes to wait for it awake.
    public var wakeEarlyNanoseconds: UInt64 = 0
    /// How long the delay line keeps polling after the last packet (`UInt64.max`: always).
    public var pollLingerNanoseconds: UInt64 = 0
    public var stopped = false
    public var directions: [LabDirectionStatus]
    /// With `--hosts`: every host, in order, and the router; nil in the two-host lab. In
    /// such a lab `delay_ns` is the largest spoke's delay.
    public var hosts: [LabHostStatus]?
    public var router: LabRouterStatus?

    public init(pid: Int32, startedNanoseconds: Int64, updatedNanoseconds: Int64, delayNanoseconds: UInt64,
                jitterNanoseconds: UInt64, distribution: String, reorder: Bool, lossPercent: Double,
                rateBitsPerSecond: UInt64, queueLimitPackets: Int, seed: UInt64, realtimePriority: Int32 = 0,
                wakeEarlyNanoseconds: UInt64 = 0, pollLingerNanoseconds: UInt64 = 0, stopped: Bool = false,
                directions: [LabDirectionStatus], hosts: [LabHostStatus]? = nil, router: LabRouterStatus? = nil) {
        self.pid = pid
        self.startedNanoseconds = startedNanoseconds
        self.updatedNanoseconds = updatedNanoseconds
        self.delayNanoseconds = delayNanoseconds
        self.jitterNanoseconds = jitterNanoseconds
        self.distribution = distribution
        self.reorder = reorder
        self.lossPercent = lossPercent
        self.rateBitsPerSecond = rateBitsPerSecond
        self.queueLimitPackets = queueLimitPackets
        self.seed = seed
        self.realtimePriority = realtimePriority
        self.wakeEarlyNanoseconds = wakeEarlyNanoseconds
        self.pollLingerNanoseconds = pollLingerNanoseconds
        self.stopped = stopped
        self.directions = directions
        self.hosts = hosts
        self.router = router
    }


    public enum CodingKeys: String, CodingKey {
        case command, pid
        case sequence = "seq"
        case sequenceEnd = "seq_end"
        case startedNanoseconds = "started_ns"
        case updatedNanoseconds = "updated_ns"
        case delayNanoseconds = "delay_ns"
        case jitterNanoseconds = "jitter_ns"
        case distribution, reorder
        case lossPercent = "loss_percent"
        case rateBitsPerSecond = "rate_bits_per_s"
        case queueLimitPackets = "queue_limit_packets"
        case seed, stopped, directions, hosts, router
        case realtimePriority = "rt_priority"
        case wakeEarlyNanoseconds = "wake_early_ns"
        case pollLingerNanoseconds = "poll_linger_ns"
    }

    public var settings: LinkSettings {
        var s = LinkSettings()
        s.delayNanoseconds = delayNanoseconds
        s.jitterNanoseconds = jitterNanoseconds
        s.distribution = JitterDistribution(rawValue: distribution) ?? .uniform
        s.reorder = reorder
        s.lossPercent = lossPercent
        s.rateBitsPerSecond = rateBitsPerSecond
        s.queueLimitPackets = queueLimitPackets
        return s
    }

    /// The status in `text`, nil if it is not one or was caught half-written.
    public static func decode(_ text: String) -> LabStatus? {
        guard let status = try? JSONDecoder().decode(LabStatus.self, from: Data(text.utf8)),
              status.sequence == status.sequenceEnd else { return nil }
        return status
    }

    /// The same object JSONEncoder would write, built by hand with the key names of
    /// ``CodingKeys``: the delay line writes it ten times a second between packets, and
    /// this is several times cheaper. `seq` comes first and `seq_end` last.
    public var json: String {
        typealias K = CodingKeys
        typealias D = LabDirectionStatus.CodingKeys
        typealias L = OwnLatency.CodingKeys
        var s = "{\"\(K.sequence.rawValue)\":\(sequence),\"\(K.command.rawValue)\":\"\(jsonEscaped(command))\""
        s += ",\"\(K.pid.rawValue)\":\(pid),\"\(K.startedNanoseconds.rawValue)\":\(startedNanoseconds)"
        s += ",\"\(K.updatedNanoseconds.rawValue)\":\(updatedNanoseconds),\"\(K.delayNanoseconds.rawValue)\":\(delayNanoseconds)"
        s += ",\"\(K.jitterNanoseconds.rawValue)\":\(jitterNanoseconds),\"\(K.distribution.rawValue)\":\"\(jsonEscaped(distribution))\""
        s += ",\"\(K.reorder.rawValue)\":\(reorder),\"\(K.lossPercent.rawValue)\":\(lossPercent)"
        s += ",\"\(K.rateBitsPerSecond.rawValue)\":\(rateBitsPerSecond),\"\(K.queueLimitPackets.rawValue)\":\(queueLimitPackets)"
        s += ",\"\(K.seed.rawValue)\":\(seed),\"\(K.realtimePriority.rawValue)\":\(realtimePriority)"
        s += ",\"\(K.wakeEarlyNanoseconds.rawValue)\":\(wakeEarlyNanoseconds),\"\(K.pollLingerNanoseconds.rawValue)\":\(pollLingerNanoseconds)"
        s += ",\"\(K.stopped.rawValue)\":\(stopped),\"\(K.directions.rawValue)\":["
        for (i, d) in directions.enumerated() {
            if i > 0 { s += "," }
            s += "{\"\(D.direction.rawValue)\":\"\(jsonEscaped(d.direction))\""
            s += ",\"\(D.readPackets.rawValue)\":\(d.readPackets),\"\(D.readBytes.rawValue)\":\(d.readBytes)"
            s += ",\"\(D.sentPackets.rawValue)\":\(d.sentPackets),\"\(D.sentBytes.rawValue)\":\(d.sentBytes)"
            s += ",\"\(D.droppedLoss.rawValue)\":\(d.droppedLoss),\"\(D.droppedQueue.rawValue)\":\(d.droppedQueue)"
            s += ",\"\(D.writeErrors.rawValue)\":\(d.writeErrors)"
            if let e = d.lastWriteError { s += ",\"\(D.lastWriteError.rawValue)\":\"\(jsonEscaped(e))\"" }
            s += ",\"\(D.depth.rawValue)\":\(d.depth),\"\(D.backlog.rawValue)\":\(d.backlog),\"\(D.maxDepth.rawValue)\":\(d.maxDepth)"
            s += ",\"\(D.forwardedAtOnce.rawValue)\":\(d.forwardedAtOnce),\"\(D.forwardedByTimer.rawValue)\":\(d.forwardedByTimer)"
            let l = d.ownLatency
            let mean = l.meanNanoseconds.isFinite ? l.meanNanoseconds : 0
            s += ",\"\(D.ownLatency.rawValue)\":{\"\(L.samples.rawValue)\":\(l.samples),\"\(L.meanNanoseconds.rawValue)\":\(mean)"
            s += ",\"\(L.p50Nanoseconds.rawValue)\":\(l.p50Nanoseconds),\"\(L.p99Nanoseconds.rawValue)\":\(l.p99Nanoseconds)"
            s += ",\"\(L.maxNanoseconds.rawValue)\":\(l.maxNanoseconds)}"
            if let delay = d.delayNanoseconds { s += ",\"\(D.delayNanoseconds.rawValue)\":\(delay)" }
            s += "}"
        }
        s += "]"
        if let hosts {
            typealias H = LabHostStatus.CodingKeys
            s += ",\"\(K.hosts.rawValue)\":["
            for (i, h) in hosts.enumerated() {
                if i > 0 { s += "," }
                s += "{\"\(H.letter.rawValue)\":\"\(jsonEscaped(h.letter))\",\"\(H.namespace.rawValue)\":\"\(jsonEscaped(h.namespace))\""
                s += ",\"\(H.ipv4.rawValue)\":\"\(jsonEscaped(h.ipv4))\",\"\(H.ipv6.rawValue)\":\"\(jsonEscaped(h.ipv6))\""
                s += ",\"\(H.delayNanoseconds.rawValue)\":\(h.delayNanoseconds)}"
            }
            s += "]"
        }
        if let router {
            typealias R = LabRouterStatus.CodingKeys
            s += ",\"\(K.router.rawValue)\":{\"\(R.namespace.rawValue)\":\"\(jsonEscaped(router.namespace))\""
            s += ",\"\(R.ipv4.rawValue)\":\"\(jsonEscaped(router.ipv4))\",\"\(R.ipv6.rawValue)\":\"\(jsonEscaped(router.ipv6))\"}"
        }
        s += ",\"\(K.sequenceEnd.rawValue)\":\(sequence)}\n"
        return s
    }
}

/// `text` as the inside of a JSON string (RFC 8259 §7).
func jsonEscaped(_ text: String) -> String {
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) { return text }
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.utf8.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
