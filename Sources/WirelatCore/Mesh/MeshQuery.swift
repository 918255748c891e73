/// Where Prometheus is: `http://host[:port][/prefix]`, as `--prometheus` gives it.
/// Only plain HTTP: wirelat carries no TLS stack.
public struct PrometheusURL: Sendable, Equatable, CustomStringConvertible {
    /// The host as written, IPv6 literals without their brackets.
    public let host: String
    public let port: UInt16
    /// The path Prometheus is served under (`--web.route-prefix`), "" or "/prom"; never
    /// ends in a slash.
    public let pathPrefix: String

    /// The URL as the messages quote it: `http://127.0.0.1:9090`.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port)\(pathPrefix)"
    }

    /// The Host header's value (RFC 9110 §7.2): host and port.
    public var hostHeader: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    public init(host: String, port: UInt16, pathPrefix: String = "") {
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    /// Reads `http://host[:port][/prefix]`; the port defaults to 80. An `https://` URL, any
    /// other scheme, a query or fragment, user info, or a bad port is a usage error.
    public init(parsing text: String) throws(MeshUsageError) {
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            throw MeshUsageError("--prometheus \(text): https is not supported (wirelat speaks plain HTTP only); give Prometheus' http:// address, or one of a proxy in front of it")
        }
        guard lower.hasPrefix("http://") else {
            throw MeshUsageError("--prometheus \(text): expected a URL such as http://127.0.0.1:9090")
        }
        let rest = text.dropFirst("http://".count)
        if rest.contains("?") || rest.contains("#") {
            throw MeshUsageError("--prometheus \(text): give the server's URL without a query or fragment, such as http://127.0.0.1:9090")
        }
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }
        if authority.contains("@") {
            throw MeshUsageError("--prometheus \(text): user names and passwords in the URL are not supported")
        }
        var hostPart = Substring(authority)
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw MeshUsageError("--prometheus \(text): an IPv6 address needs its closing bracket, as in http://[::1]:9090")
            }
            hostPart = authority[authority.index(after: authority.startIndex) ..< close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw MeshUsageError("--prometheus \(text): expected :PORT after the IPv6 address") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw MeshUsageError("--prometheus \(text): the URL names no host") }
        var port: UInt16 = 80
        if let portPart {
            guard let p = UInt16(portPart), p > 0 else {
                throw MeshUsageError("--prometheus \(text): \"\(portPart)\" is not a port (1–65535)")
            }
            port = p
        }
        self.init(host: String(hostPart), port: port, pathPrefix: path)
    }

    /// The request target of an instant query (Prometheus' `GET /api/v1/query`), the
    /// PromQL percent-encoded (RFC 3986 §2.1: everything but the unreserved characters).
    public func queryPath(_ promql: String) -> String {
        pathPrefix + "/api/v1/query?query=" + percentEncode(promql)
    }
}

/// A bad `mesh` option value: one line, exit 64.
public struct MeshUsageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Percent-encodes every byte except RFC 3986's unreserved characters (A–Z a–z 0–9 - . _ ~).
public func percentEncode(_ text: String) -> String {
    let hex: [Character] = Array("0123456789ABCDEF")
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A") ... UInt8(ascii: "Z"), UInt8(ascii: "a") ... UInt8(ascii: "z"),
             UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(Character(Unicode.Scalar(byte)))
        default:
            out.append("%")
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
    }
    return out
}

/// Which agent measurements the matrix is made of, and the PromQL that reads them.
public struct MeshSelection: Sendable, Equatable {
    /// The agent's method name (`reqresp`, `syn`, `connect`, `icmp`, a protocol name).
    public var method: String
    /// `wire` or `app`.
    public var clock: String
    /// How far back the rates and increases look, in whole milliseconds.
    public var windowMilliseconds: UInt64

    public init(method: String, clock: String, windowMilliseconds: UInt64) {
        self.method = method
        self.clock = clock
        self.windowMilliseconds = windowMilliseconds
    }

    /// The window as a PromQL range: `5m`, `90s`, `1500ms`.
    public var promRange: String {
        let ms = windowMilliseconds
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    public var windowSeconds: Double { Double(windowMilliseconds) / 1000 }

    /// The median round trip of each (agent, target) pair over the window, in seconds:
    /// the histogram's per-second bucket rates, summed per pair (so an agent that
    /// restarted, or was scraped twice, still counts once), interpolated at 0.5 by
    /// `histogram_quantile`. NaN where nothing was recorded in the window.
    public var p50PromQL: String {
        "histogram_quantile(0.5, sum by (instance, target, le) (rate(wirelat_rtt_histogram_seconds_bucket{method=\(promString(method)),clock=\(promString(clock))}[\(promRange)])))"
    }

    /// The share of probes that did not succeed, per pair, over the window: probes with
    /// a result other than `ok` divided by all probes. A pair with no failure series at
    /// all counts 0 failures (the `or` arm), so a clean link reads 0 rather than missing.
    public var lossPromQL: String {
        let all = "sum by (instance, target) (increase(wirelat_probes_total{method=\(promString(method))}[\(promRange)]))"
        let failed = "sum by (instance, target) (increase(wirelat_probes_total{method=\(promString(method)),result!=\"ok\"}[\(promRange)]))"
        return "(\(failed) or (0 * \(all))) / \(all)"
    }

    /// The methods that have probe counters at all, for the message when the chosen one has none.
    public static let methodsPromQL = "count by (method) (wirelat_probes_total)"
}

/// A PromQL string literal: double quotes, with `\` and `"` escaped.
func promString(_ text: String) -> String {
    var out = "\""
    for c in text {
        switch c {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        default: out.append(c)
        }
    }
    return out + "\""
}
