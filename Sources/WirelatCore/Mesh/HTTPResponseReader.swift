/// An HTTP/1.1 response: status and body (headers are kept for the content type).
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    /// Header names in lower case, values trimmed; a repeated header keeps its last value.
    public var headers: [String: String]
    public var body: [UInt8]
}

/// Why a response could not be read.
public enum HTTPResponseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not an HTTP/1.x response, or a malformed header or chunk.
    case malformed(String)
    /// The headers or the body passed the size cap.
    case tooLarge(limit: Int)
    /// The connection closed before the body was complete.
    case truncated

    public var description: String {
        switch self {
        case .malformed(let why): "not an HTTP response: \(why)"
        case .tooLarge(let limit): "the answer is larger than \(limit) bytes"
        case .truncated: "the connection closed before the answer was complete"
        }
    }
}

/// Reads one HTTP/1.1 response (RFC 9112) from bytes as they arrive, in any pieces: the
/// status line and headers, then a body framed by `Content-Length`, by chunked transfer
/// coding (§7.1; trailers are read and dropped), or by the end of the connection. Bytes
/// are fed with ``feed(_:)`` until it returns the response; ``finish()`` is called at end
/// of stream. Headers are limited to 64 KiB, the body to `maxBodyBytes`.
public struct HTTPResponseReader: Sendable {
    public let maxBodyBytes: Int
    static let maxHeaderBytes = 64 * 1024

    private enum State: Sendable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private var state = State.head
    /// Bytes received and not yet consumed: `buffer[start...]`. Consumed bytes are dropped
    /// in one move once they are the larger part, so a body of many small chunks costs
    /// no more than one copy per byte.
    private var buffer: [UInt8] = []
    private var start = 0
    private var status = 0
    private var reason = ""
    private var headers: [String: String] = [:]
    private var body: [UInt8] = []

    public init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    /// Adds bytes; returns the response once it is complete, nil while more are needed.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(HTTPResponseError) -> HTTPResponse? {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    /// The end of the stream: the response if the body ran to the end of the connection,
    /// otherwise `.truncated`.
    public mutating func finish() throws(HTTPResponseError) -> HTTPResponse {
        if case .untilClose = state {
            try consumeBody(buffer.count - start)
            state = .done
        }
        guard case .done = state else { throw .truncated }
        return response
    }

    private var response: HTTPResponse {
        HTTPResponse(status: status, reason: reason, headers: headers, body: body)
    }

    /// The next line ending in CRLF (or a bare LF), without it; nil until one has arrived.
    private mutating func takeLine(limit: Int) throws(HTTPResponseError) -> [UInt8]? {
        guard let lf = buffer[start...].firstIndex(of: 0x0A) else {
            if buffer.count - start > limit { throw .tooLarge(limit: limit) }
            return nil
        }
        var line = Array(buffer[start ..< lf])
        start = lf + 1
        if line.last == 0x0D { line.removeLast() }
        return line
    }

    /// Moves the next `count` unconsumed bytes to the body.
    private mutating func consumeBody(_ count: Int) throws(HTTPResponseError) {
        if body.count + count > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
        body.append(contentsOf: buffer[start ..< start + count])
        start += count
    }

    private mutating func advance() throws(HTTPResponseError) -> HTTPResponse? {
        while true {
            switch state {
            case .head:
                guard let line = try takeLine(limit: Self.maxHeaderBytes) else { return nil }
                if status == 0 {
                    try readStatusLine(line)
                } else if line.isEmpty {
                    try startBody()
                } else {
                    try readHeader(line)
                }
            case .fixed(let remaining):
                let n = min(remaining, buffer.count - start)
                try consumeBody(n)
                if remaining - n == 0 {
                    state = .done
                } else {
                    state = .fixed(remaining: remaining - n)
                    return nil
                }
            case .chunkSize:
                guard let line = try takeLine(limit: 4096) else { return nil }
                // chunk-size [ chunk-ext ]: the size is hex digits up to ';' or white space.
                let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != 0x20 && $0 != 0x09 }
                guard !digits.isEmpty, digits.count <= 15,
                      let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw .malformed("bad chunk size \"\(String(decoding: line.prefix(40), as: UTF8.self))\"")
                }
                if body.count + size > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, buffer.count - start)
                try consumeBody(n)
                if remaining - n == 0 {
                    state = .chunkDataEnd
                } else {
                    state = .chunkData(remaining: remaining - n)
                    return nil
                }
            case .chunkDataEnd:
                guard let line = try takeLine(limit: 2) else { return nil }
                guard line.isEmpty else { throw .malformed("a chunk does not end where its size says") }
                state = .chunkSize
            case .trailers:
                guard let line = try takeLine(limit: Self.maxHeaderBytes) else { return nil }
                if line.isEmpty { state = .done }
            case .untilClose:
                try consumeBody(buffer.count - start)
                return nil
            case .done:
                return response
            }
        }
    }

    private mutating func readStatusLine(_ line: [UInt8]) throws(HTTPResponseError) {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4)
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]), code >= 100 else {
            throw .malformed("the first line is \"\(text.prefix(60))\"")
        }
        status = code
        reason = parts.count > 2 ? String(parts[2]) : ""
    }

    private mutating func readHeader(_ line: [UInt8]) throws(HTTPResponseError) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw .malformed("a header line without a colon")
        }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingWhitespace()
        headers[name] = String(value)
    }

    private mutating func startBody() throws(HTTPResponseError) {
        // 1xx answers (100 Continue) carry no body; the real response follows.
        if status < 200 {
            status = 0
            headers = [:]
            return
        }
        if status == 204 || status == 304 {
            state = .done
            return
        }
        if let coding = headers["transfer-encoding"] {
            guard coding.lowercased().split(separator: ",").last?.trimmingWhitespace() == "chunked" else {
                throw .malformed("unsupported transfer coding \"\(coding)\"")
            }
            state = .chunkSize
        } else if let length = headers["content-length"] {
            guard let n = Int(length), n >= 0 else { throw .malformed("bad Content-Length \"\(length)\"") }
            if n > maxBodyBytes { throw .tooLarge(limit: maxBodyBytes) }
            state = .fixed(remaining: n)
        } else {
            state = .untilClose
        }
    }
}
