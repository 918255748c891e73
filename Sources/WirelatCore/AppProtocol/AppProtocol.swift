/// Application-protocol probes (`wirelat probe redis|http|tns|tcp|pg|mysql`): the pure
/// half. A protocol is an ``AppDialogue``: what to send to open a session (if
/// anything), the request bytes of probe i, and an incremental ``AppAnswerParser`` that
/// says whether the bytes read so far are a whole answer, need more, or are not this
/// protocol at all. WirelatKit's `AppProtocolProber` drives any dialogue over a TCP
/// socket and times it on both clocks.

/// How a dialogue uses its connections.
public enum AppSessionMode: String, Sendable, Codable {
    /// One exchange per connection: connect, open, one request and its answer, a clean
    /// close (pg's SSLRequest, mysql's greeting, TNS).
    case perConnection = "per-connection"
    /// One connection, the exchange repeated on it; a connection the server closes is
    /// reopened at the next probe and counted (redis, http, tcp).
    case session
}

/// A whole answer to one request.
public struct AppAnswer: Sendable, Equatable {
    /// One short line for the probe's output: `+PONG`, `HTTP/1.1 200 OK`, `REFUSE 19.0.0.0.0 ERR=0`.
    public var description: String
    /// The server answered, but with an error of its own protocol (`-NOAUTH …`, `-ERR …`):
    /// still one round trip, counted apart.
    public var isError: Bool
    /// The answer says the server closes the connection after it (`Connection: close`):
    /// the next probe reconnects.
    public var serverCloses: Bool

    public init(_ description: String, isError: Bool = false, serverCloses: Bool = false) {
        self.description = description
        self.isError = isError
        self.serverCloses = serverCloses
    }
}

/// What a parser knows after the bytes fed to it so far.
public enum AppParse: Sendable, Equatable {
    /// Not a whole answer yet: feed more bytes.
    case needMore
    /// A whole answer; `consumed` is how many bytes of the LAST call belonged to it (a
    /// well-behaved server sends nothing more until the next request).
    case complete(AppAnswer, consumed: Int)
    /// What came back is not this protocol: one line saying what it was, e.g.
    /// "answered `HTTP/1.1 400 Bad Request`: not Redis".
    case wrongProtocol(String)
}

/// Reads one answer, fed the bytes as they arrive: in one piece or one byte at a time,
/// the verdict is the same. A parser is used for one answer, then replaced.
public protocol AppAnswerParser: Sendable {
    mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse
    /// The server closed the connection after the bytes fed so far: the answer's verdict
    /// (nil: the close itself is the outcome, "closed"). HTTP/1.0 bodies and
    /// `--expect-bytes`-less reads end this way.
    func endOfStream() -> AppParse?
}

public extension AppAnswerParser {
    func endOfStream() -> AppParse? { nil }

    /// Feeds an array (tests, and dialogues that hold bytes already).
    mutating func consume(_ bytes: [UInt8]) -> AppParse {
        bytes.withUnsafeBytes { consume($0) }
    }
}

/// One step of a session's opening, the conversation before the first probe.
public enum AppOpeningStep: Sendable, Equatable {
    /// Send these bytes, then read the answer (``AppDialogue/continueOpening(_:)``).
    case send([UInt8])
    /// Read more bytes before deciding.
    case receive
    /// The session is open: probes start.
    case open
    /// The opening failed: one line saying what came back (an authentication error, a
    /// wrong protocol); the probe reports it and stops.
    case failed(String)
}

/// One application protocol, as a probe speaks it. Value types: the prober keeps a copy
/// per connection, so a dialogue's opening state starts afresh at each connect.
public protocol AppDialogue: Sendable {
    associatedtype Parser: AppAnswerParser
    /// The JSON `method`.
    var method: ProbeMethod { get }
    var mode: AppSessionMode { get }
    /// The protocol's name in messages: "not Redis".
    var protocolName: String { get }
    /// What is sent and what is timed, for the opening line of the output.
    var summary: String { get }

    /// A new connection: the opening's first step (`.open` for protocols with none).
    mutating func startOpening() -> AppOpeningStep
    /// The bytes received since the last step and not consumed; returns how many belong
    /// to the opening and what to do next.
    mutating func continueOpening(_ received: [UInt8]) -> (consumed: Int, next: AppOpeningStep)
    /// The request of probe `index` (from 0). Empty: the server speaks first (a greeting),
    /// and the answer is read right after the connect.
    func request(index: Int) -> [UInt8]
    /// A fresh parser for the answer to probe `index`.
    func parser(index: Int) -> Parser
    /// Sent before a clean close (a QUIT, a Terminate); empty for none.
    func closing() -> [UInt8]
}

public extension AppDialogue {
    mutating func startOpening() -> AppOpeningStep { .open }
    mutating func continueOpening(_ received: [UInt8]) -> (consumed: Int, next: AppOpeningStep) { (0, .open) }
    func closing() -> [UInt8] { [] }
}

/// How a few bytes that are not the expected protocol look in a message: the first line,
/// printable ASCII kept, anything else as `\xNN`, at most `limit` characters. `HTTP/1.1 400 Bad Request`,
/// `+PONG`, `\x16\x03\x01\x00`.
public func describeForeignBytes(_ bytes: UnsafeRawBufferPointer, limit: Int = 60) -> String {
    var out = ""
    for b in bytes {
        if b == 0x0d || b == 0x0a { break }
        if out.count >= limit { out += "…"; break }
        if b >= 0x20 && b < 0x7f {
            out.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            out += "\\x" + hexByte(b)
        }
    }
    return out
}

public func describeForeignBytes(_ bytes: [UInt8], limit: Int = 60) -> String {
    bytes.withUnsafeBytes { describeForeignBytes($0, limit: limit) }
}

/// "answered `…`: not Redis".
public func wrongProtocolLine(_ bytes: UnsafeRawBufferPointer, notWhat: String) -> String {
    "answered `\(describeForeignBytes(bytes))`: not \(notWhat)"
}

public func wrongProtocolLine(_ bytes: [UInt8], notWhat: String) -> String {
    bytes.withUnsafeBytes { wrongProtocolLine($0, notWhat: notWhat) }
}

/// Two lower-case hex digits.
public func hexByte(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0x0f)]])
}

/// Bytes as lower-case hex without separators: `2a310d0a`.
public func hexString(_ bytes: [UInt8]) -> String { bytes.map(hexByte).joined() }

/// Parses hex digits (upper or lower case; spaces, colons and a leading `0x` allowed
/// between bytes); nil when it is not an even number of hex digits.
public func parseHex(_ text: String) -> [UInt8]? {
    var digits: [UInt8] = []
    var s = Substring(text)
    if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
    for c in s.utf8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digits.append(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digits.append(c - UInt8(ascii: "A") + 10)
        case UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: "\t"), UInt8(ascii: "\n"): continue
        default: return nil
        }
    }
    guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}
