/// Why the metrics endpoint closed a connection on its own.
public enum HTTPDropReason: String, CaseIterable, Sendable {
    /// The request head was not complete within the head timeout (a client that trickles
    /// bytes, or says nothing).
    case headTimeout = "head_timeout"
    /// The request head outgrew the limit (answered 431).
    case headTooLarge = "head_too_large"
    /// Not HTTP, or a request line or header it cannot read (answered 400).
    case badRequest = "bad_request"
    /// A request with a body (Content-Length above 0 or Transfer-Encoding; answered 400 or 413).
    case requestBody = "request_body"
    /// A keep-alive connection that sent no new request within the head timeout.
    case idle = "idle"
    /// Closed to make room for a new connection at the connection limit (or, when every
    /// connection was busy with a request, the new one closed at once).
    case evicted = "evicted"
    /// The client did not take its whole response within the response timeout.
    case slowReader = "slow_reader"
    /// The handler's answer was larger than the output bound of a connection.
    case responseTooLarge = "response_too_large"
}

/// What the metrics endpoint counted, for its own families on `/metrics` and for tests.
public struct HTTPServerStats: Sendable, Equatable {
    /// Answers sent, by status code.
    public var requestsByCode: [Int: UInt64] = [:]
    public var connectionsAccepted: UInt64 = 0
    /// Connections the server closed on its own, by reason; a client's own close is not counted.
    public var connectionsDropped: [HTTPDropReason: UInt64] = [:]
    public var openConnections = 0

    public init() {}

    public func dropped(_ reason: HTTPDropReason) -> UInt64 { connectionsDropped[reason] ?? 0 }
    public func requests(_ code: Int) -> UInt64 { requestsByCode[code] ?? 0 }

    /// The families `wirelat_http_requests_total{code}`,
    /// `wirelat_http_connections_accepted_total`,
    /// `wirelat_http_connections_dropped_total{reason}` (every reason, zeros included) and
    /// `wirelat_http_open_connections`.
    public func write(to w: inout PrometheusTextWriter) {
        w.family("wirelat_http_requests_total", .counter, help: "HTTP requests answered by the metrics endpoint, by status code.")
        for code in requestsByCode.keys.sorted() {
            w.sample("wirelat_http_requests_total", [("code", String(code))], requestsByCode[code] ?? 0)
        }
        w.family("wirelat_http_connections_accepted_total", .counter, help: "Connections accepted by the metrics endpoint.")
        w.sample("wirelat_http_connections_accepted_total", [], connectionsAccepted)
        w.family("wirelat_http_connections_dropped_total", .counter,
                 help: "Connections the metrics endpoint closed on its own, by reason.")
        for reason in HTTPDropReason.allCases.sorted(by: { $0.rawValue < $1.rawValue }) {
            w.sample("wirelat_http_connections_dropped_total", [("reason", reason.rawValue)], dropped(reason))
        }
        w.family("wirelat_http_open_connections", .gauge, help: "Connections open on the metrics endpoint.")
        w.sample("wirelat_http_open_connections", [], UInt64(max(0, openConnections)))
    }

    /// ``write(to:)``'s text.
    public var exposition: String {
        var w = PrometheusTextWriter()
        write(to: &w)
        return w.text
    }
}
