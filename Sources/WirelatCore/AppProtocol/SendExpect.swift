/// Generic TCP, binary-safe: the given bytes, exactly (no newline is ever added), and an
/// expected answer: these exact bytes, a count of bytes, or a regular expression over the
/// bytes read as Latin-1 (each byte one character), within a bounded buffer. On one
/// connection, or one per request (`--new-connection`). What blackbox_exporter's
/// `query_response` should have been.
public struct SendExpectDialogue: AppDialogue {
    public enum Expectation: Sendable {
        /// These bytes, from the first byte of the answer.
        case bytes([UInt8])
        /// Any `count` bytes.
        case count(Int)
        /// A match of the regular expression, in at most `limit` bytes.
        case regex(SendableRegex, source: String, limit: Int)
    }

    public var method: ProbeMethod { .tcpSendExpect }
    public let mode: AppSessionMode
    public var protocolName: String { "the expected answer" }
    public var summary: String {
        let what: String
        switch expectation {
        case .bytes(let b): what = "the \(b.count) bytes \(hexPreview(b))"
        case .count(let n): what = "\(n) bytes"
        case .regex(_, let source, _): what = "a match of /\(source)/"
        }
        return "\(payload.count) bytes sent (\(hexPreview(payload))) → \(what), \(mode == .session ? "on one connection" : "one connection each"); TX of the request → RX of the answer's first segment"
    }

    public let payload: [UInt8]
    public let expectation: Expectation

    public init(payload: [UInt8], expectation: Expectation, newConnection: Bool) {
        self.payload = payload
        self.expectation = expectation
        mode = newConnection ? .perConnection : .session
    }

    public func request(index: Int) -> [UInt8] { payload }
    public func parser(index: Int) -> SendExpectParser { SendExpectParser(expectation) }
}

/// A compiled regular expression, shared read-only between threads.
public struct SendableRegex: @unchecked Sendable {
    public let regex: Regex<AnyRegexOutput>

    /// Matched scalar by scalar (a CR LF is two characters, not one grapheme). Throws the
    /// compiler's message for a pattern that does not compile.
    public init(_ pattern: String) throws {
        regex = try Regex(pattern).matchingSemantics(.unicodeScalar)
    }
}

/// `0a0b0c…` with at most 16 bytes shown.
func hexPreview(_ bytes: [UInt8]) -> String {
    bytes.count <= 16 ? hexString(bytes) : hexString(Array(bytes.prefix(16))) + "…"
}

/// Reads the answer a ``SendExpectDialogue`` expects.
public struct SendExpectParser: AppAnswerParser {
    let expectation: SendExpectDialogue.Expectation
    var buffer: [UInt8] = []

    public init(_ expectation: SendExpectDialogue.Expectation) {
        self.expectation = expectation
    }

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        let before = buffer.count
        switch expectation {
        case .bytes(let expected):
            let take = min(bytes.count, expected.count - before)
            buffer.append(contentsOf: bytes[0..<take])
            if buffer != Array(expected[0..<buffer.count]) {
                return .wrongProtocol("answered `\(describeForeignBytes(buffer + Array(bytes[take...])))` (\(hexPreview(buffer))…), not the expected \(hexPreview(expected))")
            }
            if buffer.count == expected.count { return .complete(AppAnswer("\(expected.count) bytes as expected"), consumed: take) }
            return .needMore
        case .count(let n):
            let take = min(bytes.count, n - before)
            buffer.append(contentsOf: bytes[0..<take])
            if buffer.count == n { return .complete(AppAnswer("\(n) bytes: \(hexPreview(buffer))"), consumed: take) }
            return .needMore
        case .regex(let regex, let source, let limit):
            let take = min(bytes.count, limit - before)
            buffer.append(contentsOf: bytes[0..<take])
            let text = String(String.UnicodeScalarView(buffer.map { Unicode.Scalar($0) }))
            if let match = try? regex.regex.firstMatch(in: text) {
                let matched = String(text[match.range])
                return .complete(AppAnswer("matched `\(describeForeignBytes(matched.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }))`"), consumed: take)
            }
            if buffer.count >= limit {
                return .wrongProtocol("answered \(limit) bytes without a match for /\(source)/: `\(describeForeignBytes(buffer))`")
            }
            return .needMore
        }
    }

    /// A count or a regex not met when the server closes: the close is the outcome.
    public func endOfStream() -> AppParse? { nil }
}
