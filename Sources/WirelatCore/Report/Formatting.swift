/// A number with a fixed count of decimals: `formatFixed(2356.04, 1)` is `"2356.0"`.
public func formatFixed(_ value: Double, _ decimals: Int) -> String {
    CFormat.fixed(value, decimals: min(max(decimals, 0), 9))
}

/// Pads on the left to `width` characters.
public func leftPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// Pads on the right to `width` characters.
public func rightPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// `+84%`, `-12%`, `+0.4%` (one decimal under 1 %).
func formatPercentChange(_ change: Double) -> String {
    let percent = change * 100
    let digits = abs(percent) < 0.95 ? 1 : 0
    let text = formatFixed(abs(percent), digits)
    return (percent < 0 && text != formatFixed(0, digits) ? "-" : "+") + text + "%"
}

/// A count without a needless fraction: 1, 2.5, 8000.
func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    var text = formatFixed(value, 3)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}


extension StringProtocol {
    /// The text without the white space around it: spaces and tabs (Unicode's space
    /// separators), and line ends too when `newlines` is true (Foundation's
    /// `.whitespaces` and `.whitespacesAndNewlines`).
    public func trimmingWhitespace(newlines: Bool = false) -> Substring {
        func isSpace(_ c: Character) -> Bool { c.isWhitespace && (newlines || !c.isNewline) }
        var s = self[...]
        while let c = s.first, isSpace(c) { s = s.dropFirst() }
        while let c = s.last, isSpace(c) { s = s.dropLast() }
        return Substring(s)
    }
}
