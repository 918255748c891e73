import Foundation
import Testing

/// One `#[method=M clock=C]` section of an `--hgrm` file: its (value in ms, percentile) points.
struct HgrmSection {
    var method: String
    var clock: String
    var points: [(milliseconds: Double, percentile: Double)] = []
    var totalCount: Int?
    /// The footer's `#[Max = …]`, in ms.
    var maxMilliseconds: Double?

    /// The value HdrHistogram reports at the first point at or above `percentile` (0–1), in ns.
    func nanoseconds(atPercentile percentile: Double) -> Double? {
        points.first { $0.percentile >= percentile }.map { $0.milliseconds * 1e6 }
    }
}

/// Parses a file written by `--hgrm`: sections headed `#[method=M clock=C]`, each holding
/// HdrHistogram's percentile-distribution text.
func readHgrmSections(_ path: String) throws -> [HgrmSection] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var sections: [HgrmSection] = []
    for line in text.split(separator: "\n") {
        if line.hasPrefix("#[method=") {
            let fields = line.dropFirst(2).dropLast().split(separator: " ")
            let value = { (key: String) in fields.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) } ?? "" }
            sections.append(HgrmSection(method: value("method"), clock: value("clock")))
            continue
        }
        guard !sections.isEmpty else { continue }
        if line.contains("Total count") {
            // #[Max     =        5.444, Total count    =       100527]
            let values = line.split(separator: ",").map { $0.split(separator: "=").last.map { $0.filter { $0.isNumber || $0 == "." } } ?? "" }
            sections[sections.count - 1].maxMilliseconds = values.first.flatMap { Double($0) }
            sections[sections.count - 1].totalCount = values.last.flatMap { Int($0) }
            continue
        }
        let fields = line.split(separator: " ")
        guard !line.hasPrefix("#"), fields.count >= 3, let v = Double(fields[0]), let p = Double(fields[1]) else { continue }
        sections[sections.count - 1].points.append((v, p))
    }
    return sections
}

/// Checks a section's p50, p90 and p99 against a JSON `rtt_ns`-shaped object, within the
/// histogram's precision (three significant digits, and the .hgrm's 1 µs print resolution).
func expectHgrm(_ section: HgrmSection, matches summary: [String: Any]?, _ what: String,
                sourceLocation: SourceLocation = #_sourceLocation) {
    for (percentile, key) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
        guard let expected = (summary?[key] as? NSNumber)?.doubleValue,
              let value = section.nanoseconds(atPercentile: percentile) else {
            Issue.record("\(what): no \(key) in the JSON or the .hgrm", sourceLocation: sourceLocation)
            continue
        }
        #expect(abs(value - expected) <= expected * 0.002 + 1_000,
                "\(what) \(key): .hgrm \(value) ns, JSON \(expected) ns", sourceLocation: sourceLocation)
    }
}
