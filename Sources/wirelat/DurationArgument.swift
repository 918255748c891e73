import ArgumentParser
import WirelatCore

/// The unit a bare number (one without a suffix) is read in, for one duration option.
protocol BareDurationUnit: Sendable {
    static var unit: DurationUnit { get }
}

/// A bare number is seconds (`--duration 10`, ping's `-i 1`).
enum BareSeconds: BareDurationUnit {
    static var unit: DurationUnit { .seconds }
}

/// A bare number is milliseconds (oratcptest's `-delay=5` and `-timeout=100`).
enum BareMilliseconds: BareDurationUnit {
    static var unit: DurationUnit { .milliseconds }
}

/// A bare number is microseconds.
enum BareMicroseconds: BareDurationUnit {
    static var unit: DurationUnit { .microseconds }
}

/// A duration option's value: `250us`, `1.5ms`, `2s`, `1m` (``parseDuration(_:bareUnit:)``),
/// a bare number in `Bare`'s unit. It is parsed once, when the command line is; a bad
/// value is a usage error (exit 64) that names the option, the value and what is
/// expected:
///
///     Error: The value '12xs' is invalid for '--duration <duration>': invalid duration
///     "12xs": expected a number with a unit such as 250us, 1.5ms, 2s, 1m
///
/// Declare the option with `transform: DurationArgument.parse` so that the reason
/// reaches the message (`init?(argument:)` can only say the value is invalid).
struct DurationArgument<Bare: BareDurationUnit>: ExpressibleByArgument, ExpressibleByStringLiteral, CustomStringConvertible, Sendable {
    /// The value as it was written, for the help's default and to pass it on.
    let text: String
    let duration: Duration

    init(parsing text: String) throws(UnitParseError) {
        self.text = text
        duration = try parseDuration(text, bareUnit: Bare.unit)
    }

    /// For ``ArgumentParser``'s `transform:`, which reports the thrown error's text.
    @Sendable static func parse(_ text: String) throws -> Self {
        try Self(parsing: text)
    }

    init?(argument: String) {
        guard let value = try? Self(parsing: argument) else { return nil }
        self = value
    }

    /// A default written in the source; it must parse.
    init(stringLiteral text: String) {
        do {
            try self.init(parsing: text)
        } catch {
            preconditionFailure("the default duration \"\(text)\" does not parse: \(error)")
        }
    }

    /// Never negative: ``parseDuration(_:bareUnit:)`` refuses a minus sign.
    var nanoseconds: UInt64 { UInt64(max(0, duration.nanoseconds)) }

    var description: String { text }
}

extension ArgumentHelp {
    /// Help for an option parsed with `transform:`, which ArgumentParser prints without
    /// its default: the default is added as ArgumentParser adds it for other options.
    static func withDefault(_ abstract: String, _ defaultValue: String) -> ArgumentHelp {
        ArgumentHelp("\(abstract) (default: \(defaultValue))")
    }
}
