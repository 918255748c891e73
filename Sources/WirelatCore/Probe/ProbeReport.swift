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
    /// Redis: PING → +PONG on one connection (docs/APP-PROBES.md).
    case redis
    /// HTTP/1.1: HEAD PATH → the status line and headers, on one keep-alive connection.
    case http
    /// PostgreSQL: SSLRequest → `S`/`N`, or a query on an authenticated session.
    case pg
    /// MySQL/MariaDB: the server's greeting, or COM_PING on an authenticated session.
    case mysql
    /// The Oracle listener: a TNS CONNECT carrying `(CONNECT_DATA=(COMMAND=ping))` → its REFUSE.
    case tns
    /// Generic TCP: the given bytes → the expected answer (bytes, a count, or a regex).
    case tcpSendExpect = "tcp-send-expect"

    /// The application-protocol probes: each times the listener's own request/response,
    /// with the TCP handshake reported apart.
    public var isApplicationProtocol: Bool {
        switch self {
        case .redis, .http, .pg, .mysql, .tns, .tcpSendExpect: return true
        case .tcpSYN, .tcpConnect, .icmpEcho, .tcpRequestResponse: return false
        }
    }

    /// Which round trip the method times (INTERFACE.md: the label says which).
    public var label: String {
        switch self {
        case .tcpSYN: return "SYN→SYN-ACK RTT"
        case .tcpConnect: return "connect()→writable RTT"
        case .icmpEcho: return "ICMP echo→echo-reply RTT"
        case .tcpRequestResponse: return "TCP request/response RTT"
        case .redis: return "Redis PING→+PONG RTT"
        case .http: return "HTTP request→response RTT"
        case .pg: return "PostgreSQL request→answer RTT"
        case .mysql: return "MySQL request→answer RTT"
        case .tns: return "TNS CONNECT→answer RTT"
        case .tcpSendExpect: return "TCP send→expected answer RTT"
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
    /// An application protocol's error answer (`-NOAUTH …`, `-ERR …`): one round trip all the same.
    case errorReply = "error-reply"
    /// What came back is not the protocol probed (the detail says what it was).
    case wrongProtocol = "wrong-protocol"
    /// The server closed the connection before answering.
    case closed

    /// Whether the peer answered (a RST answers, as in hping's `RA`).
    public var answered: Bool {
        switch self {
        case .synAck, .reset, .connected, .refused, .reply, .errorReply: return true
        case .timeout, .unreachable, .wrongProtocol, .closed: return false
        }
    }
}

/// Which clock timed a round trip (INTERFACE.md, "Two clocks").
public enum ProbeClock: String, Codable, Sendable, CaseIterable {
    /// Kernel software timestamps: the request's TX at the device → the reply's RX at the
    /// device (SO_TIMESTAMPING); for connect, the kernel's own handshake sample
    /// (TCP_INFO tcpi_rtt). What the network and the peer cost.
    case wire
    /// CLOCK_MONOTONIC from just before the send call to the return of the receive call
    /// (for connect, connect() → writable). What the application waits for.
    case app
    /// ICMP only: the send time read in user space → the kernel's RX timestamp of the
    /// reply, the mixed clock iputils ping prints as `time=`.
    case ping

    /// What the clock is for `method`: connect's wire clock is the kernel's TCP_INFO sample.
    public func label(for method: ProbeMethod) -> String {
        switch (self, method) {
        case (.wire, .tcpConnect): return "wire: the kernel's handshake RTT sample, TCP_INFO tcpi_rtt (µs resolution; excludes the wake-up)"
        case (.app, .tcpConnect): return "app: CLOCK_MONOTONIC from connect() → writable (includes system calls and the wake-up)"
        default: return label
        }
    }

    public var label: String {
        switch self {
        case .wire: return "wire: kernel software timestamps, TX at the device → RX at the device (SO_TIMESTAMPING; excludes both wake-ups)"
        case .app: return "app: CLOCK_MONOTONIC before the send call → return of the receive call (includes system calls and the wake-up)"
        case .ping: return "ping: send time in user space → kernel RX timestamp (what iputils ping prints as time=)"
        }
    }
}

/// One probe: what was sent and what came back.
public struct ProbeReply: Codable, Sendable, Equatable {
    /// hping's seq (from 0) for TCP probes; ping's icmp_seq (from 1) for echo.
    public var seq: Int
    public var outcome: ProbeOutcome
    /// The round trip on `clock`: wire when it was measured, else app.
    public var rttNanoseconds: UInt64?
    public var clock: ProbeClock?
    /// The round trip on each clock, where it was measured.
    public var wireRTTNanoseconds: UInt64?
    public var appRTTNanoseconds: UInt64?
    public var pingRTTNanoseconds: UInt64?
    /// Why this answered probe has no wire (or ping) time.
    public var wireClockMissing: String?
    public var pingClockMissing: String?
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
    /// From the send call to the reply (user-space send time → kernel RX timestamp, or
    /// CLOCK_MONOTONIC): unlike kernel TX → RX, this includes what the first packet may
    /// wait for before it leaves (ARP, neighbour discovery). The first-probe rule uses it.
    public var sendToReplyNanoseconds: UInt64?
    /// When the probe was sent: ns since the epoch (CLOCK_REALTIME), as capture's samples' `time_ns`.
    public var timeNanoseconds: Int64?
    public var detail: String?

    /// A reply timed on one clock: `rttNanoseconds` is also that clock's own field.
    public init(seq: Int, outcome: ProbeOutcome, rttNanoseconds: UInt64? = nil, clock: ProbeClock? = nil) {
        self.seq = seq
        self.outcome = outcome
        if let rtt = rttNanoseconds, let clock {
            setClocks(wire: clock == .wire ? rtt : nil, app: clock == .app ? rtt : nil, ping: clock == .ping ? rtt : nil)
        } else {
            self.rttNanoseconds = rttNanoseconds
            self.clock = clock
        }
    }

    /// Records the round trip on each clock measured; `rtt_ns` becomes wire when there
    /// is one, else app, else ping.
    public mutating func setClocks(wire: UInt64?, app: UInt64?, ping: UInt64? = nil) {
        wireRTTNanoseconds = wire
        appRTTNanoseconds = app
        pingRTTNanoseconds = ping
        if let wire {
            rttNanoseconds = wire
            clock = .wire
        } else if let app {
            rttNanoseconds = app
            clock = .app
        } else {
            rttNanoseconds = ping
            clock = ping == nil ? nil : .ping
        }
    }

    /// The round trip on `clock`, where it was measured.
    public func rtt(_ clock: ProbeClock) -> UInt64? {
        switch clock {
        case .wire: return wireRTTNanoseconds
        case .app: return appRTTNanoseconds
        case .ping: return pingRTTNanoseconds
        }
    }

    enum CodingKeys: String, CodingKey {
        case seq, outcome = "result", rttNanoseconds = "rtt_ns", clock
        case wireRTTNanoseconds = "wire_rtt_ns", appRTTNanoseconds = "app_rtt_ns", pingRTTNanoseconds = "ping_rtt_ns"
        case wireClockMissing = "wire_clock_missing", pingClockMissing = "ping_clock_missing"
        case length = "len", ttl, ipID = "ip_id"
        case dontFragment = "df", sourcePort = "sport", localPort = "local_port", flags, window = "win"
        case sendToReplyNanoseconds = "send_to_reply_ns", timeNanoseconds = "time_ns", detail
    }

    /// The `--samples` line of an answered probe (INTERFACE.md, "Two clocks"), each clock
    /// measured for it: `{"method":"tcp-syn","time_ns":…,"wire_rtt_ns":9512,"app_rtt_ns":31877}`
    /// (and `"ping_rtt_ns"` for ICMP); nil for an unanswered probe.
    public func sampleLine(method: ProbeMethod) -> String? {
        guard outcome.answered, rttNanoseconds != nil else { return nil }
        var line = "{\"method\":\"\(method.rawValue)\",\"time_ns\":\(timeNanoseconds ?? 0)"
        for clock in ProbeReport.clocks(for: method) {
            if let v = rtt(clock) { line += ",\"\(clock.rawValue)_rtt_ns\":\(v)" }
        }
        return line + "}"
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

/// The JSON report of `wirelat probe` (INTERFACE.md, "JSON reports" and "Two clocks").
public struct ProbeReport: Codable, Sendable, Equatable {
    public var command = "probe"
    public var method: ProbeMethod
    /// `10.77.0.2:1521`, `[fd00:77::2]:1521`, or the bare address for ICMP.
    public var target: String
    public var label: String
    /// Round trips timed (answered probes).
    public var samples: UInt64
    /// The round trips on `clock`: wire when every answered probe has a wire time, else app.
    public var rttNanoseconds: LatencySummary
    public var sent: Int
    public var lost: Int
    /// Answers by kind: `SA`, `RA`, `connected`, `refused`, `reply`, `timeout`, `unreachable`.
    public var outcomes: [String: Int]
    /// Which clock `rtt_ns` is.
    public var clock: ProbeClock?
    public var clockLabel: String?
    /// Each clock's distribution, over the answered probes it timed; absent where it was
    /// not measured, and then `<clock>_clock_missing` says why.
    public var wireRTT: LatencySummary?
    public var appRTT: LatencySummary?
    /// ICMP only: iputils ping's clock.
    public var pingRTT: LatencySummary?
    /// Why a clock is absent, or covers fewer probes than were answered.
    public var wireClockMissing: String?
    public var appClockMissing: String?
    public var pingClockMissing: String?
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
        case clockLabel = "clock_label", wireRTT = "wire_rtt_ns", appRTT = "app_rtt_ns", pingRTT = "ping_rtt_ns"
        case wireClockMissing = "wire_clock_missing", appClockMissing = "app_clock_missing"
        case pingClockMissing = "ping_clock_missing", socket, intervalNanoseconds = "interval_ns"
        case timeoutNanoseconds = "timeout_ns", payloadBytes = "payload_bytes", durationNanoseconds = "duration_ns"
        case firstProbe = "first_probe", steadyRTTNanoseconds = "steady_rtt_ns", interrupted, replies
    }

    /// The clocks a method measures: ping's only for ICMP.
    public static func clocks(for method: ProbeMethod) -> [ProbeClock] {
        method == .icmpEcho ? [.wire, .ping, .app] : [.wire, .app]
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

        var outcomes: [String: Int] = [:]
        for r in replies { outcomes[r.outcome.rawValue, default: 0] += 1 }
        self.outcomes = outcomes
        sent = replies.count
        lost = replies.filter { !$0.outcome.answered }.count
        label = Self.label(method: method, outcomes: outcomes)

        let answered = replies.filter { $0.outcome.answered && $0.rttNanoseconds != nil }
        for c in Self.clocks(for: method) {
            let values = answered.compactMap { $0.rtt(c) }
            var missing: String?
            if values.count < answered.count {
                let reasons = answered.filter { $0.rtt(c) == nil }.compactMap { c == .ping ? $0.pingClockMissing : $0.wireClockMissing }
                let why = reasons.first ?? "not measured"
                missing = values.isEmpty ? why : "\(answered.count - values.count) of \(answered.count) answered probes: \(why)"
            }
            var summary: LatencySummary?
            if !values.isEmpty {
                var recorder = LatencyRecorder()
                for v in values { recorder.record(v) }
                summary = recorder.summary()
            }
            switch c {
            case .wire: wireRTT = summary; wireClockMissing = missing
            case .app: appRTT = summary; appClockMissing = missing
            case .ping: pingRTT = summary; pingClockMissing = missing
            }
        }

        // rtt_ns is one clock throughout: wire when every answered probe has it, else app.
        let chosen: ProbeClock? = answered.isEmpty ? nil
            : answered.allSatisfy({ $0.wireRTTNanoseconds != nil }) ? .wire
            : answered.allSatisfy({ $0.appRTTNanoseconds != nil }) ? .app : nil
        let rtts: [UInt64?] = replies.map { r in
            guard r.outcome.answered, r.rttNanoseconds != nil else { return nil }
            return chosen.flatMap { r.rtt($0) } ?? r.rttNanoseconds
        }
        var recorder = LatencyRecorder()
        for rtt in rtts.compactMap({ $0 }) { recorder.record(rtt) }
        samples = recorder.count
        rttNanoseconds = recorder.summary()
        clock = chosen ?? answered.first?.clock
        clockLabel = clock?.label(for: method)

        firstProbe = FirstProbeVerdict.evaluate(replies.map { $0.outcome.answered ? $0.sendToReplyNanoseconds ?? $0.rttNanoseconds : nil })
        if firstProbe?.apart == true {
            var steady = LatencyRecorder()
            for rtt in rtts.dropFirst().compactMap({ $0 }) { steady.record(rtt) }
            steadyRTTNanoseconds = steady.summary()
        }
    }

    /// The p50 the application pays on this host beyond the wire (app − wire), when both were measured.
    public var hostOverheadP50Nanoseconds: Int64? {
        guard let w = wireRTT, let a = appRTT else { return nil }
        return Int64(a.p50) - Int64(w.p50)
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

    /// Every clock's distribution as HdrHistogram's percentile-distribution text (the
    /// `.hgrm` wrk2 prints and HdrHistogram's plotter reads), one section per clock
    /// measured, each opened by `#[method=<m> clock=<c>]`. Values in milliseconds.
    public func hgrm() -> String {
        var text = ""
        for clock in Self.clocks(for: method) {
            var recorder = LatencyRecorder()
            for r in replies where r.outcome.answered && r.rttNanoseconds != nil {
                if let v = r.rtt(clock) { recorder.record(v) }
            }
            guard !recorder.isEmpty else { continue }
            text += "#[method=\(method.rawValue) clock=\(clock.rawValue)]\n" + recorder.percentileDistribution()
        }
        return text
    }

    /// Whether anything answered: `wirelat probe` exits 1 when nothing did.
    public var anythingAnswered: Bool { replies.contains { $0.outcome.answered } }
}
