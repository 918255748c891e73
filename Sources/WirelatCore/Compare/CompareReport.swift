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
    /// Each clock's statistics, sample count, samples and, where it could not be had, why
    /// (INTERFACE.md, "Two clocks"): `wire_rtt_ns`, `wire_samples`, `wire_rtt_samples_ns`,
    /// `wire_clock_missing`, and likewise for `app` and `ping`.
    public var wireRTTNanoseconds: LatencySummary?
    public var appRTTNanoseconds: LatencySummary?
    public var pingRTTNanoseconds: LatencySummary?
    public var wireSamples: UInt64?
    public var appSamples: UInt64?
    public var pingSamples: UInt64?
    public var wireRTTSamplesNanoseconds: [UInt64]?
    public var appRTTSamplesNanoseconds: [UInt64]?
    public var pingRTTSamplesNanoseconds: [UInt64]?
    public var wireClockMissing: String?
    public var appClockMissing: String?
    public var pingClockMissing: String?

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

    /// A row from live probes: each clock's statistics from the answered probes it timed.
    /// `rtt_ns` is the wire clock's where any probe had it, else the app clock's (for ICMP,
    /// else ping's).
    public init(method: ProbeMethod, target: String, replies: [ProbeReply]) {
        var recorders: [ProbeClock: LatencyRecorder] = [:]
        var points: [ProbeClock: [UInt64]] = [:]
        var outcomes: [String: Int] = [:]
        for r in replies { outcomes[r.outcome.rawValue, default: 0] += 1 }
        let answered = replies.filter { $0.outcome.answered }
        for r in answered {
            for (clock, rtt) in r.roundTrips(method: method) {
                recorders[clock, default: LatencyRecorder()].record(rtt)
                points[clock, default: []].append(rtt)
            }
        }
        self.init(command: "compare", method: method.rawValue, label: ProbeReport.label(method: method, outcomes: outcomes),
                  target: target, samples: 0, sent: replies.count, lost: replies.count - answered.count,
                  rttNanoseconds: LatencySummary.empty)
        for clock in ProbeClock.allCases where clock.applies(to: method.rawValue) {
            if let recorder = recorders[clock], recorder.count > 0 {
                set(clock, summary: recorder.summary(), samples: recorder.count, points: points[clock])
            } else if !answered.isEmpty {
                self[missing: clock] = answered.lazy.compactMap { $0.missingReason(clock) }.first
                    ?? clock.defaultMissingReason(method: method.rawValue)
            }
        }
        let primary = [ProbeClock.wire, .app, .ping].first { self[summary: $0] != nil }
        if let primary {
            clock = primary.rawValue
            rttNanoseconds = self[summary: primary]!
            samples = self[samples: primary] ?? 0
            rttSamplesNanoseconds = self[points: primary]
        } else {
            rttSamplesNanoseconds = []
        }
    }

    /// Sets one clock's statistics.
    public mutating func set(_ clock: ProbeClock, summary: LatencySummary, samples: UInt64, points: [UInt64]?) {
        self[summary: clock] = summary
        self[samples: clock] = samples
        self[points: clock] = points
        self[missing: clock] = nil
    }

    public subscript(summary clock: ProbeClock) -> LatencySummary? {
        get { switch clock { case .wire: wireRTTNanoseconds; case .app: appRTTNanoseconds; case .ping: pingRTTNanoseconds } }
        set { switch clock { case .wire: wireRTTNanoseconds = newValue; case .app: appRTTNanoseconds = newValue; case .ping: pingRTTNanoseconds = newValue } }
    }

    public subscript(samples clock: ProbeClock) -> UInt64? {
        get { switch clock { case .wire: wireSamples; case .app: appSamples; case .ping: pingSamples } }
        set { switch clock { case .wire: wireSamples = newValue; case .app: appSamples = newValue; case .ping: pingSamples = newValue } }
    }

    public subscript(points clock: ProbeClock) -> [UInt64]? {
        get { switch clock { case .wire: wireRTTSamplesNanoseconds; case .app: appRTTSamplesNanoseconds; case .ping: pingRTTSamplesNanoseconds } }
        set {
            switch clock {
            case .wire: wireRTTSamplesNanoseconds = newValue
            case .app: appRTTSamplesNanoseconds = newValue
            case .ping: pingRTTSamplesNanoseconds = newValue
            }
        }
    }

    public subscript(missing clock: ProbeClock) -> String? {
        get { switch clock { case .wire: wireClockMissing; case .app: appClockMissing; case .ping: pingClockMissing } }
        set { switch clock { case .wire: wireClockMissing = newValue; case .app: appClockMissing = newValue; case .ping: pingClockMissing = newValue } }
    }

    /// Whether any clock's statistics are known (a saved report of an older wirelat, or
    /// one that named no clock, has only `rtt_ns`).
    public var knowsItsClocks: Bool { ProbeClock.allCases.contains { self[summary: $0] != nil } }

    /// This row as `clock` timed it: `rtt_ns`, `samples` and the sample list replaced by
    /// that clock's; nil when the clock did not time it. A row that knows none of its
    /// clocks is shown as it is under `primary`, its name marked "(clock unknown)".
    public func viewed(as clock: ProbeClock, primary: ProbeClock) -> CompareMethodReport? {
        guard knowsItsClocks else {
            guard clock == primary else { return nil }
            var row = self
            row.name += " (clock unknown)"
            return row
        }
        guard let summary = self[summary: clock] else { return nil }
        var row = self
        row.rttNanoseconds = summary
        row.samples = self[samples: clock] ?? samples
        row.rttSamplesNanoseconds = self[points: clock]
        row.clock = clock.rawValue
        return row
    }

    enum CodingKeys: String, CodingKey {
        case command, method, name, label, target, samples, sent, lost, rttNanoseconds = "rtt_ns", clock
        case rttSamplesNanoseconds = "rtt_samples_ns", source
        case wireRTTNanoseconds = "wire_rtt_ns", appRTTNanoseconds = "app_rtt_ns", pingRTTNanoseconds = "ping_rtt_ns"
        case wireSamples = "wire_samples", appSamples = "app_samples", pingSamples = "ping_samples"
        case wireRTTSamplesNanoseconds = "wire_rtt_samples_ns", appRTTSamplesNanoseconds = "app_rtt_samples_ns"
        case pingRTTSamplesNanoseconds = "ping_rtt_samples_ns"
        case wireClockMissing = "wire_clock_missing", appClockMissing = "app_clock_missing", pingClockMissing = "ping_clock_missing"
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
    /// The clock of the first table's columns (`--clock`); the other clocks follow in
    /// tables of their own.
    public var clock: ProbeClock
    /// ``CompareSentence``'s reading of the tables: wire with wire, app with app.
    public var sentence: String
    /// The app clock's p50 minus the wire clock's, for the request/response row (or the
    /// first row timed by both): what this host's system calls and wake-ups add.
    public var hostOverhead: HostOverhead?

    public init(target: String, rounds: Int, intervalNanoseconds: UInt64? = nil, methods: [CompareMethodReport],
                notes: [String], clock: ProbeClock = .wire) {
        self.target = target
        self.rounds = rounds
        self.intervalNanoseconds = intervalNanoseconds
        self.methods = methods
        self.notes = notes
        self.clock = clock
        sentence = CompareSentence.make(methods, clocks: CompareReport.clockOrder(primary: clock))
        hostOverhead = HostOverhead(methods)
    }

    /// The tables' clocks in print order: `primary` first, then wire, app, ping.
    public static func clockOrder(primary: ProbeClock) -> [ProbeClock] {
        [primary] + ProbeClock.allCases.filter { $0 != primary }
    }

    /// Each row as `clock` timed it (rows it did not time left out).
    public func rows(_ clock: ProbeClock) -> [CompareMethodReport] {
        methods.compactMap { $0.viewed(as: clock, primary: self.clock) }
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
        case command, target, rounds, intervalNanoseconds = "interval_ns", methods, notes, clock, sentence
        case hostOverhead = "host_overhead"
    }
}

extension CompareReport {
    /// `--hgrm`'s text: a ``PercentileDistributionFile`` section per row and clock with
    /// samples, drawn from the samples themselves (a saved row known only by its
    /// percentiles has none).
    public var percentileDistributions: String {
        var out = ""
        for row in methods {
            for clock in CompareReport.clockOrder(primary: clock) {
                guard let points = row[points: clock], !points.isEmpty else { continue }
                out += PercentileDistributionFile.section(method: row.name.replacing(" ", with: "_"), clock: clock.rawValue,
                                                          PercentileDistributionFile.recorder(points))
            }
        }
        return out
    }
}

/// The app clock's p50 minus the wire clock's for one row: the time this host's system
/// calls and wake-ups add to the round trip the network and the peer take.
public struct HostOverhead: Codable, Sendable, Equatable {
    public var method: String
    public var p50Nanoseconds: Int64

    /// From the request/response row when both clocks timed it, else the first row that
    /// both did; nil when none did.
    public init?(_ rows: [CompareMethodReport]) {
        let both = rows.filter { $0.wireRTTNanoseconds != nil && $0.appRTTNanoseconds != nil && ($0.appSamples ?? 0) > 0 && ($0.wireSamples ?? 0) > 0 }
        guard let row = both.first(where: { $0.isRequestResponse }) ?? both.first,
              let wire = row.wireRTTNanoseconds, let app = row.appRTTNanoseconds else { return nil }
        method = row.name
        p50Nanoseconds = Int64(clamping: app.p50) - Int64(clamping: wire.p50)
    }

    /// `host overhead (app − wire) p50 24.0 µs: system calls and wake-ups on this host`.
    public var line: String {
        "host overhead (app − wire) p50 \(formatFixed(Double(p50Nanoseconds) / 1000, 1)) µs: system calls and wake-ups on this host (\(method))"
    }

    enum CodingKeys: String, CodingKey {
        case method, p50Nanoseconds = "p50_ns"
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
        let samples = u(m["samples"])
        let summary = summaryOf(rtt, count: samples)
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
        var clock = (m["clock"] as? String)
        let originalName = m["name"] as? String ?? method
        if clock == nil && command == "capture" { clock = ProbeClock.wire.rawValue }
        var row = CompareMethodReport(
            command: command, method: method, name: "\(originalName) (\(file))", label: label,
            target: m["target"] as? String ?? fallbackTarget ?? "", samples: samples,
            sent: number(m["sent"]).map { Int($0) }, lost: lost, rttNanoseconds: summary, clock: clock,
            rttSamplesNanoseconds: points, source: source)
        var anyClock = false
        for c in ProbeClock.allCases {
            if let object = m["\(c.rawValue)_rtt_ns"] as? [String: Any] {
                let count = number(m["\(c.rawValue)_samples"]).map { u($0) }
                    ?? (clock.flatMap(ProbeClock.init(reportName:)) == c ? samples : 0)
                let list = (m["\(c.rawValue)_rtt_samples_ns"] as? [Any]).map { $0.map { u($0) } }
                row.set(c, summary: summaryOf(object, count: count), samples: count,
                        points: list ?? (clock.flatMap(ProbeClock.init(reportName:)) == c ? points : nil))
                anyClock = true
            } else if let why = m["\(c.rawValue)_clock_missing"] as? String {
                row[missing: c] = why
            }
        }
        // A report from before the two clocks: its one clock, when it names it.
        if !anyClock, let c = clock.flatMap(ProbeClock.init(reportName:)) {
            row.set(c, summary: summary, samples: samples, points: points)
            row.clock = c.rawValue
        }
        return row
    }

    static func summaryOf(_ rtt: [String: Any], count: UInt64) -> LatencySummary {
        func u(_ v: Any?) -> UInt64 { UInt64(max(0, (number(v) ?? 0).rounded())) }
        return LatencySummary(count: count, min: u(rtt["min"]), p50: u(rtt["p50"]), p90: u(rtt["p90"]),
                              p99: u(rtt["p99"]), p999: u(rtt["p999"]), max: u(rtt["max"]),
                              mean: number(rtt["mean"]) ?? 0, stddev: number(rtt["stddev"]) ?? 0)
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

    /// Every clock's table, `report.clock`'s first: a heading naming the clock, the rows
    /// it timed, and a line for each row it could not time saying why; then the host
    /// overhead line and the sentence.
    public static func render(_ report: CompareReport) -> String {
        var out = ""
        for clock in CompareReport.clockOrder(primary: report.clock) {
            let rows = report.rows(clock)
            let missing = report.methods.compactMap { row in row[missing: clock].map { "  \(row.name): no \(clock.rawValue) clock: \($0)\n" } }
            if rows.isEmpty && (clock == .ping || missing.isEmpty) { continue }
            out += "\n" + clock.title + "\n"
            if !rows.isEmpty { out += render(rows) }
            out += missing.joined()
        }
        if let overhead = report.hostOverhead { out += "\n" + overhead.line + "\n" }
        out += "\n" + report.sentence + "\n"
        return out
    }
}

/// One sentence saying what the gap between ICMP and TCP means.
public enum CompareSentence {
    /// One reading per clock that timed both ICMP and a TCP method, each comparing rows of
    /// that clock alone ("By the wire clock, ICMP's p50 is …"); the single-clock sentence
    /// for rows that know none of their clocks.
    public static func make(_ rows: [CompareMethodReport], clocks: [ProbeClock]) -> String {
        guard rows.contains(where: \.knowsItsClocks) else { return make(rows) }
        var parts: [String] = []
        for clock in clocks where clock != .ping {
            let viewed = rows.compactMap { $0.viewed(as: clock, primary: clocks[0]) }
            guard viewed.contains(where: { $0.isICMP && $0.samples > 0 }),
                  viewed.contains(where: { ($0.isRequestResponse || $0.isHandshake) && $0.samples > 0 }) else { continue }
            parts.append("By the \(clock.rawValue) clock, " + make(viewed))
        }
        return parts.isEmpty ? make(rows) : parts.joined(separator: " ")
    }

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
