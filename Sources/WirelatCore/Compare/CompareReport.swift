import FoundationEssentials

/// One row of `wirelat compare`: one method's round trips.
public struct CompareMethodReport: Codable, Sendable, Equatable {
    /// The command that measured it: `compare`, or for `--from` the saved report's own.
    public var command: String
    public var method: String
    /// The name in the table and the legend: the method, and for `--from` the file it came from.
    public var name: String
    public var label: String
    public var target: String
    public var samples: UInt64
    public var sent: Int?
    public var lost: Int?
    public var rttNanoseconds: LatencySummary
    public var clock: String?
    /// Every sample, in the order measured, when known: the CDF and histogram are drawn
    /// from these; a row without them is drawn from its percentiles.
    public var rttSamplesNanoseconds: [UInt64]?
    public var source: String?

    public init(command: String, method: String, name: String? = nil, label: String, target: String, samples: UInt64,
                sent: Int? = nil, lost: Int? = nil, rttNanoseconds: LatencySummary, clock: String? = nil,
                rttSamplesNanoseconds: [UInt64]? = nil, source: String? = nil) {
        self.command = command
        self.method = method
        self.name = name ?? method
        self.label = label
        self.target = target
        self.samples = samples
        self.sent = sent
        self.lost = lost
        self.rttNanoseconds = rttNanoseconds
        self.clock = clock
        self.rttSamplesNanoseconds = rttSamplesNanoseconds
        self.source = source
    }

    /// A row from live probes: statistics from the answered ones.
    public init(method: ProbeMethod, target: String, replies: [ProbeReply]) {
        var recorder = LatencyRecorder()
        var samples: [UInt64] = []
        var clocks: [String: Int] = [:]
        var outcomes: [String: Int] = [:]
        for r in replies { outcomes[r.outcome.rawValue, default: 0] += 1 }
        for r in replies where r.outcome.answered {
            guard let rtt = r.rttNanoseconds else { continue }
            recorder.record(rtt)
            samples.append(rtt)
            if let c = r.clock { clocks[c.rawValue, default: 0] += 1 }
        }
        let clock = clocks.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        self.init(command: "compare", method: method.rawValue, label: ProbeReport.label(method: method, outcomes: outcomes), target: target,
                  samples: recorder.count, sent: replies.count, lost: replies.filter { !$0.outcome.answered }.count,
                  rttNanoseconds: recorder.summary(), clock: clock, rttSamplesNanoseconds: samples)
    }

    enum CodingKeys: String, CodingKey {
        case command, method, name, label, target, samples, sent, lost, rttNanoseconds = "rtt_ns", clock
        case rttSamplesNanoseconds = "rtt_samples_ns", source
    }

    /// Whether this row is ICMP echo (live `icmp-echo`, or capture's `icmp`).
    var isICMP: Bool { method == ProbeMethod.icmpEcho.rawValue || method == "icmp" }
    /// Whether this row is a TCP request/response exchange (client, compare, or capture's `reqresp`).
    var isRequestResponse: Bool { method == ProbeMethod.tcpRequestResponse.rawValue || method == "reqresp" }
    /// Whether this row is a TCP handshake (SYN probe, connect, or capture's `handshake`).
    var isHandshake: Bool {
        method == ProbeMethod.tcpSYN.rawValue || method == ProbeMethod.tcpConnect.rawValue || method == "handshake"
    }
}

/// The JSON report of `wirelat compare`: `{"command":"compare","methods":[…]}`.
public struct CompareReport: Codable, Sendable, Equatable {
    public var command = "compare"
    public var target: String
    /// Rounds measured (one probe of each method per round), 0 for `--from`.
    public var rounds: Int
    public var intervalNanoseconds: UInt64?
    public var methods: [CompareMethodReport]
    /// What was skipped and why, and other remarks.
    public var notes: [String]
    /// ``CompareSentence``'s reading of the table.
    public var sentence: String

    public init(target: String, rounds: Int, intervalNanoseconds: UInt64? = nil, methods: [CompareMethodReport],
                notes: [String]) {
        self.target = target
        self.rounds = rounds
        self.intervalNanoseconds = intervalNanoseconds
        self.methods = methods
        self.notes = notes
        sentence = CompareSentence.make(methods)
    }

    /// The TCP rows (SYN, connect, request/response), by method name.
    public var tcpMethodNames: [String] {
        methods.filter { $0.isHandshake || $0.isRequestResponse }.map(\.method)
    }

    /// True when there were TCP rows and every probe of every one of them was lost: the
    /// port is filtered (or the host gone) even if ICMP answered. `compare` then exits 1,
    /// as `probe syn` and `probe connect` do when nothing answers.
    public var everyTCPProbeLost: Bool {
        let tcp = methods.filter { $0.isHandshake || $0.isRequestResponse }
        return !tcp.isEmpty && tcp.allSatisfy { $0.samples == 0 }
    }

    enum CodingKeys: String, CodingKey {
        case command, target, rounds, intervalNanoseconds = "interval_ns", methods, notes, sentence
    }
}

/// Why a file given to `compare --from` could not be read.
public struct CompareInputError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// Reads saved JSON reports (client, probe, capture --rtt, compare) into rows.
public enum CompareMerge {
    /// The rows in one report. `source` names the file (its last path component is
    /// appended to each row's name so two files' rows stay apart).
    public static func rows(fromJSON data: Data, source: String) throws(CompareInputError) -> [CompareMethodReport] {
        guard let object = JSONAny.parse(data) else {
            throw CompareInputError(path: source, reason: "not JSON (The operation could not be completed. The data is not in the correct format.)")
        }
        guard let top = object as? [String: Any] else {
            throw CompareInputError(path: source, reason: "not a JSON object: expected a wirelat report")
        }
        let command = top["command"] as? String ?? "report"
        let file = source.split(separator: "/").last.map(String.init) ?? source
        var out: [CompareMethodReport] = []
        if let methods = top["methods"] as? [[String: Any]] {
            for m in methods {
                if let row = row(m, command: m["command"] as? String ?? command, fallbackTarget: top["target"] as? String, file: file, source: source) {
                    out.append(row)
                }
            }
        } else if let row = row(top, command: command, fallbackTarget: nil, file: file, source: source) {
            out.append(row)
        }
        if out.isEmpty {
            throw CompareInputError(path: source, reason: "no round-trip statistics (no \"rtt_ns\" object): expected a report written by wirelat client, probe, capture --rtt or compare --json")
        }
        return out
    }

    /// A JSON number.
    static func number(_ value: Any?) -> Double? {
        value as? Double
    }

    static func row(_ m: [String: Any], command: String, fallbackTarget: String?, file: String, source: String) -> CompareMethodReport? {
        guard let method = m["method"] as? String, let rtt = m["rtt_ns"] as? [String: Any] else { return nil }
        func u(_ v: Any?) -> UInt64 { UInt64(max(0, (number(v) ?? 0).rounded())) }
        func d(_ v: Any?) -> Double { number(v) ?? 0 }
        let samples = u(m["samples"])
        let summary = LatencySummary(count: samples, min: u(rtt["min"]), p50: u(rtt["p50"]), p90: u(rtt["p90"]),
                                     p99: u(rtt["p99"]), p999: u(rtt["p999"]), max: u(rtt["max"]),
                                     mean: d(rtt["mean"]), stddev: d(rtt["stddev"]))
        var points: [UInt64]?
        if let all = m["rtt_samples_ns"] as? [Any] {
            points = all.map { u($0) }
        } else if let replies = m["replies"] as? [[String: Any]] {
            let answered = replies.compactMap { r -> UInt64? in
                guard let outcome = r["result"] as? String, ProbeOutcome(rawValue: outcome)?.answered == true,
                      r["rtt_ns"] != nil else { return nil }
                return u(r["rtt_ns"])
            }
            points = answered.isEmpty ? nil : answered
        }
        var lost = number(m["lost"]).map { Int($0) }
        if lost == nil, let unanswered = number(m["unanswered"]) { lost = Int(unanswered) }
        let label = m["label"] as? String ?? ProbeMethod(rawValue: method)?.label ?? method
        let clock = (m["clock"] as? String)
        let originalName = m["name"] as? String ?? method
        return CompareMethodReport(
            command: command, method: method, name: "\(originalName) (\(file))", label: label,
            target: m["target"] as? String ?? fallbackTarget ?? "", samples: samples,
            sent: number(m["sent"]).map { Int($0) }, lost: lost, rttNanoseconds: summary, clock: clock,
            rttSamplesNanoseconds: points, source: source)
    }
}

/// The table `wirelat compare` prints: one row per method, every value a full round
/// trip in microseconds.
public enum CompareTable {
    public static let columns = ["samples", "lost", "min", "p50", "p90", "p99", "max", "mean", "stddev"]

    static func us(_ nanoseconds: Double) -> String { formatFixed(nanoseconds / 1000, 1) }

    /// The cells of one row, after the name: samples, lost, then min … stddev in µs
    /// ("-" where there are no samples).
    public static func cells(_ row: CompareMethodReport) -> [String] {
        let s = row.rttNanoseconds
        let lost = row.lost.map(String.init) ?? "-"
        guard row.samples > 0 else { return ["0", lost] + Array(repeating: "-", count: 7) }
        return [String(row.samples), lost, us(Double(s.min)), us(Double(s.p50)), us(Double(s.p90)), us(Double(s.p99)),
                us(Double(s.max)), us(s.mean), us(s.stddev)]
    }

    public static func render(_ rows: [CompareMethodReport]) -> String {
        let nameWidth = max(6, rows.map { $0.name.count }.max() ?? 6)
        let labelWidth = max(10, rows.map { $0.label.count }.max() ?? 10)
        let widths = [7, 5, 8, 8, 8, 8, 8, 8, 8]
        var out = rightPad("method", nameWidth) + "  " + rightPad("round trip", labelWidth)
        for (c, w) in zip(columns, widths) { out += " " + leftPad(c, w) }
        out += "\n"
        for row in rows {
            out += rightPad(row.name, nameWidth) + "  " + rightPad(row.label, labelWidth)
            for (c, w) in zip(cells(row), widths) { out += " " + leftPad(c, w) }
            out += "\n"
        }
        out += "(min … stddev in µs; every value a full round trip)\n"
        return out
    }
}

/// One sentence saying what the gap between ICMP and TCP means.
public enum CompareSentence {
    /// Compares the ICMP row's p50 with the TCP request/response row's (or, without one,
    /// a handshake row's), e.g. "ICMP's p50 is 45% below the TCP request/response p50
    /// (35.2 µs vs 64.0 µs): …". Differences within 5% are called agreement.
    public static func make(_ rows: [CompareMethodReport]) -> String {
        let live = rows.filter { $0.samples > 0 }
        guard let icmp = live.first(where: { $0.isICMP }) else {
            return "No ICMP echo samples: nothing to compare ping's view with."
        }
        guard let tcp = live.first(where: { $0.isRequestResponse }) ?? live.first(where: { $0.isHandshake }) else {
            return "No TCP samples: nothing to compare ping's view with."
        }
        let a = Double(icmp.rttNanoseconds.p50)
        let b = Double(tcp.rttNanoseconds.p50)
        guard b > 0 else { return "The TCP p50 is 0: nothing to compare." }
        let percent = (b - a) / b * 100
        let gap = formatFixed(abs(b - a) / 1000, 1)
        let values = "(\(formatFixed(a / 1000, 1)) µs vs \(formatFixed(b / 1000, 1)) µs)"
        let what = tcp.isRequestResponse ? "the TCP request/response p50" : "the \(tcp.label.replacing(" RTT", with: "")) p50"
        if abs(percent) < 5 {
            return "ICMP's p50 is within 5% of \(what) \(values): on this path ping is a fair stand-in for \(tcp.isRequestResponse ? "the round trip the application waits for" : "the TCP handshake")."
        }
        let magnitude = formatFixed(abs(percent), 0)
        if percent > 0 {
            if tcp.isRequestResponse {
                return "ICMP's p50 is \(magnitude)% below \(what) \(values): ping understates the round trip the application waits for by \(gap) µs, the time spent in both TCP stacks and in the server process (its wake-up, read and write), which an echo answered inside the peer's kernel never pays."
            }
            return "ICMP's p50 is \(magnitude)% below \(what) \(values): ping understates a TCP round trip by \(gap) µs, the cost of TCP's own processing (and, for connect, of the wake-up) over an echo answered inside the kernel."
        }
        return "ICMP's p50 is \(magnitude)% above \(what) \(values): here ping overstates the TCP round trip by \(gap) µs; ICMP may be deprioritised or rate-limited on this path, so do not size the application from ping."
    }
}
