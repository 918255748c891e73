/// The active probes (`wirelat probe`, `wirelat compare`) and the round trip each times.
public enum ProbeMethod: String, Codable, Sendable, CaseIterable {
    /// A raw SYN, as `hping3 -S -p PORT`: SYN → SYN-ACK (or RST), answered by the peer's kernel.
    case tcpSYN = "tcp-syn"
    /// A non-blocking connect(2) timed to writability: the handshake as the kernel sees it, plus the wake-up.
    case tcpConnect = "tcp-connect"
    /// ICMP echo, as ping: answered by the peer's kernel.
    case icmpEcho = "icmp-echo"
    /// One request and its reply over wirelat's sync protocol: what an application waits for.
    case tcpRequestResponse = "tcp-reqresp"

    /// Which round trip the method times (INTERFACE.md: the label says which).
    public var label: String {
        switch self {
        case .tcpSYN: return "SYN→SYN-ACK RTT"
        case .tcpConnect: return "connect()→writable RTT"
        case .icmpEcho: return "ICMP echo→echo-reply RTT"
        case .tcpRequestResponse: return "TCP request/response RTT"
        }
    }
}

/// How one probe ended.
public enum ProbeOutcome: String, Codable, Sendable {
    /// SYN answered by SYN-ACK: open.
    case synAck = "SA"
    /// SYN answered by RST: closed.
    case reset = "RA"
    /// connect(2) completed.
    case connected
    /// connect(2) failed with ECONNREFUSED: the peer sent a RST.
    case refused
    /// An echo reply, or the server's reply to a request.
    case reply
    /// Nothing came back within the timeout.
    case timeout
    /// The kernel reported the destination unreachable (ICMP error, no neighbour).
    case unreachable

    /// Whether the peer answered (a RST answers, as in hping's `RA`).
    public var answered: Bool {
        switch self {
        case .synAck, .reset, .connected, .refused, .reply: return true
        case .timeout, .unreachable: return false
        }
    }
}

/// Which clock timed a probe's round trip.
public enum ProbeClock: String, Codable, Sendable {
    /// Kernel software timestamps at both ends: TX as the packet went to the device, RX
    /// as the reply came from it (SO_TIMESTAMPING). Excludes both wake-ups.
    case kernel
    /// CLOCK_REALTIME read just before the send, and the kernel's RX software timestamp
    /// of the reply: what iputils ping does (SO_TIMESTAMP).
    case kernelReceive = "kernel-rx"
    /// CLOCK_MONOTONIC read in user space before the send and after the wake-up.
    case user

    public var label: String {
        switch self {
        case .kernel: return "kernel software timestamps, TX at the device → RX (SO_TIMESTAMPING; excludes wake-ups)"
        case .kernelReceive: return "send time in user space → kernel RX timestamp (as ping)"
        case .user: return "CLOCK_MONOTONIC in user space (includes the send call and the wake-up)"
        }
    }
}

/// One probe: what was sent and what came back.
public struct ProbeReply: Codable, Sendable, Equatable {
    /// hping's seq (from 0) for TCP probes; ping's icmp_seq (from 1) for echo.
    public var seq: Int
    public var outcome: ProbeOutcome
    public var rttNanoseconds: UInt64?
    public var clock: ProbeClock?
    /// IP packet length (hping `len=`), or ICMP bytes (ping's "64 bytes").
    public var length: Int?
    public var ttl: Int?
    public var ipID: Int?
    public var dontFragment: Bool?
    /// The replying port (hping `sport=`).
    public var sourcePort: Int?
    /// Our port for this probe.
    public var localPort: Int?
    public var flags: String?
    public var window: Int?
    /// connect: the kernel's own handshake sample (TCP_INFO tcpi_rtt, microsecond resolution).
    public var kernelRTTNanoseconds: UInt64?
    /// From the send call to the reply (user-space send time → kernel RX timestamp, or
    /// CLOCK_MONOTONIC): unlike kernel TX → RX, this includes what the first packet may
    /// wait for before it leaves (ARP, neighbour discovery). The first-probe rule uses it.
    public var sendToReplyNanoseconds: UInt64?
    public var detail: String?

    public init(seq: Int, outcome: ProbeOutcome, rttNanoseconds: UInt64? = nil, clock: ProbeClock? = nil) {
        self.seq = seq
        self.outcome = outcome
        self.rttNanoseconds = rttNanoseconds
        self.clock = clock
    }

    enum CodingKeys: String, CodingKey {
        case seq, outcome = "result", rttNanoseconds = "rtt_ns", clock, length = "len", ttl, ipID = "ip_id"
        case dontFragment = "df", sourcePort = "sport", localPort = "local_port", flags, window = "win"
        case kernelRTTNanoseconds = "kernel_rtt_ns", sendToReplyNanoseconds = "send_to_reply_ns", detail
    }
}

/// Whether the first probe paid for something the others did not (ARP or neighbour
/// discovery, a cold route or socket cache) and is reported apart.
///
/// The rule: the first probe is set apart when it was answered, at least two later
/// probes were answered, and its time from the send call to the reply is more than
/// twice the median of the later ones and at least 20 µs above it. The factor keeps
/// ordinary jitter in; the 20 µs floor keeps a 10 µs → 25 µs wobble on loopback from
/// counting. The send-to-reply time is used rather than the kernel's TX → RX, because a
/// packet waiting for ARP is stamped only when it finally leaves. The statistics in
/// `rtt_ns` still include probe 1 (as ping's do); `steady_rtt_ns` leaves it out.
public struct FirstProbeVerdict: Codable, Sendable, Equatable {
    public var firstNanoseconds: UInt64
    /// Median of the answered probes after the first (the lower middle one for an even count).
    public var restMedianNanoseconds: UInt64
    public var apart: Bool

    public static let factor: UInt64 = 2
    public static let floorNanoseconds: UInt64 = 20_000
    public static let rule = "probe 1 is apart when answered, at least 2 later probes answered, and its send-to-reply time is > 2 × the later probes' median and ≥ 20 µs above it"

    enum CodingKeys: String, CodingKey {
        case firstNanoseconds = "first_rtt_ns", restMedianNanoseconds = "rest_p50_ns", apart
    }

    public init(firstNanoseconds: UInt64, restMedianNanoseconds: UInt64, apart: Bool) {
        self.firstNanoseconds = firstNanoseconds
        self.restMedianNanoseconds = restMedianNanoseconds
        self.apart = apart
    }

    /// Applies the rule to the probes in order (nil: unanswered); nil when it cannot apply.
    public static func evaluate(_ rtts: [UInt64?]) -> FirstProbeVerdict? {
        guard let firstOptional = rtts.first, let first = firstOptional else { return nil }
        let rest = rtts.dropFirst().compactMap { $0 }.sorted()
        guard rest.count >= 2 else { return nil }
        let median = rest[(rest.count - 1) / 2]
        let apart = first > factor * median && first - median >= floorNanoseconds
        return FirstProbeVerdict(firstNanoseconds: first, restMedianNanoseconds: median, apart: apart)
    }
}

/// The JSON report of `wirelat probe` (INTERFACE.md, "JSON reports").
public struct ProbeReport: Codable, Sendable, Equatable {
    public var command = "probe"
    public var method: ProbeMethod
    /// `10.77.0.2:1521`, `[fd00:77::2]:1521`, or the bare address for ICMP.
    public var target: String
    public var label: String
    /// Round trips timed (answered probes).
    public var samples: UInt64
    public var rttNanoseconds: LatencySummary
    public var sent: Int
    public var lost: Int
    /// Answers by kind: `SA`, `RA`, `connected`, `refused`, `reply`, `timeout`, `unreachable`.
    public var outcomes: [String: Int]
    /// The clock most samples used; `clocks` counts each when they differ.
    public var clock: ProbeClock?
    public var clockLabel: String?
    public var clocks: [String: Int]?
    /// `raw` (SOCK_RAW), `ping` (SOCK_DGRAM ICMP) or `stream` (a TCP socket).
    public var socket: String
    public var intervalNanoseconds: UInt64
    public var timeoutNanoseconds: UInt64
    public var payloadBytes: Int?
    public var durationNanoseconds: UInt64
    public var firstProbe: FirstProbeVerdict?
    /// The statistics without probe 1, when it is apart (``FirstProbeVerdict``).
    public var steadyRTTNanoseconds: LatencySummary?
    public var interrupted = false
    public var replies: [ProbeReply]

    enum CodingKeys: String, CodingKey {
        case command, method, target, label, samples, rttNanoseconds = "rtt_ns", sent, lost, outcomes, clock
        case clockLabel = "clock_label", clocks, socket, intervalNanoseconds = "interval_ns"
        case timeoutNanoseconds = "timeout_ns", payloadBytes = "payload_bytes", durationNanoseconds = "duration_ns"
        case firstProbe = "first_probe", steadyRTTNanoseconds = "steady_rtt_ns", interrupted, replies
    }

    /// Builds the report from the probes in the order they were sent.
    public init(method: ProbeMethod, target: String, socket: String, replies: [ProbeReply],
                intervalNanoseconds: UInt64, timeoutNanoseconds: UInt64, payloadBytes: Int? = nil,
                durationNanoseconds: UInt64, interrupted: Bool = false) {
        self.method = method
        self.target = target
        self.socket = socket
        self.replies = replies
        self.intervalNanoseconds = intervalNanoseconds
        self.timeoutNanoseconds = timeoutNanoseconds
        self.payloadBytes = payloadBytes
        self.durationNanoseconds = durationNanoseconds
        self.interrupted = interrupted

        var recorder = LatencyRecorder()
        var outcomes: [String: Int] = [:]
        var clocks: [ProbeClock: Int] = [:]
        for r in replies {
            outcomes[r.outcome.rawValue, default: 0] += 1
            if r.outcome.answered, let rtt = r.rttNanoseconds {
                recorder.record(rtt)
                if let c = r.clock { clocks[c, default: 0] += 1 }
            }
        }
        self.outcomes = outcomes
        samples = recorder.count
        rttNanoseconds = recorder.summary()
        sent = replies.count
        lost = replies.filter { !$0.outcome.answered }.count
        let ranked = clocks.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue }
        clock = ranked.first?.key
        clockLabel = clock?.label
        self.clocks = clocks.count > 1 ? Dictionary(uniqueKeysWithValues: clocks.map { ($0.key.rawValue, $0.value) }) : nil
        label = Self.label(method: method, outcomes: outcomes)

        let rtts = replies.map { $0.outcome.answered ? $0.rttNanoseconds : nil }
        firstProbe = FirstProbeVerdict.evaluate(replies.map { $0.outcome.answered ? $0.sendToReplyNanoseconds ?? $0.rttNanoseconds : nil })
        if firstProbe?.apart == true {
            var steady = LatencyRecorder()
            for rtt in rtts.dropFirst().compactMap({ $0 }) { steady.record(rtt) }
            steadyRTTNanoseconds = steady.summary()
        }
    }

    /// A SYN probe answered only by RSTs times SYN→RST; one with both says so.
    static func label(method: ProbeMethod, outcomes: [String: Int]) -> String {
        switch method {
        case .tcpSYN:
            let sa = outcomes[ProbeOutcome.synAck.rawValue, default: 0]
            let ra = outcomes[ProbeOutcome.reset.rawValue, default: 0]
            if ra > 0 && sa == 0 { return "SYN→RST RTT" }
            if ra > 0 && sa > 0 { return "SYN→SYN-ACK/RST RTT" }
            return method.label
        case .tcpConnect:
            let refused = outcomes[ProbeOutcome.refused.rawValue, default: 0]
            let connected = outcomes[ProbeOutcome.connected.rawValue, default: 0]
            if refused > 0 && connected == 0 { return "connect()→refused RTT" }
            return method.label
        default:
            return method.label
        }
    }

    /// Whether anything answered: `wirelat probe` exits 1 when nothing did.
    public var anythingAnswered: Bool { replies.contains { $0.outcome.answered } }
}
