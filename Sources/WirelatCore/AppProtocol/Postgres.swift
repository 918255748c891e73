import Crypto

/// PostgreSQL's frontend/backend protocol, version 3.0 (PostgreSQL documentation,
/// "Frontend/Backend Protocol", chapters "Message Flow" and "Message Formats"):
/// the messages wirelat sends and an incremental reader of what the server sends.
///
/// Every backend message after the start-up phase is `Byte1 type, Int32 length`
/// (the length counts itself but not the type byte), then the body.
public enum Postgres {
    /// SSLRequest's request code: 1234 in the high 16 bits, 5679 in the low ("Message Formats", SSLRequest).
    public static let sslRequestCode: UInt32 = 80_877_103
    /// Protocol 3.0 as StartupMessage carries it: major 3 in the high 16 bits, minor 0.
    public static let protocolVersion3: UInt32 = 196_608
    /// The application_name wirelat gives its sessions (visible in pg_stat_activity and in log lines with %a).
    public static let applicationName = "wirelat"
    /// The longest backend message the reader accepts; anything longer is not an answer to wirelat's
    /// small messages (an HTTP status line read as a length gives ~1.4 GB).
    public static let maximumMessageLength = 1 << 20

    /// SSLRequest: `Int32 8, Int32 80877103`. The server answers with one byte, `S` or `N`
    /// (or, before 7.0-era servers learnt it, an ErrorResponse).
    public static func sslRequest() -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        w.uint32BE(8)
        w.uint32BE(sslRequestCode)
        return w.bytes
    }

    /// GSSENCRequest's request code: 1234 in the high 16 bits, 5680 in the low. The server
    /// answers `G` (built with GSSAPI) or `N`.
    public static let gssEncRequestCode: UInt32 = 80_877_104

    /// GSSENCRequest: `Int32 8, Int32 80877104`.
    public static func gssEncRequest() -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        w.uint32BE(8)
        w.uint32BE(gssEncRequestCode)
        return w.bytes
    }

    /// StartupMessage: `Int32 length, Int32 196608`, then name/value pairs as C strings,
    /// then one zero byte. wirelat sends `user`, `database` and `application_name`.
    public static func startupMessage(parameters: [(name: String, value: String)]) -> [UInt8] {
        var body = ByteWriter(capacity: 64)
        body.uint32BE(protocolVersion3)
        for (name, value) in parameters {
            body.cString(name)
            body.cString(value)
        }
        body.uint8(0)
        var w = ByteWriter(capacity: body.bytes.count + 4)
        w.uint32BE(UInt32(body.bytes.count + 4))
        w.append(contentsOf: body.bytes)
        return w.bytes
    }

    /// A frontend message with a type byte: `Byte1 type, Int32 length, body`.
    public static func message(type: UInt8, body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 5)
        w.uint8(type)
        w.uint32BE(UInt32(body.count + 4))
        w.append(contentsOf: body)
        return w.bytes
    }

    /// PasswordMessage (`p`): the password (cleartext or the md5 hash text) as a C string.
    public static func passwordMessage(_ password: [UInt8]) -> [UInt8] {
        message(type: UInt8(ascii: "p"), body: password + [0])
    }

    /// SASLInitialResponse (`p`): the mechanism name as a C string, then the length of the
    /// client-first-message and the message itself.
    public static func saslInitialResponse(mechanism: String, data: [UInt8]) -> [UInt8] {
        var body = ByteWriter(capacity: data.count + 32)
        body.cString(mechanism)
        body.uint32BE(UInt32(data.count))
        body.append(contentsOf: data)
        return message(type: UInt8(ascii: "p"), body: body.bytes)
    }

    /// SASLResponse (`p`): the SASL data, nothing else.
    public static func saslResponse(data: [UInt8]) -> [UInt8] {
        message(type: UInt8(ascii: "p"), body: data)
    }

    /// Query (`Q`): a simple query as a C string. The empty string is answered by
    /// EmptyQueryResponse (`I`) and ReadyForQuery (`Z`).
    public static func query(_ sql: String) -> [UInt8] {
        message(type: UInt8(ascii: "Q"), body: Array(sql.utf8) + [0])
    }

    /// Terminate (`X`): the clean end of a session; the server closes without logging
    /// "unexpected EOF on client connection".
    public static let terminate: [UInt8] = [UInt8(ascii: "X"), 0, 0, 0, 4]

    /// The md5 method's answer ("Message Flow", AuthenticationMD5Password):
    /// `"md5" + hex(md5(hex(md5(password + user)) + salt))`.
    public static func md5PasswordText(user: String, password: [UInt8], salt: [UInt8]) -> [UInt8] {
        let inner = Array(hexString(Array(Insecure.MD5.hash(data: password + Array(user.utf8)))).utf8)
        let outer = Array(hexString(Array(Insecure.MD5.hash(data: inner + salt))).utf8)
        return Array("md5".utf8) + outer
    }
}

extension ByteWriter {
    /// A string's UTF-8 bytes and a terminating zero.
    mutating func cString(_ s: String) {
        append(contentsOf: s.utf8)
        uint8(0)
    }
}

/// One message from the server: its type byte and its body (the length word removed).
public struct PostgresMessage: Equatable, Sendable {
    public let type: UInt8
    public let body: [UInt8]

    public init(type: UInt8, body: [UInt8]) {
        self.type = type
        self.body = body
    }

    /// The type as a character, for messages and tests.
    public var typeCharacter: Character { Character(Unicode.Scalar(type)) }
}

/// The fields of an ErrorResponse or NoticeResponse ("Error and Notice Message Fields"):
/// `Byte1 code, String value` pairs ended by a zero byte.
public struct PostgresErrorFields: Equatable, Sendable, CustomStringConvertible {
    /// `V`: the severity, never localized (ERROR, FATAL, PANIC); `S` when the server is older than 9.6.
    public var severity: String = ""
    /// `C`: the SQLSTATE code, e.g. 28P01 (invalid_password).
    public var code: String = ""
    /// `M`: the primary message.
    public var message: String = ""
    /// `D`: the detail, if any.
    public var detail: String?

    public init(severity: String, code: String, message: String, detail: String? = nil) {
        self.severity = severity
        self.code = code
        self.message = message
        self.detail = detail
    }

    /// Parses the body of an `E` or `N` message.
    public init(body: [UInt8]) throws(DecodeError) {
        var localizedSeverity = ""
        var i = 0
        while true {
            guard i < body.count else { throw DecodeError(.truncated, at: i) }
            let field = body[i]
            i += 1
            if field == 0 { break }
            guard let end = body[i...].firstIndex(of: 0) else { throw DecodeError(.truncated, at: body.count) }
            let value = String(decoding: body[i..<end], as: UTF8.self)
            i = end + 1
            switch field {
            case UInt8(ascii: "V"): severity = value
            case UInt8(ascii: "S"): localizedSeverity = value
            case UInt8(ascii: "C"): code = value
            case UInt8(ascii: "M"): message = value
            case UInt8(ascii: "D"): detail = value
            default: break
            }
        }
        if severity.isEmpty { severity = localizedSeverity }
    }

    /// One line, e.g. `FATAL 28P01 password authentication failed for user "x"`.
    public var description: String {
        [severity, code, message].filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// Splits the server's byte stream into messages, fed as bytes arrive (in any pieces).
/// Anything that cannot be a backend message (an unknown type byte, a length below 4 or
/// above ``Postgres/maximumMessageLength``) is reported as another protocol.
public struct PostgresMessageReader: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    /// The first bytes the server ever sent, kept to quote them if they are not PostgreSQL.
    public private(set) var firstBytes: [UInt8] = []

    /// Backend message types of protocol 3.0 ("Message Formats").
    static let backendTypes: Set<UInt8> = Set("RSKZENITDC123nstAGHWcdvV".utf8)

    public init() {}

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if firstBytes.count < 64 { firstBytes.append(contentsOf: bytes.prefix(64 - firstBytes.count)) }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received and not yet returned as a message.
    public var pendingCount: Int { buffer.count - start }

    /// The next complete message, or nil until more bytes arrive.
    public mutating func next() throws(DatabaseAnswerError) -> PostgresMessage? {
        let available = buffer.count - start
        guard available >= 1 else { return nil }
        let type = buffer[start]
        guard Self.backendTypes.contains(type) else { throw DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: firstBytes) }
        guard available >= 5 else { return nil }
        let length = Int(buffer[start + 1]) << 24 | Int(buffer[start + 2]) << 16 | Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
        guard length >= 4, length <= Postgres.maximumMessageLength else {
            throw DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: firstBytes)
        }
        guard available >= 1 + length else { return nil }
        let body = Array(buffer[(start + 5)..<(start + 1 + length)])
        start += 1 + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 {
            buffer.removeFirst(start)
            start = 0
        }
        return PostgresMessage(type: type, body: body)
    }
}

/// A server's answer that ends the probe: another protocol, or the server's own refusal.
/// `description` is the one line a user sees (the caller puts "port P " in front of
/// ``notProtocol`` answers).
public struct DatabaseAnswerError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The bytes are not the protocol: `answered `…`: not PostgreSQL`.
        case notProtocol
        /// The server refused in its own protocol (an ErrorResponse, an ERR packet).
        case refused
        /// The server asked for something wirelat does not do (an auth method, TLS).
        case unsupported
        /// The server broke its own protocol (a bad SCRAM signature, a malformed field).
        case malformed
    }
    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// `answered `HTTP/1.1 400 Bad Request`: not PostgreSQL`: the first line of what came
    /// back, as ``wrongProtocolLine(_:notWhat:)`` writes it.
    public init(notProtocol name: String, quoting bytes: [UInt8]) {
        self.init(.notProtocol, wrongProtocolLine(bytes, notWhat: name))
    }

    /// The line a probe stops on, after "HOST port P ": `answered `…`: not PostgreSQL`,
    /// `refused the login: FATAL 28P01 …`, `asks for …`.
    public var probeLine: String {
        switch kind {
        case .notProtocol, .unsupported: return description
        case .refused: return "refused the login: \(description)"
        case .malformed: return "broke its protocol: \(description)"
        }
    }
}
