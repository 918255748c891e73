/// Why a duration or byte count given on the command line was refused.
public enum UnitParseError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Not a number followed by a known unit (also: empty, `inf`, `nan`).
    case invalidDuration(String)
    /// A leading minus sign.
    case negativeDuration(String)
    /// More than ``maximumParsedDuration``.
    case durationTooLarge(String)
    /// Not a non-negative integer with an optional `k`, `m` or `g` suffix.
    case invalidByteCount(String)
    /// A leading minus sign.
    case negativeByteCount(String)
    /// Does not fit in `Int`.
    case byteCountTooLarge(String)

    public var description: String {
        switch self {
        case .invalidDuration(let text):
            "invalid duration \"\(text)\": expected a number with a unit such as 250us, 1.5ms, 2s, 1m"
        case .negativeDuration(let text):
            "invalid duration \"\(text)\": a duration cannot be negative"
        case .durationTooLarge(let text):
            "invalid duration \"\(text)\": the longest accepted duration is 30 days (720h)"
        case .invalidByteCount(let text):
            "invalid byte count \"\(text)\": expected a non-negative integer such as 250, 65536 or 64k (k, m, g multiply by 1024, 1024², 1024³)"
        case .negativeByteCount(let text):
            "invalid byte count \"\(text)\": a byte count cannot be negative"
        case .byteCountTooLarge(let text):
            "invalid byte count \"\(text)\": the value is too large"
        }
    }
}

/// The unit a bare number (one without a suffix) is read in by ``parseDuration(_:bareUnit:)``.
public enum DurationUnit: Sendable {
    case nanoseconds, microseconds, milliseconds, seconds

    var nanosecondsPerUnit: UInt64 {
        switch self {
        case .nanoseconds: 1
        case .microseconds: 1_000
        case .milliseconds: 1_000_000
        case .seconds: 1_000_000_000
        }
    }
}

/// The longest duration ``parseDuration(_:bareUnit:)`` accepts: 30 days.
public let maximumParsedDuration: Duration = .seconds(30 * 86_400)

private let maximumParsedNanoseconds: UInt64 = 30 * 86_400 * 1_000_000_000

/// Suffixes ``parseDuration(_:bareUnit:)`` understands, with their length in nanoseconds.
private func nanosecondsPerUnit(suffix: Substring) -> UInt64? {
    switch suffix {
    case "ns": 1
    case "us", "\u{00B5}s", "\u{03BC}s": 1_000
    case "ms": 1_000_000
    case "s": 1_000_000_000
    case "m": 60_000_000_000
    case "h": 3_600_000_000_000
    default: nil
    }
}

@inline(__always)
private func decimalDigit(_ byte: UInt8) -> UInt64? {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? UInt64(byte - UInt8(ascii: "0")) : nil
}

/// A minus sign in front of a digit or a decimal point.
private func startsWithMinusSign(_ utf8: [UInt8]) -> Bool {
    guard utf8.count >= 2, utf8[0] == UInt8(ascii: "-") else { return false }
    return decimalDigit(utf8[1]) != nil || utf8[1] == UInt8(ascii: ".")
}

/// Parses a duration such as `250us`, `1.5ms`, `2s`, `1m` or `1h`.
///
/// Units are `ns`, `us` (also `µs`), `ms`, `s`, `m` (minutes) and `h`; a number without a
/// unit is read in `bareUnit`, so oratcptest's millisecond `-delay=5` can be parsed with
/// `bareUnit: .milliseconds`. The decimal is converted exactly, in integers, and rounded
/// to the nearest nanosecond: `1.5ms` is exactly 1 500 000 ns. Negative values, `inf`,
/// `nan`, exponents and durations above 30 days are refused.
public func parseDuration(_ text: String, bareUnit: DurationUnit = .seconds) throws(UnitParseError) -> Duration {
    let utf8 = Array(text.utf8)
    if startsWithMinusSign(utf8) { throw .negativeDuration(text) }

    var index = 0
    var integer: UInt64 = 0
    var integerOverflowed = false
    var integerDigits = 0
    while index < utf8.count, let digit = decimalDigit(utf8[index]) {
        let (times10, o1) = integer.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(digit)
        integerOverflowed = integerOverflowed || o1 || o2
        integer = sum
        integerDigits += 1
        index += 1
    }

    // Up to 18 fraction digits are kept (10^18 fits in UInt64); further digits lie below
    // 10^-18 of the unit, far under a nanosecond even for hours.
    var fraction: UInt64 = 0
    var fractionScale: UInt64 = 1
    var fractionDigits = 0
    if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
        index += 1
        while index < utf8.count, let digit = decimalDigit(utf8[index]) {
            if fractionDigits < 18 {
                fraction = fraction * 10 + digit
                fractionScale *= 10
            }
            fractionDigits += 1
            index += 1
        }
        guard fractionDigits > 0 else { throw .invalidDuration(text) }
    }
    guard integerDigits + fractionDigits > 0 else { throw .invalidDuration(text) }

    let suffix = Substring(decoding: utf8[index...], as: UTF8.self)
    let unit: UInt64
    if suffix.isEmpty {
        unit = bareUnit.nanosecondsPerUnit
    } else if let known = nanosecondsPerUnit(suffix: suffix) {
        unit = known
    } else {
        throw .invalidDuration(text)
    }

    if integerOverflowed { throw .durationTooLarge(text) }
    let (whole, wholeOverflowed) = integer.multipliedReportingOverflow(by: unit)
    if wholeOverflowed { throw .durationTooLarge(text) }

    // fraction × unit / 10^digits, exact in 128 bits, rounded half up.
    let (quotient, remainder) = fractionScale.dividingFullWidth(unit.multipliedFullWidth(by: fraction))
    let roundedFraction = quotient + (remainder * 2 >= fractionScale ? 1 : 0)
    let (total, totalOverflowed) = whole.addingReportingOverflow(roundedFraction)
    if totalOverflowed || total > maximumParsedNanoseconds { throw .durationTooLarge(text) }
    return .nanoseconds(Int64(total))
}

/// Parses a byte count: a non-negative integer, optionally followed by `k`/`K` (×1024),
/// `m`/`M` (×1024²) or `g`/`G` (×1024³).
public func parseByteCount(_ text: String) throws(UnitParseError) -> Int {
    let utf8 = Array(text.utf8)
    if startsWithMinusSign(utf8) { throw .negativeByteCount(text) }

    var index = 0
    var value = 0
    var overflowed = false
    while index < utf8.count, let digit = decimalDigit(utf8[index]) {
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(Int(digit))
        overflowed = overflowed || o1 || o2
        value = sum
        index += 1
    }
    guard index > 0 else { throw .invalidByteCount(text) }

    var multiplier = 1
    if index < utf8.count {
        switch utf8[index] {
        case UInt8(ascii: "k"), UInt8(ascii: "K"): multiplier = 1 << 10
        case UInt8(ascii: "m"), UInt8(ascii: "M"): multiplier = 1 << 20
        case UInt8(ascii: "g"), UInt8(ascii: "G"): multiplier = 1 << 30
        default: throw .invalidByteCount(text)
        }
        index += 1
        guard index == utf8.count else { throw .invalidByteCount(text) }
    }

    if overflowed { throw .byteCountTooLarge(text) }
    let (bytes, multiplyOverflowed) = value.multipliedReportingOverflow(by: multiplier)
    if multiplyOverflowed { throw .byteCountTooLarge(text) }
    return bytes
}

public extension Duration {
    /// The duration in whole nanoseconds, truncated toward zero and saturated at
    /// `Int64.min` / `Int64.max` (about ±292 years).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        if o1 || o2 { return seconds < 0 ? .min : .max }
        return sum
    }
}

/// Units ``formatDuration(_:)`` may spell a duration in, largest first.
private let formattingUnits: [(suffix: String, nanoseconds: UInt64)] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
]

/// `nanoseconds` written in a unit of `unit` nanoseconds as an exact decimal, or nil when
/// the decimal does not terminate (a third of a minute).
private func exactDecimal(_ nanoseconds: UInt64, unit: UInt64, suffix: String) -> String? {
    var text = String(nanoseconds / unit)
    var remainder = nanoseconds % unit
    if remainder == 0 { return text + suffix }
    text += "."
    for _ in 0 ..< 20 where remainder != 0 {
        remainder *= 10
        text += String(remainder / unit)
        remainder %= unit
    }
    return remainder == 0 ? text + suffix : nil
}

/// The shortest spelling of `d` that ``parseDuration(_:bareUnit:)`` reads back to the same
/// nanosecond: `250us`, `1.5ms`, `2s`, `1m`, `0s`.
///
/// The number is never below 1 (`100ms`, not `0.1s`); between spellings of equal length
/// the larger unit wins. Sub-nanosecond parts are truncated.
public func formatDuration(_ d: Duration) -> String {
    let nanoseconds = d.nanoseconds
    let text = formatDuration(nanoseconds: nanoseconds.magnitude)
    return nanoseconds < 0 ? "-" + text : text
}

/// As ``formatDuration(_:)``, for a count of nanoseconds as a protocol or a counter holds
/// it: the whole `UInt64` range is spelled exactly (2^64−1 ns is `18446744073.709551615s`),
/// where converting to `Duration` through `Int64(clamping:)` would print another value.
public func formatDuration(nanoseconds magnitude: UInt64) -> String {
    if magnitude == 0 { return "0s" }
    var best: String?
    for unit in formattingUnits where magnitude >= unit.nanoseconds {
        guard let spelling = exactDecimal(magnitude, unit: unit.nanoseconds, suffix: unit.suffix) else { continue }
        if let shortest = best, shortest.utf8.count <= spelling.utf8.count { continue }
        best = spelling
    }
    return best ?? "\(magnitude)ns"
}

/// Nanoseconds as milliseconds with a fixed number of decimals and no unit, as oratcptest
/// prints latency: `formatMilliseconds(21_000)` is `"0.021"`.
public func formatMilliseconds(_ nanoseconds: Double, decimals: Int = 3) -> String {
    formatFixed(nanoseconds / 1_000_000, decimals)
}

/// A byte quantity the way oratcptest prints message sizes and throughput, with
/// 1 Kbyte = 1024 bytes: `"250 bytes"`, `"64 Kbytes"`, `"1 Mbyte"`, `"101.832 Mbytes"`.
/// Non-integral values keep up to three decimals.
public func formatBytesHuman(_ bytes: Double) -> String {
    let units: [(singular: String, plural: String, size: Double)] = [
        ("byte", "bytes", 1),
        ("Kbyte", "Kbytes", 1024),
        ("Mbyte", "Mbytes", 1024 * 1024),
        ("Gbyte", "Gbytes", 1024 * 1024 * 1024),
    ]
    guard bytes.isFinite else { return "\(bytes) bytes" }
    var unitIndex = 0
    while unitIndex + 1 < units.count, bytes.magnitude >= units[unitIndex + 1].size {
        unitIndex += 1
    }
    var number = trimmedDecimal(bytes / units[unitIndex].size)
    if unitIndex + 1 < units.count, number == "1024" || number == "-1024" {
        unitIndex += 1
        number = trimmedDecimal(bytes / units[unitIndex].size)
    }
    let unit = units[unitIndex]
    return "\(number) \(number == "1" ? unit.singular : unit.plural)"
}

/// `value` with three decimals, trailing zeros and a trailing point removed.
private func trimmedDecimal(_ value: Double) -> String {
    var text = formatFixed(value, 3)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text == "-0" ? "0" : text
}

/// `12.5%`, `0%`, `0.01%`.
public func formatPercent(_ value: Double) -> String {
    if value == value.rounded() { return "\(Int(value))%" }
    var text = formatFixed(value, 3)
    while text.hasSuffix("0") { text.removeLast() }
    return text + "%"
}

/// `10 Mbit/s`, `1.5 Gbit/s`, `64 kbit/s`, `800 bit/s` (decimal prefixes, as tc(8) prints).
public func formatBitRate(_ bitsPerSecond: UInt64) -> String {
    let units: [(UInt64, String)] = [(1_000_000_000, "Gbit/s"), (1_000_000, "Mbit/s"), (1_000, "kbit/s")]
    for (scale, name) in units where bitsPerSecond >= scale {
        var text = formatFixed(Double(bitsPerSecond) / Double(scale), 3)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return "\(text) \(name)"
    }
    return "\(bitsPerSecond) bit/s"
}

/// Parses a line rate in bits per second: `10000000`, `10M`, `10mbit`, `1.5Gbit/s`, `64k`.
/// The prefixes are decimal (k = 1000), as in tc(8); nil for anything else.
public func parseBitRate(_ text: String) -> UInt64? {
    var t = Substring(text.lowercased())
    for suffix in ["bit/s", "bps", "bit", "b/s"] where t.hasSuffix(suffix) {
        t = t.dropLast(suffix.count)
        break
    }
    var scale = 1.0
    if let last = t.last, let s = ["k": 1e3, "m": 1e6, "g": 1e9][String(last)] {
        scale = s
        t = t.dropLast()
    }
    guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
          let value = Double(t), value.isFinite else { return nil }
    let bits = (value * scale).rounded()
    guard bits >= 0, bits < 1e15 else { return nil }
    return UInt64(bits)
}

/// Parses a percentage, `10`, `0.5` or `10%`, within 0…100; nil for anything else.
public func parsePercent(_ text: String) -> Double? {
    var t = Substring(text)
    if t.hasSuffix("%") { t = t.dropLast() }
    guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
          let value = Double(t), value >= 0, value <= 100 else { return nil }
    return value
}
