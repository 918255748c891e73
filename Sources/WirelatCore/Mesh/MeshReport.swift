/// What `wirelat mesh` prints and writes: the matrix, where it came from, and how it
/// was asked for.
public struct MeshReport: Sendable, Encodable {
    public var matrix: MeshMatrix
    /// The Prometheus server, as ``PrometheusURL`` describes it.
    public var prometheus: String

    public init(matrix: MeshMatrix, prometheus: String) {
        self.matrix = matrix
        self.prometheus = prometheus
    }

    /// Which round trip the method times, as the other commands label it.
    public static func roundTripLabel(method: String) -> String {
        switch method {
        case "reqresp": "TCP request/response RTT"
        case "syn": "SYN→SYN-ACK RTT"
        case "connect": "TCP connect (handshake) RTT"
        case "icmp": "ICMP echo RTT"
        default: "\(method) RTT"
        }
    }

    /// What the clock measures.
    public static func clockLabel(_ clock: String) -> String {
        switch clock {
        case "wire": "wire clock: kernel timestamps, request TX → reply RX"
        case "app": "app clock: CLOCK_MONOTONIC, send call → receive returned"
        default: "\(clock) clock"
        }
    }

    // MARK: JSON

    private enum Key: String, CodingKey {
        case command, method, clock, window_s, prometheus, hosts, p50_ns, loss, outliers, queries, outlier_rule
    }

    private enum OutlierKey: String, CodingKey {
        case from, to, p50_ns, loss, why
    }

    private enum QueryKey: String, CodingKey {
        case p50, loss
    }

    /// `{"command":"mesh","method":…,"clock":…,"window_s":…,"hosts":[…],"p50_ns":[[…]],
    /// "loss":[[…]],"outliers":[{"from","to","p50_ns","loss","why"}],…}`, null where a cell
    /// has no data.
    public func encode(to encoder: Encoder) throws {
        let s = matrix.selection
        var c = encoder.container(keyedBy: Key.self)
        try c.encode("mesh", forKey: .command)
        try c.encode(s.method, forKey: .method)
        try c.encode(s.clock, forKey: .clock)
        try c.encode(s.windowSeconds, forKey: .window_s)
        try c.encode(prometheus, forKey: .prometheus)
        try c.encode(matrix.hosts, forKey: .hosts)
        try c.encode(matrix.p50Nanoseconds, forKey: .p50_ns)
        try c.encode(matrix.loss, forKey: .loss)
        var list = c.nestedUnkeyedContainer(forKey: .outliers)
        for o in matrix.outliers {
            var e = list.nestedContainer(keyedBy: OutlierKey.self)
            try e.encode(o.from, forKey: .from)
            try e.encode(o.to, forKey: .to)
            if let p = o.p50Nanoseconds { try e.encode(p, forKey: .p50_ns) } else { try e.encodeNil(forKey: .p50_ns) }
            if let l = o.loss { try e.encode(l, forKey: .loss) } else { try e.encodeNil(forKey: .loss) }
            try e.encode(o.why, forKey: .why)
        }
        var q = c.nestedContainer(keyedBy: QueryKey.self, forKey: .queries)
        try q.encode(s.p50PromQL, forKey: .p50)
        try q.encode(s.lossPromQL, forKey: .loss)
        try c.encode(MeshOutlierRule.standard.sentence, forKey: .outlier_rule)
    }

    // MARK: Text

    /// The widest a host name is printed in a row label; longer ones are cut, and listed
    /// in full under the tables.
    static let hostWidth = 18
    /// Each cell is a space, the value right-aligned in 4 characters, and its mark.
    static let valueWidth = 4

    /// Two tables, p50 in µs with marks and loss in %, then the legend and the outliers.
    /// Sixteen hosts fit in 120 columns.
    public var text: String {
        let s = matrix.selection
        let n = matrix.hosts.count
        var out = "Pingmesh: \(Self.roundTripLabel(method: s.method)) (method \(s.method), \(Self.clockLabel(s.clock))), "
        out += "last \(s.promRange), from \(prometheus)\n"
        out += "row = the probing agent's host, column = the target; \(n) host\(n == 1 ? "" : "s")\n\n"
        out += "p50 round trip (µs)\n"
        out += table { i, j in
            guard let ns = matrix.p50Nanoseconds[i][j] else { return ("-", " ") }
            return (Self.microsecondsCell(Double(ns) / 1000), mark(i, j))
        }
        out += "\nloss (% of probes that did not succeed)\n"
        out += table { i, j in
            guard let share = matrix.loss[i][j] else { return ("-", " ") }
            return (Self.percentCell(share), matrix.isOutlier(i, j) ? "*" : " ")
        }
        out += "\n* \(MeshOutlierRule.standard.sentence)\n"
        out += "! loss of 1% or more   ~ some loss, under 1%   - no data   · a host does not probe itself\n"
        let cut = matrix.hosts.enumerated().filter { $0.element.count > Self.hostWidth }
        if !cut.isEmpty {
            out += "hosts: " + cut.map { "\($0.offset + 1) = \($0.element)" }.joined(separator: ", ") + "\n"
        }
        if matrix.outliers.isEmpty {
            out += "no outliers\n"
        } else {
            out += "outliers:\n"
            for o in matrix.outliers { out += "  \(o.from) → \(o.to): \(o.why)\n" }
        }
        return out
    }

    /// The mark after a p50: `*` outlier, `!` loss ≥ 1 %, `~` some loss, else a space.
    private func mark(_ i: Int, _ j: Int) -> Character {
        if matrix.isOutlier(i, j) { return "*" }
        guard let l = matrix.loss[i][j], l > 0 else { return " " }
        return l >= 0.01 ? "!" : "~"
    }

    private func table(_ cell: (Int, Int) -> (String, Character)) -> String {
        let n = matrix.hosts.count
        let indexWidth = String(n).count
        let nameWidth = min(Self.hostWidth, matrix.hosts.map(\.count).max() ?? 0)
        var out = String(repeating: " ", count: indexWidth + 1 + nameWidth)
        for j in 0 ..< n { out += " " + leftPad(String(j + 1), Self.valueWidth) + " " }
        while out.hasSuffix(" ") { out.removeLast() }
        out += "\n"
        for i in 0 ..< n {
            var name = matrix.hosts[i]
            if name.count > nameWidth { name = String(name.prefix(nameWidth - 1)) + "…" }
            var line = leftPad(String(i + 1), indexWidth) + " " + rightPad(name, nameWidth)
            for j in 0 ..< n {
                if i == j {
                    line += " " + leftPad("·", Self.valueWidth) + " "
                } else {
                    let (value, mark) = cell(i, j)
                    line += " " + leftPad(value, Self.valueWidth) + String(mark)
                }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// A round trip in at most 4 characters: µs as `9.87`, `52.1`, `412`, `4120`; then
    /// `12ms`, `0.2s`, `15s`.
    public static func microsecondsCell(_ us: Double) -> String {
        if us < 9.995 { return formatFixed(us, 2) }
        if us < 99.95 { return formatFixed(us, 1) }
        if us < 9999.5 { return formatFixed(us, 0) }
        if us < 99_500 { return formatFixed(us / 1000, 0) + "ms" }
        if us < 9_950_000 { return formatFixed(us / 1e6, 1) + "s" }
        return formatFixed(us / 1e6, 0) + "s"
    }

    /// A share as a percentage in at most 4 characters: `0`, `<0.1`, `2.5`, `12.5`, `100`.
    public static func percentCell(_ share: Double) -> String {
        let percent = share * 100
        if percent == 0 { return "0" }
        if percent < 0.05 { return "<0.1" }
        if percent >= 99.95 { return "100" }
        return formatFixed(percent, 1)
    }
}
