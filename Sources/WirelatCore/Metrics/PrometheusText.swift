// Prometheus's text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then
// one `name{label="value",...} value` line per series.
// https://prometheus.io/docs/instrumenting/exposition_formats/

/// The Content-Type of a `/metrics` answer in the text format.
public let prometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8"

/// The kinds of metric family the text format names in its `# TYPE` line.
public enum PrometheusMetricType: String, Sendable {
    case counter, gauge, histogram, summary
}

/// Appends exposition text: families, and the samples of each.
public struct PrometheusTextWriter: Sendable {
    public private(set) var text = ""

    public init() {}

    /// The `# HELP` and `# TYPE` lines that open family `name`.
    public mutating func family(_ name: String, _ type: PrometheusMetricType, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
    }

    /// One sample line: `name{labels} value`; the braces are left out when there are no labels.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{"
            for (i, (label, labelValue)) in labels.enumerated() {
                if i > 0 { text += "," }
                text += label
                text += "=\""
                text += Self.escapeLabelValue(labelValue)
                text += "\""
            }
            text += "}"
        }
        text += " "
        text += value
        text += "\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: UInt64) {
        sample(name, labels, String(value))
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        sample(name, labels, Self.format(value))
    }

    /// A label value as the format wants it: backslash, double quote and line feed escaped
    /// (`\\`, `\"`, `\n`).
    public static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed escaped.
    static func escapeHelp(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A float as Prometheus (Go's `strconv.ParseFloat`) reads it back to the same value:
    /// the shortest round-trip digits, `+Inf`, `-Inf`, `NaN`; integral values without `.0`
    /// (`10`, `1e-05`, `0.0001`, `2.5e+20`).
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}
