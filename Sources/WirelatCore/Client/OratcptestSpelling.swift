/// Accepts the command lines of Oracle's oratcptest, whose options are single-dash words
/// (`-mode=sync -length=250 -num_conn=4`), by rewriting them into wirelat's options before
/// ArgumentParser sees them.
public enum OratcptestSpelling {
    /// oratcptest options taking a value, by their wirelat name.
    private static let valueOptions: [String: String] = [
        "mode": "mode",
        "length": "length",
        "duration": "duration",
        "interval": "interval",
        "port": "port",
        "num_conn": "connections",
        "sockbuf": "sockbuf",
        "delay": "delay",
        "timeout": "timeout",
        "output": "output",
        "write": "write",
        "freq": "freq",
    ]

    /// oratcptest options whose bare number means milliseconds.
    private static let millisecondOptions: Set<String> = ["delay", "timeout"]

    /// oratcptest flags wirelat also has.
    private static let flags: [String: String] = ["verbose": "verbose"]

    /// oratcptest flags that select what wirelat does anyway: `-server` (the subcommand
    /// says it), `-rtt` (sync mode measures round trips), `-timeout` without a value.
    private static let droppedFlags: Set<String> = ["server", "rtt", "timeout"]

    /// Rewrites oratcptest's `-name` and `-name=value` tokens into wirelat's `--option`
    /// spelling; other tokens, and everything after `--`, pass through unchanged, so an
    /// unknown single-dash word still reaches ArgumentParser and is reported there.
    ///
    /// `-num_conn=N` becomes `--connections=N`; `-delay=5` and `-timeout=100` become
    /// `--delay=5ms` and `--timeout=100ms` (oratcptest reads them in milliseconds) unless
    /// the value has a unit; `-server`, `-rtt` and a bare `-timeout` are dropped.
    public static func normalize(_ arguments: [String]) -> [String] {
        var result: [String] = []
        result.reserveCapacity(arguments.count)
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let token = arguments[index]
            if token == "--" {
                result.append(contentsOf: arguments[index...])
                break
            }
            if let rewritten = rewrite(token) {
                result.append(contentsOf: rewritten)
            } else {
                result.append(token)
            }
            index += 1
        }
        return result
    }

    /// The replacement for one token (possibly none), or nil to keep it as it is.
    private static func rewrite(_ token: String) -> [String]? {
        guard token.hasPrefix("-"), !token.hasPrefix("--") else { return nil }
        let body = token.dropFirst()
        guard let equals = body.firstIndex(of: "=") else {
            let name = String(body)
            if droppedFlags.contains(name) { return [] }
            if let wirelatName = flags[name] { return ["--" + wirelatName] }
            return nil
        }
        let name = String(body[..<equals])
        var value = String(body[body.index(after: equals)...])
        guard let wirelatName = valueOptions[name] else { return nil }
        if millisecondOptions.contains(name), isBareNumber(value) { value += "ms" }
        return ["--\(wirelatName)=\(value)"]
    }

    /// Digits with at most one decimal point, and at least one digit.
    private static func isBareNumber(_ text: String) -> Bool {
        var digits = 0
        var points = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."): points += 1
            default: return false
            }
        }
        return digits > 0 && points <= 1
    }
}
