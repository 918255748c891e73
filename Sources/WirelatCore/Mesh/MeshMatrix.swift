/// The Pingmesh matrix (Guo et al., "Pingmesh", SIGCOMM 2015): one row per probing
/// agent's host, one column per target, each cell the pair's median round trip and the
/// share of its probes that failed, over one window of the agents' Prometheus series.
public struct MeshMatrix: Sendable, Equatable {
    public var selection: MeshSelection
    /// Rows and columns alike: every agent host and every target, IPv4 addresses in
    /// numeric order first, then IPv6 addresses in numeric order, then names.
    public var hosts: [String]
    /// `[row][column]`: the p50 round trip in ns; nil where there is no data and on the diagonal.
    public var p50Nanoseconds: [[UInt64?]]
    /// `[row][column]`: failed probes / all probes, 0…1; nil where no probe was counted
    /// and on the diagonal.
    public var loss: [[Double?]]
    /// The cells that stand out from their row and column (``MeshOutlierRule``).
    public var outliers: [MeshOutlier]

    public init(selection: MeshSelection, hosts: [String], p50Nanoseconds: [[UInt64?]], loss: [[Double?]]) {
        self.selection = selection
        self.hosts = hosts
        self.p50Nanoseconds = p50Nanoseconds
        self.loss = loss
        outliers = MeshOutlierRule.standard.outliers(hosts: hosts, p50Nanoseconds: p50Nanoseconds, loss: loss)
    }

    /// The matrix from the two queries' answers (``MeshSelection/p50PromQL`` in seconds,
    /// ``MeshSelection/lossPromQL`` as a fraction). A sample's row is its `instance` label
    /// without the port, its column its `target` label; samples lacking either, and
    /// values that are NaN, infinite or negative (a window with no new probes), are left
    /// out. Two agents on one host (two ports) fold into one row: the larger value wins.
    public static func build(selection: MeshSelection, p50: [PrometheusSample], loss: [PrometheusSample]) -> MeshMatrix {
        func cells(_ samples: [PrometheusSample]) -> [Pair: Double] {
            var out: [Pair: Double] = [:]
            for s in samples {
                guard let instance = s.labels["instance"], let target = s.labels["target"],
                      s.value.isFinite, s.value >= 0 else { continue }
                let pair = Pair(from: MeshHost.fromInstance(instance), to: MeshHost.fromTarget(target))
                out[pair] = max(out[pair] ?? 0, s.value)
            }
            return out
        }
        let p50Cells = cells(p50)
        let lossCells = cells(loss)
        var names = Set<String>()
        for pair in Array(p50Cells.keys) + Array(lossCells.keys) {
            names.insert(pair.from)
            names.insert(pair.to)
        }
        let hosts = MeshHost.sorted(names)
        var p50Matrix = [[UInt64?]](repeating: [UInt64?](repeating: nil, count: hosts.count), count: hosts.count)
        var lossMatrix = [[Double?]](repeating: [Double?](repeating: nil, count: hosts.count), count: hosts.count)
        for (i, from) in hosts.enumerated() {
            for (j, to) in hosts.enumerated() where i != j {
                let pair = Pair(from: from, to: to)
                if let seconds = p50Cells[pair] { p50Matrix[i][j] = UInt64((seconds * 1e9).rounded()) }
                if let share = lossCells[pair] { lossMatrix[i][j] = min(share, 1) }
            }
        }
        return MeshMatrix(selection: selection, hosts: hosts, p50Nanoseconds: p50Matrix, loss: lossMatrix)
    }

    /// True when not one cell holds a value.
    public var isEmpty: Bool {
        !p50Nanoseconds.contains { $0.contains { $0 != nil } } && !loss.contains { $0.contains { $0 != nil } }
    }

    /// Whether the cell at (row, column) is an outlier.
    public func isOutlier(_ row: Int, _ column: Int) -> Bool {
        outliers.contains { $0.row == row && $0.column == column }
    }

    private struct Pair: Hashable {
        var from: String
        var to: String
    }
}

/// A cell that stands out, and why.
public struct MeshOutlier: Sendable, Equatable {
    public var row: Int
    public var column: Int
    public var from: String
    public var to: String
    public var p50Nanoseconds: UInt64?
    public var loss: Double?
    /// One sentence: the value and the medians it was compared with.
    public var why: String
}

/// The Pingmesh reading of the matrix. A bad link is one cell far from both its row
/// (what its agent sees elsewhere) and its column (what others see of its target); a bad
/// host lifts its whole row or column, so it moves those medians too and its cells are
/// not marked one by one: it shows as a stripe. A cell is an outlier when
/// - its p50 is more than `latencyFactor` × m and more than `latencyMarginNanoseconds`
///   above m, where m is the larger of the median p50 of the other cells of its row and
///   that of the other cells of its column; or
/// - its loss is more than `lossThreshold` while the median loss of the other cells of
///   its row and that of its column are both at most `lossThreshold` (they are clean).
/// A cell whose row or column has no other cell with data is not judged.
public struct MeshOutlierRule: Sendable {
    public var latencyFactor: Double
    public var latencyMarginNanoseconds: Double
    public var lossThreshold: Double

    public static let standard = MeshOutlierRule(latencyFactor: 1.5, latencyMarginNanoseconds: 50_000, lossThreshold: 0.01)

    public init(latencyFactor: Double, latencyMarginNanoseconds: Double, lossThreshold: Double) {
        self.latencyFactor = latencyFactor
        self.latencyMarginNanoseconds = latencyMarginNanoseconds
        self.lossThreshold = lossThreshold
    }

    /// The rule in one sentence, for the text's legend and the docs.
    public var sentence: String {
        "outlier: p50 > \(formatNumber(latencyFactor)) × the larger of the median p50 of the other cells in its row and in its column, "
            + "and more than \(formatNumber(latencyMarginNanoseconds / 1000)) µs above it; or loss > \(formatPercent(lossThreshold * 100)) "
            + "while the median loss of the other cells in its row and in its column is at most \(formatPercent(lossThreshold * 100))"
    }

    public func outliers(hosts: [String], p50Nanoseconds: [[UInt64?]], loss: [[Double?]]) -> [MeshOutlier] {
        let n = hosts.count
        let p50 = p50Nanoseconds.map { row in row.map { cell in cell.map { Double($0) } } }
        var out: [MeshOutlier] = []
        for i in 0 ..< n {
            for j in 0 ..< n where i != j {
                var reasons: [String] = []
                if let value = p50[i][j],
                   let rowMedian = median(others(p50, row: i, except: j)),
                   let columnMedian = median(others(p50, column: j, except: i)) {
                    let m = max(rowMedian, columnMedian)
                    if value > latencyFactor * m && value - m > latencyMarginNanoseconds {
                        reasons.append("p50 \(microseconds(value)) µs, \(formatFixed(value / max(m, 1), 1))× the larger of its row's median \(microseconds(rowMedian)) µs and its column's \(microseconds(columnMedian)) µs")
                    }
                }
                if let value = loss[i][j], value > lossThreshold,
                   let rowMedian = median(others(loss, row: i, except: j)),
                   let columnMedian = median(others(loss, column: j, except: i)),
                   rowMedian <= lossThreshold, columnMedian <= lossThreshold {
                    reasons.append("loss \(lossPercent(value)) where its row's median is \(lossPercent(rowMedian)) and its column's \(lossPercent(columnMedian))")
                }
                if !reasons.isEmpty {
                    out.append(MeshOutlier(row: i, column: j, from: hosts[i], to: hosts[j], p50Nanoseconds: p50Nanoseconds[i][j],
                                           loss: loss[i][j], why: reasons.joined(separator: "; ")))
                }
            }
        }
        return out
    }

    private func others(_ m: [[Double?]], row: Int, except column: Int) -> [Double] {
        m[row].indices.compactMap { $0 == column || $0 == row ? nil : m[row][$0] }
    }

    private func others(_ m: [[Double?]], column: Int, except row: Int) -> [Double] {
        m.indices.compactMap { $0 == row || $0 == column ? nil : m[$0][column] }
    }

    private func microseconds(_ ns: Double) -> String { formatFixed(ns / 1000, 1) }
}

/// A share as a percentage with one decimal: `2.5%`, `0.0%`.
func lossPercent(_ share: Double) -> String { formatFixed(share * 100, 1) + "%" }

/// The median: the middle value, or the mean of the two middle ones; nil for none.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    let mid = s.count / 2
    return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/// How the matrix names hosts.
public enum MeshHost {
    /// A scrape's `instance` label, `HOST:PORT`, as a host: `10.77.0.1:9155` → `10.77.0.1`,
    /// `[fd00:77::1]:9155` → `fd00:77::1`. A label with no port (or a bare IPv6 address)
    /// stays as it is.
    public static func fromInstance(_ instance: String) -> String {
        if instance.hasPrefix("["), let close = instance.firstIndex(of: "]") {
            return String(instance[instance.index(after: instance.startIndex) ..< close])
        }
        let colons = instance.filter { $0 == ":" }.count
        if colons == 1, let colon = instance.lastIndex(of: ":"), UInt16(instance[instance.index(after: colon)...]) != nil {
            return String(instance[..<colon])
        }
        return instance
    }

    /// A `target` label as a host: as written, an IPv6 literal without its brackets.
    public static func fromTarget(_ target: String) -> String {
        if target.hasPrefix("[") && target.hasSuffix("]") && target.count > 2 {
            return String(target.dropFirst().dropLast())
        }
        return target
    }

    /// IPv4 addresses in numeric order, then IPv6 addresses in numeric order, then the
    /// other names in byte order.
    public static func sorted(_ hosts: some Sequence<String>) -> [String] {
        hosts.sorted { a, b in
            let ka = key(a), kb = key(b)
            if ka.kind != kb.kind { return ka.kind < kb.kind }
            if ka.kind < 2, ka.number != kb.number { return ka.number.lexicographicallyPrecedes(kb.number) }
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    private static func key(_ host: String) -> (kind: Int, number: [UInt16]) {
        if let v4 = ipv4(host) { return (0, v4) }
        if let v6 = ipv6(host) { return (1, v6) }
        return (2, [])
    }

    /// Dotted-quad IPv4, as four numbers.
    static func ipv4(_ text: String) -> [UInt16]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt16] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let v = UInt16(p), v <= 255 else { return nil }
            out.append(v)
        }
        return out
    }

    /// An IPv6 address (RFC 4291 §2.2, `::` compression and a trailing dotted quad), as
    /// eight 16-bit groups; a zone (`%eth0`) is ignored.
    static func ipv6(_ text: String) -> [UInt16]? {
        let address = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
        guard address.contains(":") else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, item) in items.enumerated() {
                if index == items.count - 1, item.contains("."), let v4 = ipv4(String(item)) {
                    out.append(v4[0] << 8 | v4[1])
                    out.append(v4[2] << 8 | v4[3])
                    continue
                }
                guard !item.isEmpty, item.count <= 4, let v = UInt16(item, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let halves = address.pieces(between: "::")
        if halves.count == 1 {
            guard let all = groups(Substring(address)), all.count == 8 else { return nil }
            return all
        }
        guard halves.count == 2, let head = groups(Substring(halves[0])), let tail = groups(Substring(halves[1])),
              head.count + tail.count < 8 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}

private extension String {
    /// The pieces between occurrences of `separator` (a two-character one here).
    func pieces(between separator: String) -> [String] {
        var out: [String] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            out.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}
