import Foundation

/// A number with a fixed count of decimals: `formatFixed(2356.04, 1)` is `"2356.0"`.
public func formatFixed(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(min(max(decimals, 0), 9))f", value)
}

/// Pads on the left to `width` characters.
public func leftPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// Pads on the right to `width` characters.
public func rightPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

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
