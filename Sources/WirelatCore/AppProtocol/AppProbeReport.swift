/// One TCP handshake of an application-protocol probe: timed as `probe connect` times it
/// (wire: the kernel's TCP_INFO sample; app: connect() → writable), reported apart from
/// the protocol's round trips.
public struct AppConnectSample: Codable, Sendable, Equatable {
    /// The probe this connection was opened for (from 0).
    public var seq: Int
    /// `connected`, `refused`, `timeout` or `unreachable`.
    public var outcome: ProbeOutcome
    public var wireRTTNanoseconds: UInt64?
    public var appRTTNanoseconds: UInt64?
    public var wireClockMissing: String?
    public var localPort: Int?
    /// When connect() was called: ns since the epoch.
    public var timeNanoseconds: Int64?
    /// Why a connection was opened again in session mode (the server closed it, a timeout
    /// left it in an unknown state); nil for the first one and in per-connection mode.
    public var reconnectReason: String?
    public var detail: String?

    public init(seq: Int, outcome: ProbeOutcome) {
        self.seq = seq
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case seq, outcome = "result", wireRTTNanoseconds = "wire_rtt_ns", appRTTNanoseconds = "app_rtt_ns"
        case wireClockMissing = "wire_clock_missing", localPort = "local_port", timeNanoseconds = "time_ns"
        case reconnectReason = "reconnect_reason", detail
    }

    /// The handshake as a `tcp-connect` probe reply, so the connect statistics are built
    /// and printed as `probe connect`'s are.
    public var asConnectReply: ProbeReply {
        var r = ProbeReply(seq: seq, outcome: outcome)
        if outcome == .connected { r.setClocks(wire: wireRTTNanoseconds, app: appRTTNanoseconds) }
        r.wireClockMissing = wireClockMissing
        r.localPort = localPort
        r.timeNanoseconds = timeNanoseconds
        r.sendToReplyNanoseconds = appRTTNanoseconds
        r.detail = detail
        return r
    }
}

/// The JSON report of an application-protocol probe: every key of ``ProbeReport`` (its
/// `rtt_ns`, `wire_rtt_ns`, `app_rtt_ns` are the protocol's request → answer round trips,
/// handshakes excluded), plus the TCP handshakes apart (`connect_rtt_ns`,
/// `connect_wire_rtt_ns`, `connect_app_rtt_ns`, `connect_clock`, `connections`) and the
/// counts a user of a real listener needs: `connects`, `reconnects`, `error_answers`,
/// `wrong_answers`, `closes`, `timeouts`, and `failure`, the one line that stopped the probe.
public struct AppProbeReport: Codable, Sendable, Equatable {
    public var probe: ProbeReport
    public var mode: AppSessionMode
    /// The handshakes as a `tcp-connect` report (its replies are ``connections``).
    public var handshake: ProbeReport
    public var connections: [AppConnectSample]
    public var connects: Int
    public var reconnects: Int
    public var errorAnswers: Int
    public var wrongAnswers: Int
    public var closes: Int
    public var timeouts: Int
    /// Why the probe stopped early (a wrong protocol, a closed port), as printed on stderr.
    public var failure: String?

    public init(probe: ProbeReport, mode: AppSessionMode, connections: [AppConnectSample], failure: String?) {
        self.probe = probe
        self.mode = mode
        self.connections = connections
        self.failure = failure
        handshake = ProbeReport(method: .tcpConnect, target: probe.target, socket: probe.socket,
                                replies: connections.map(\.asConnectReply), intervalNanoseconds: probe.intervalNanoseconds,
                                timeoutNanoseconds: probe.timeoutNanoseconds, durationNanoseconds: probe.durationNanoseconds)
        connects = connections.filter { $0.outcome == .connected }.count
        reconnects = connections.filter { $0.reconnectReason != nil }.count
        errorAnswers = probe.outcomes[ProbeOutcome.errorReply.rawValue, default: 0]
        wrongAnswers = probe.outcomes[ProbeOutcome.wrongProtocol.rawValue, default: 0]
        closes = probe.outcomes[ProbeOutcome.closed.rawValue, default: 0]
        timeouts = probe.outcomes[ProbeOutcome.timeout.rawValue, default: 0]
    }

    /// Answers of the protocol, errors of its own included (`+PONG` and `-NOAUTH` alike).
    public var answered: Int { probe.outcomes[ProbeOutcome.reply.rawValue, default: 0] + errorAnswers }

    enum Keys: String, CodingKey {
        case mode, connections, connects, reconnects, errorAnswers = "error_answers", wrongAnswers = "wrong_answers"
        case closes, timeouts, failure, connectRTT = "connect_rtt_ns", connectClock = "connect_clock"
        case connectWireRTT = "connect_wire_rtt_ns", connectAppRTT = "connect_app_rtt_ns"
        case connectWireClockMissing = "connect_wire_clock_missing", connectLabel = "connect_label"
    }

    /// One flat object: the probe report's keys and these beside them.
    public func encode(to encoder: any Encoder) throws {
        try probe.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(mode, forKey: .mode)
        try c.encode(connects, forKey: .connects)
        try c.encode(reconnects, forKey: .reconnects)
        try c.encode(errorAnswers, forKey: .errorAnswers)
        try c.encode(wrongAnswers, forKey: .wrongAnswers)
        try c.encode(closes, forKey: .closes)
        try c.encode(timeouts, forKey: .timeouts)
        try c.encodeIfPresent(failure, forKey: .failure)
        try c.encode(handshake.label, forKey: .connectLabel)
        if handshake.samples > 0 {
            try c.encode(handshake.rttNanoseconds, forKey: .connectRTT)
            try c.encodeIfPresent(handshake.clock, forKey: .connectClock)
        }
        try c.encodeIfPresent(handshake.wireRTT, forKey: .connectWireRTT)
        try c.encodeIfPresent(handshake.appRTT, forKey: .connectAppRTT)
        try c.encodeIfPresent(handshake.wireClockMissing, forKey: .connectWireClockMissing)
        try c.encode(connections, forKey: .connections)
    }

    public init(from decoder: any Decoder) throws {
        let probe = try ProbeReport(from: decoder)
        let c = try decoder.container(keyedBy: Keys.self)
        self.init(probe: probe, mode: try c.decode(AppSessionMode.self, forKey: .mode),
                  connections: try c.decode([AppConnectSample].self, forKey: .connections),
                  failure: try c.decodeIfPresent(String.self, forKey: .failure))
    }
}

/// The text of an application-protocol probe: a line per connection and per request,
/// then the statistics of the round trips and, apart, of the handshakes.
public enum AppProbeText {
    /// `REDIS 127.0.0.1 port 6379: PING (RESP) → +PONG on one connection, …`
    public static func header(method: ProbeMethod, host: String, port: UInt16, summary: String) -> String {
        "\(method.rawValue.uppercased()) \(host) port \(port): \(summary)"
    }

    static func clocks(wire: UInt64?, app: UInt64?) -> String {
        if let wire {
            return "rtt=\(ProbeText.ms(wire)) ms clock=wire" + (app.map { " app=\(ProbeText.ms($0)) ms" } ?? "")
        }
        return app.map { "rtt=\(ProbeText.ms($0)) ms clock=app" } ?? ""
    }

    /// `connect ip=127.0.0.1 dport=6379 sport=40312 handshake rtt=0.021 ms clock=wire app=0.052 ms`,
    /// with `(reconnect: why)` when a session was reopened.
    public static func connectLine(_ c: AppConnectSample, host: String, port: UInt16, timeoutNanoseconds: UInt64) -> String {
        let local = c.localPort.map { " sport=\($0)" } ?? ""
        var s: String
        switch c.outcome {
        case .connected:
            s = "connect ip=\(host) dport=\(port)\(local) handshake \(clocks(wire: c.wireRTTNanoseconds, app: c.appRTTNanoseconds))"
        case .refused:
            s = "refused ip=\(host) dport=\(port)\(local) flags=RA (connection refused: nothing listens there)"
        case .timeout:
            s = "connect timeout ip=\(host) dport=\(port) (no answer to the SYN within \(formatDuration(nanoseconds: timeoutNanoseconds)))"
        default:
            s = "connect failed ip=\(host) dport=\(port)\(c.detail.map { " (\($0))" } ?? "")"
        }
        if let why = c.reconnectReason { s += " (reconnect: \(why))" }
        return s
    }

    /// `redis ip=127.0.0.1 dport=6379 sport=40312 seq=0 +PONG rtt=0.031 ms clock=wire app=0.055 ms`.
    public static func line(_ r: ProbeReply, method: ProbeMethod, host: String, port: UInt16, timeoutNanoseconds: UInt64) -> String {
        let local = r.localPort.map { " sport=\($0)" } ?? ""
        let head = "\(method.rawValue) ip=\(host) dport=\(port)\(local) seq=\(r.seq)"
        switch r.outcome {
        case .reply, .errorReply:
            let answer = r.detail ?? ""
            return "\(head) \(answer) \(clocks(wire: r.wireRTTNanoseconds, app: r.appRTTNanoseconds))"
        case .timeout:
            return "\(head) timeout (no answer within \(formatDuration(nanoseconds: timeoutNanoseconds)))\(r.detail.map { ": \($0)" } ?? "")"
        case .wrongProtocol:
            return "\(head) wrong protocol: \(r.detail ?? "")"
        case .closed:
            return "\(head) closed: \(r.detail ?? "the server closed the connection")"
        case .refused:
            return "\(head) refused (nothing listens there)"
        default:
            return "\(head) \(r.outcome.rawValue)\(r.detail.map { ": \($0)" } ?? "")"
        }
    }

    /// The statistics block.
    public static func summary(_ report: AppProbeReport, host: String) -> String {
        let p = report.probe
        var out = "\n--- \(host) \(p.method.rawValue) statistics ---\n"
        out += "\(p.sent) request\(p.sent == 1 ? "" : "s"), \(report.answered) answered"
        out += " (\(report.errorAnswers) error answer\(report.errorAnswers == 1 ? "" : "s")), \(report.wrongAnswers) wrong protocol, \(report.closes) closed, \(report.timeouts) timeout"
        out += "; \(report.connections.count) connection\(report.connections.count == 1 ? "" : "s") (\(report.mode.rawValue)"
        if report.mode == .session { out += ", \(report.reconnects) reconnect\(report.reconnects == 1 ? "" : "s")" }
        out += ")\n"
        if p.samples > 0 {
            out += "\(p.label), \(p.samples) sample\(p.samples == 1 ? "" : "s"); rtt_ns is the \(p.clock?.rawValue ?? "-") clock (the TCP handshake is not in it)\n"
            out += ProbeText.clockTable(p)
        }
        let h = report.handshake
        if h.samples > 0 {
            out += "TCP handshake (connect()→writable), \(h.samples) sample\(h.samples == 1 ? "" : "s"), reported apart as connect_rtt_ns\n"
            out += ProbeText.clockTable(h)
        }
        if let failure = report.failure { out += "stopped: \(failure)\n" }
        if p.interrupted { out += "(interrupted: the statistics cover the requests sent so far)\n" }
        return out
    }
}
