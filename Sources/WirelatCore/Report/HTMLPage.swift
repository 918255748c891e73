import RealModule

// The pieces every wirelat HTML page shares (compare --html, model --html): escaping,
// the page's head and stylesheet, the frame of an SVG chart, and the numbers on its axes.
// Pages are self-contained: inline CSS and SVG, no script, nothing loaded.

/// Text for HTML and XML: & < > " ' escaped.
public func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// The frame of a wirelat page: doctype, head with title and stylesheet, and the end.
enum HTMLPage {
    /// Everything up to and including `<body>`; `title` is escaped here.
    static func head(title: String, style: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
            + "<title>\(escapeHTML(title))</title>\n<style>\n\(style)</style>\n</head>\n<body>\n"
    }

    static let end = "</body>\n</html>\n"

    /// The stylesheet every page shares: text, the sentence box, notes, tables and charts.
    /// `maxWidth` is the body's width in pixels; `nowrapCells` keeps table cells on one
    /// line; `extra` adds the page's own rules (one per line, each ending in a newline).
    static func style(maxWidth: Int, nowrapCells: Bool, extra: String = "") -> String {
        """
        body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: \(maxWidth)px; }
        h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
        .sentence { font-size: 15px; background: #f4f6fa; padding: 10px 12px; border-left: 4px solid #1f77b4; }
        .notes { color: #555; font-size: 13px; } .small { color: #666; font-size: 12px; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right;\(nowrapCells ? " white-space: nowrap;" : "") }
        th.l, td.l { text-align: left; }
        svg { background: #fff; border: 1px solid #e3e3e3; }
        svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
        .grid { stroke: #eee; stroke-width: 1; } .axis { stroke: #555; stroke-width: 1; }

        """ + extra
    }
}

/// The plot area of an SVG chart, in pixels: grid lines with their tick labels, and the
/// two axes. Coordinates are written with one decimal.
struct SVGPlot {
    var left: Double
    var top: Double
    var width: Double
    var height: Double

    var bottom: Double { top + height }
    var right: Double { left + width }

    /// A coordinate as the pages write it: one decimal.
    static func coordinate(_ v: Double) -> String { formatFixed(v, 1) }

    /// A vertical grid line at `x`, labelled under the x axis.
    func xTick(_ x: Double, label: String) -> String {
        let f = SVGPlot.coordinate
        return "<line class=\"grid\" x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\"/>\n"
            + "<text x=\"\(f(x))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(escapeHTML(label))</text>\n"
    }

    /// A horizontal grid line at `y`, labelled left of the y axis.
    func yTick(_ y: Double, label: String) -> String {
        let f = SVGPlot.coordinate
        return "<line class=\"grid\" x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(right))\" y2=\"\(f(y))\"/>\n"
            + "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escapeHTML(label))</text>\n"
    }

    /// The x axis along the bottom and the y axis along the left.
    var axes: String {
        let f = SVGPlot.coordinate
        return "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\"/>\n"
            + "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\"/>\n"
    }
}

/// The numbers on a chart's axes.
enum AxisTicks {
    /// A linear axis from 0 to at least `value` in four to ten steps of 1, 2, 2.5 or 5 × 10ⁿ.
    static func linear(upTo value: Double) -> (top: Double, step: Double) {
        guard value > 0, value.isFinite else { return (1, 0.2) }
        let rough = value / 5
        let magnitude = powerOfTen(atOrBelow: rough)
        var step = 10 * magnitude
        for m in [1.0, 2, 2.5, 5] where m * magnitude >= rough * (1 - 1e-12) {
            step = m * magnitude
            break
        }
        return ((value / step * (1 - 1e-12)).rounded(.up) * step, step)
    }

    /// 0, step, 2 × step, ... up to `top`.
    static func linearTicks(top: Double, step: Double) -> [Double] {
        (0 ... Int((top / step).rounded())).map { Double($0) * step }
    }

    /// 10^⌊log₁₀ v⌋.
    static func powerOfTen(atOrBelow v: Double) -> Double {
        Double.pow(10, Double.log10(v).rounded(.down))
    }

    /// 1, 2 or 5 × 10^k at or below `v` (at least 1): where a logarithmic axis starts.
    static func logarithmicLow(below v: Double) -> Double {
        let e = powerOfTen(atOrBelow: max(v, 1))
        for m in [5.0, 2.0, 1.0] where m * e <= v { return m * e }
        return e
    }

    /// 1, 2 and 5 × 10^k between `low` and `high`: the ticks of a logarithmic axis.
    static func logarithmicTicks(low: Double, high: Double) -> [Double] {
        var out: [Double] = []
        var e = powerOfTen(atOrBelow: low)
        while e <= high {
            for m in [1.0, 2.0, 5.0] where m * e >= low && m * e <= high { out.append(m * e) }
            e *= 10
        }
        return out
    }

    /// A tick's label: no more decimals than it needs.
    static func label(_ value: Double) -> String {
        for digits in 0 ... 4 {
            let text = formatFixed(value, digits)
            if abs((Double(text) ?? value) - value) <= abs(value) * 1e-9 { return text }
        }
        return formatFixed(value, 4)
    }
}
