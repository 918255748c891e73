/// HTTP/1.1 (RFC 9112): `HEAD PATH HTTP/1.1` with `Host` and `Connection: keep-alive`,
/// answered by a status line and headers, repeated on one connection. A `Connection:
/// close` answer, or a server that closes, makes the next request reconnect (counted).
/// HEAD has no body (RFC 9110 §9.3.2); with `--method GET` the body is read and dropped,
/// by Content-Length or chunked, up to a bound. Each request leaves one access-log line.
public struct HTTPDialogue: AppDialogue {
    public var method: ProbeMethod { .http }
    public var mode: AppSessionMode { .session }
    public var protocolName: String { "HTTP" }
    public var summary: String { "\(requestMethod) \(path) HTTP/1.1 (keep-alive) → status line and headers, TX of the request → RX of the answer's first segment" }

    public let requestMethod: String
    public let path: String
    public let host: String
    /// The largest body read and dropped (GET); a longer one is not waited for.
    public let bodyLimit: Int

    /// `host` goes in the Host header as given (`db01`, `10.0.0.5:8080`, `[fd00::1]:80`).
    public init(path: String = "/", host: String, method: String = "HEAD", bodyLimit: Int = 16 << 20) {
        self.path = path
        self.host = host
        requestMethod = method
        self.bodyLimit = bodyLimit
    }

    /// `HEAD / HTTP/1.1\r\nHost: H\r\nUser-Agent: wirelat\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n`.
    public func request(index: Int) -> [UInt8] {
        Array("\(requestMethod) \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: wirelat\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n".utf8)
    }

    public func parser(index: Int) -> HTTPResponseParser {
        HTTPResponseParser(expectsBody: requestMethod != "HEAD", bodyLimit: bodyLimit)
    }
}

/// One HTTP/1.x response, read incrementally: the status line, the headers (at most
/// `headerLimit` bytes), then the body when there is one (RFC 9112 §6.3: none for HEAD, 1xx,
/// 204, 304; else chunked, Content-Length, or until the close). Interim 1xx responses
/// (100 Continue) are skipped. The description is the status line.
public struct HTTPResponseParser: AppAnswerParser {
    enum Phase: Sendable {
        case head
        /// Body bytes still to skip.
        case length(Int)
        /// Reading a chunk-size line (kept in `line`).
        case chunkSize
        /// Chunk data still to skip, then its CRLF.
        case chunkData(Int)
        case chunkDataEnd(Int)
        /// Trailer lines until an empty one.
        case trailer
        /// No length: the body runs until the server closes.
        case untilClose
    }

    let expectsBody: Bool
    let bodyLimit: Int
    let headerLimit: Int
    var phase = Phase.head
    var head: [UInt8] = []
    var line: [UInt8] = []
    var answer = AppAnswer("")
    var bodyBytes = 0

    public init(expectsBody: Bool = false, bodyLimit: Int = 16 << 20, headerLimit: Int = 65_536) {
        self.expectsBody = expectsBody
        self.bodyLimit = bodyLimit
        self.headerLimit = headerLimit
    }

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        var i = 0
        while i < bytes.count {
            switch phase {
            case .head:
                let b = bytes[i]
                head.append(b)
                i += 1
                let prefix = Array("HTTP/".utf8)
                if head.count <= prefix.count, head.last != prefix[head.count - 1] {
                    var shown = head
                    shown.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i...]).prefix(60))
                    return .wrongProtocol(wrongProtocolLine(shown, notWhat: "HTTP"))
                }
                if head.count > headerLimit {
                    return .wrongProtocol("answered a status line and headers longer than \(headerLimit) bytes: not an HTTP server's answer")
                }
                if head.count >= 4, head[head.count - 4] == 0x0d, head[head.count - 3] == 0x0a, head[head.count - 2] == 0x0d, head[head.count - 1] == 0x0a {
                    switch finishHead() {
                    case .none, .needMore?: continue
                    case .complete(let a, _)?: return .complete(a, consumed: i)
                    case let verdict?: return verdict
                    }
                }
            case .length(let left):
                let take = min(left, bytes.count - i)
                i += take
                if left - take == 0 { return .complete(answer, consumed: i) }
                phase = .length(left - take)
            case .chunkSize:
                let b = bytes[i]
                i += 1
                line.append(b)
                if line.count > 1024 { return .wrongProtocol("answered a chunk-size line longer than 1024 bytes: a broken chunked body") }
                if b == 0x0a {
                    let text = String(decoding: line, as: UTF8.self)
                    line = []
                    let digits = text.prefix { $0.isHexDigit }
                    guard !digits.isEmpty, let size = Int(digits, radix: 16) else {
                        return .wrongProtocol("answered a chunk-size line `\(describeForeignBytes(Array(text.utf8)))`: a broken chunked body")
                    }
                    if size == 0 {
                        phase = .trailer
                    } else {
                        bodyBytes += size
                        if bodyBytes > bodyLimit { return .wrongProtocol("answered a body longer than \(bodyLimit) bytes") }
                        phase = .chunkData(size)
                    }
                }
            case .chunkData(let left):
                let take = min(left, bytes.count - i)
                i += take
                phase = left - take == 0 ? .chunkDataEnd(2) : .chunkData(left - take)
            case .chunkDataEnd(let left):
                i += 1
                phase = left == 1 ? .chunkSize : .chunkDataEnd(left - 1)
            case .trailer:
                let b = bytes[i]
                i += 1
                line.append(b)
                if b == 0x0a {
                    let empty = line.count <= 2
                    line = []
                    if empty { return .complete(answer, consumed: i) }
                }
            case .untilClose:
                bodyBytes += bytes.count - i
                i = bytes.count
                if bodyBytes > bodyLimit { return .wrongProtocol("answered a body longer than \(bodyLimit) bytes") }
            }
        }
        return .needMore
    }

    public func endOfStream() -> AppParse? {
        if case .untilClose = phase {
            var a = answer
            a.serverCloses = true
            return .complete(a, consumed: 0)
        }
        return nil
    }

    /// The head is complete: decides the body. Nil: an interim 1xx, read the next head.
    mutating func finishHead() -> AppParse? {
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
        guard let statusLine = lines.first else { return .wrongProtocol("answered an empty status line: not HTTP") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...999).contains(status) else {
            return .wrongProtocol(wrongProtocolLine(Array(statusLine.utf8), notWhat: "HTTP/1.x"))
        }
        head = []
        if status >= 100 && status < 200 && status != 101 { return nil }
        var contentLength: Int?
        var chunked = false
        var close = parts[0] == "HTTP/1.0"
        for header in lines.dropFirst() {
            guard let colon = header.firstIndex(of: ":") else { continue }
            let name = header[..<colon].lowercased()
            let value = header[header.index(after: colon)...].trimmingSpaces.lowercased()
            switch name {
            case "content-length": contentLength = Int(value)
            case "transfer-encoding": chunked = value.hasSuffix("chunked")
            case "connection":
                if value.contains("close") { close = true }
                if value.contains("keep-alive") { close = false }
            default: break
            }
        }
        answer = AppAnswer(String(statusLine), isError: false, serverCloses: close || status == 101)
        let noBody = !expectsBody || status == 204 || status == 304 || status == 101
        if noBody { return .complete(answer, consumed: 0) }
        if chunked {
            phase = .chunkSize
            return .needMore
        }
        if let n = contentLength {
            if n > bodyLimit { return .wrongProtocol("answered a Content-Length of \(n) bytes, above the \(bodyLimit)-byte bound") }
            if n == 0 { return .complete(answer, consumed: 0) }
            phase = .length(n)
            return .needMore
        }
        answer.serverCloses = true
        phase = .untilClose
        return .needMore
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
