/// Redis: `PING` as a RESP array (`*1\r\n$4\r\nPING\r\n`, the Redis serialization
/// protocol, redis.io/docs/reference/protocol-spec) answered by `+PONG`, or by an error
/// such as `-NOAUTH Authentication required.`, still one round trip. One connection,
/// repeated. The server logs nothing for a PING.
public struct RedisDialogue: AppDialogue {
    public var method: ProbeMethod { .redis }
    public var mode: AppSessionMode { .session }
    public var protocolName: String { "Redis" }
    public var summary: String { "PING (RESP) → +PONG on one connection, TX of the PING → RX of the answer" }

    /// `*1\r\n$4\r\nPING\r\n`.
    public static let ping: [UInt8] = Array("*1\r\n$4\r\nPING\r\n".utf8)

    public init() {}

    public func request(index: Int) -> [UInt8] { Self.ping }
    public func parser(index: Int) -> RESPParser { RESPParser() }
}

/// One RESP2/RESP3 value, read incrementally: a simple string, an error, an integer, a bulk
/// string or an aggregate of them. Its description is the first line (`+PONG`,
/// `-NOAUTH Authentication required.`). Anything that does not start with a RESP type
/// byte is not Redis; a value longer than `limit` bytes is refused as well.
public struct RESPParser: AppAnswerParser {
    var buffer: [UInt8] = []
    let limit: Int

    public init(limit: Int = 65_536) { self.limit = limit }

    /// The RESP type bytes: + - : $ * (RESP2) and _ , # ! = ( % ~ > | (RESP3).
    static let typeBytes: Set<UInt8> = Set("+-:$*_,#!=(%~>|".utf8)

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        let before = buffer.count
        buffer.append(contentsOf: bytes)
        if let first = buffer.first, !Self.typeBytes.contains(first) {
            return .wrongProtocol(buffer.withUnsafeBytes { wrongProtocolLine($0, notWhat: "Redis") })
        }
        switch Self.valueEnd(buffer, from: 0, depth: 0) {
        case .some(.some(let end)):
            let firstLine = Self.lineEnd(buffer, from: 0).map { Array(buffer[0..<$0]) } ?? []
            let text = String(decoding: firstLine, as: UTF8.self)
            let isError = buffer[0] == UInt8(ascii: "-") || buffer[0] == UInt8(ascii: "!")
            return .complete(AppAnswer(text, isError: isError), consumed: max(0, end - before))
        case .some(.none):
            return .wrongProtocol(buffer.withUnsafeBytes { wrongProtocolLine($0, notWhat: "Redis") })
        case .none:
            if buffer.count > limit {
                return .wrongProtocol("answered more than \(limit) bytes without ending one RESP value: not a Redis PING answer")
            }
            return .needMore
        }
    }

    /// The index just past `\r\n` ending the line that starts at `from`, or nil.
    static func lineEnd(_ b: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < b.count {
            if b[i] == 0x0d && b[i + 1] == 0x0a { return i }
            i += 1
        }
        return nil
    }

    /// Where the value starting at `from` ends: nil, need more; .some(nil), malformed.
    static func valueEnd(_ b: [UInt8], from: Int, depth: Int) -> Int?? {
        guard from < b.count else { return nil }
        guard depth < 8, typeBytes.contains(b[from]) else { return .some(nil) }
        guard let crlf = lineEnd(b, from: from) else { return nil }
        let header = b[(from + 1)..<crlf]
        let next = crlf + 2
        switch b[from] {
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            guard let n = Int(String(decoding: header, as: UTF8.self)) else { return .some(nil) }
            if n < 0 { return .some(next) }
            let end = next + n + 2
            if end > b.count { return nil }
            return .some(end)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard var n = Int(String(decoding: header, as: UTF8.self)) else { return .some(nil) }
            if b[from] == UInt8(ascii: "%") || b[from] == UInt8(ascii: "|") { n *= 2 }
            var at = next
            for _ in 0..<max(0, n) {
                switch valueEnd(b, from: at, depth: depth + 1) {
                case .none: return nil
                case .some(.none): return .some(nil)
                case .some(.some(let e)): at = e
                }
            }
            if b[from] == UInt8(ascii: "|") {
                return valueEnd(b, from: at, depth: depth + 1)
            }
            return .some(at)
        default:
            return .some(next)
        }
    }
}
