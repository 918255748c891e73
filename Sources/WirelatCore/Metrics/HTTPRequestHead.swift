/// An HTTP/1.x request head as the metrics endpoint reads it (RFC 9112 §2–§6): the
/// request line and the few header fields that decide how to answer.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The path, without the query (`/metrics` of `/metrics?x=1` or `http://host/metrics`).
    public var path: String
    /// The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    public var minorVersion: Int
    /// The connection stays open after the answer: HTTP/1.1 without `Connection: close`.
    /// HTTP/1.0 always closes.
    public var keepAlive: Bool
    /// The request announces a body: Content-Length above 0, or any Transfer-Encoding.
    public var hasBody: Bool

    /// What reading a head can end in.
    public enum Outcome: Sendable, Equatable {
        /// More bytes are needed; nothing seen so far rules the request out.
        case incomplete
        /// A whole head, and how many bytes it took (the empty line included).
        case complete(HTTPRequestHead, consumed: Int)
        /// Not an HTTP/1.x request head; the reason, for nobody but a test.
        case malformed(String)
    }

    /// RFC 9110 §5.6.2: `tchar`.
    @inline(__always)
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// Reads the head at the start of `bytes`. Empty lines before the request line are
    /// skipped (RFC 9112 §2.2); lines may end in CRLF or a bare LF. A request line that
    /// cannot be HTTP is reported as soon as its first bytes show it, so garbage is
    /// answered without waiting for a line end.
    public static func parse(_ bytes: [UInt8]) -> Outcome {
        var start = 0
        while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A { start += 1 }
        // The method: a token, then one space.
        var i = start
        while i < bytes.count, isTokenByte(bytes[i]) { i += 1 }
        if i == bytes.count { return .incomplete }
        if bytes[i] != 0x20 || i == start { return .malformed("the request line does not start with a method") }
        // The end of the head: an empty line.
        guard let end = headEnd(bytes, from: start) else {
            if let lineEnd = bytes[start...].firstIndex(of: 0x0A) {
                // The request line is whole: it alone can be judged.
                if case .malformed(let why) = requestLine(Array(bytes[start..<lineEnd])) { return .malformed(why) }
            }
            return .incomplete
        }
        var lines = bytes[start..<end].split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == 0x0D ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first else { return .malformed("empty head") }
        guard case .complete(var head, _) = requestLine(Array(first)) else {
            if case .malformed(let why) = requestLine(Array(first)) { return .malformed(why) }
            return .malformed("bad request line")
        }
        var hasHost = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                  line[line.startIndex..<colon].allSatisfy(isTokenByte) else {
                return .malformed("a header line without a field name")
            }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            let value = String(String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingWhitespace())
            switch name {
            case "host": hasHost = true
            case "connection":
                if value.lowercased().split(separator: ",").contains(where: { $0.trimmingWhitespace() == "close" }) { head.keepAlive = false }
            case "content-length":
                guard let length = UInt64(value) else { return .malformed("Content-Length is not a number") }
                if length > 0 { head.hasBody = true }
            case "transfer-encoding": head.hasBody = true
            default: break
            }
        }
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400.
        if head.minorVersion >= 1 && !hasHost { return .malformed("HTTP/1.1 request without Host") }
        return .complete(head, consumed: end)
    }

    /// Where the empty line that ends the head ends, if it has arrived.
    static func headEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        while let lf = bytes[i...].firstIndex(of: 0x0A) {
            var next = lf + 1
            if next < bytes.count, bytes[next] == 0x0D { next += 1 }
            if next < bytes.count, bytes[next] == 0x0A { return next + 1 }
            if next >= bytes.count { return nil }
            i = lf + 1
        }
        return nil
    }

    /// `METHOD SP request-target SP HTTP/1.x`; `.complete` carries the head with the
    /// defaults of its version.
    static func requestLine(_ line: [UInt8]) -> Outcome {
        let trimmed = line.last == 0x0D ? Array(line.dropLast()) : line
        let parts = trimmed.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte), !parts[1].isEmpty else {
            return .malformed("the request line is not METHOD TARGET VERSION")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        let minor: Int
        switch version {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default: return .malformed("unsupported version \(version)")
        }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .malformed("bad request target") }
        var target = String(decoding: parts[1], as: UTF8.self)
        // Absolute form (RFC 9112 §3.2.2): the path of the URI.
        for scheme in ["http://", "https://"] where target.hasPrefix(scheme) {
            let authorityAndPath = target.dropFirst(scheme.count)
            target = authorityAndPath.firstIndex(of: "/").map { String(authorityAndPath[$0...]) } ?? "/"
        }
        if let query = target.firstIndex(of: "?") { target = String(target[..<query]) }
        let head = HTTPRequestHead(method: String(decoding: parts[0], as: UTF8.self), path: target,
                                   minorVersion: minor, keepAlive: minor >= 1, hasBody: false)
        return .complete(head, consumed: line.count)
    }

    /// The reason phrase of the status codes the endpoint sends.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
