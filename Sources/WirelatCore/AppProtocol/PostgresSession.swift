/// Which encryption request the login-free pg probe sends ("Message Flow", SSL Session
/// Encryption and GSSAPI Session Encryption). Both are answered by one byte.
public enum PostgresEncryptionRequest: String, Sendable, CaseIterable {
    /// SSLRequest → `S` or `N`.
    case ssl
    /// GSSENCRequest → `G` or `N`.
    case gss

    /// The request's 8 bytes.
    public var bytes: [UInt8] { self == .ssl ? Postgres.sslRequest() : Postgres.gssEncRequest() }
    /// The byte that says yes: `S` or `G`.
    public var willingByte: UInt8 { self == .ssl ? UInt8(ascii: "S") : UInt8(ascii: "G") }
    /// The message's name.
    public var name: String { self == .ssl ? "SSLRequest" : "GSSENCRequest" }
}

/// The answer to an SSLRequest or a GSSENCRequest: one byte.
public enum PostgresSSLAnswer: Equatable, Sendable, CustomStringConvertible {
    /// `S`: the server is willing to do TLS.
    case willing
    /// `G`: the server is willing to do GSSAPI encryption.
    case gssWilling
    /// `N`: the server does not do TLS (and would now read a StartupMessage).
    case unwilling
    /// An ErrorResponse: a server from before SSL support (the text of a protocol-2
    /// error, or the fields of a protocol-3 one).
    case error(String)

    public var description: String {
        switch self {
        case .willing: return "S (TLS available)"
        case .gssWilling: return "G (GSSAPI encryption available)"
        case .unwilling: return "N (no TLS)"
        case .error(let text): return "ErrorResponse: \(text)"
        }
    }

    /// Reads the answer from the bytes received so far: nil until it is complete.
    /// The server sends one byte and then waits for the client, so anything after an
    /// `S` or `N` means another protocol (an SSH banner starts with `S` too).
    public static func parse(_ bytes: [UInt8], request: PostgresEncryptionRequest = .ssl) throws(DatabaseAnswerError) -> PostgresSSLAnswer? {
        guard let first = bytes.first else { return nil }
        switch first {
        case request.willingByte, UInt8(ascii: "N"):
            guard bytes.count == 1 else { throw DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: bytes) }
            if first == UInt8(ascii: "N") { return .unwilling }
            return request == .ssl ? .willing : .gssWilling
        case UInt8(ascii: "E"):
            // Protocol 3 (a length, then fields) or protocol 2 (a C string): five bytes tell them apart.
            guard bytes.count >= 5 else { return nil }
            let length = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
            if length >= 4, length <= 65_536 {
                guard bytes.count >= 1 + length else { return nil }
                do {
                    return .error(try PostgresErrorFields(body: Array(bytes[5..<(1 + length)])).description)
                } catch {
                    throw DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: bytes)
                }
            }
            // Protocol 2: `E` and the message as a C string.
            guard let end = bytes.dropFirst().firstIndex(of: 0) else {
                if bytes.count > 65_536 { throw DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: bytes) }
                return nil
            }
            let text = String(decoding: bytes[1..<end], as: UTF8.self)
            return .error(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        default:
            throw DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: bytes)
        }
    }
}

/// What a session's state machine wants done after the bytes it was given.
public enum DatabaseLoginStep: Equatable, Sendable {
    /// Wait for more bytes from the server.
    case needMore
    /// Send these bytes, then wait for more.
    case send([UInt8])
    /// Logged in: the session is ready for requests.
    case ready
}

/// A PostgreSQL login ("Message Flow", Start-up): StartupMessage, the authentication the
/// server asks for, then the ParameterStatus/BackendKeyData messages up to ReadyForQuery.
///
/// Methods: trust (AuthenticationOk at once), md5, and SCRAM-SHA-256 with the server's
/// signature verified. A cleartext password request (pg_hba `password`) is refused:
/// wirelat does not speak TLS, so the password would cross the network readable.
public struct PostgresLogin: Sendable {
    public let user: String
    public let database: String
    private let password: [UInt8]?
    private let clientNonce: String
    private var reader = PostgresMessageReader()
    private var scram: SCRAMSHA256Client?
    private var scramVerified = false
    private var authenticated = false

    /// The authentication the server asked for: `trust`, `md5` or `SCRAM-SHA-256`, once known.
    public private(set) var authenticationMethod: String?
    /// The server's `server_version` ParameterStatus, e.g. `15.14 (Debian 15.14-0+deb12u1)`.
    public private(set) var serverVersion: String?
    /// BackendKeyData's process id: the backend serving the session.
    public private(set) var backendProcessID: UInt32?

    /// - Parameter clientNonce: the SCRAM client nonce (printable, no commas); the caller
    ///   draws it from a random source, which keeps this type pure.
    public init(user: String, database: String?, password: [UInt8]?, clientNonce: String) {
        self.user = user
        self.database = database ?? user
        self.password = password
        self.clientNonce = clientNonce
    }

    /// The StartupMessage: protocol 3.0, `user`, `database`, `application_name=wirelat`.
    public var startupMessage: [UInt8] {
        Postgres.startupMessage(parameters: [
            ("user", user), ("database", database), ("application_name", Postgres.applicationName),
        ])
    }

    /// Feeds the server's bytes; returns what to do next. Throws the server's ErrorResponse
    /// (`FATAL 28P01 password authentication failed for user "x"`), another protocol, or an
    /// authentication wirelat does not do.
    public mutating func receive<C: Collection>(_ bytes: C) throws(DatabaseAnswerError) -> DatabaseLoginStep where C.Element == UInt8 {
        reader.append(bytes)
        var toSend: [UInt8] = []
        while let message = try reader.next() {
            switch message.type {
            case UInt8(ascii: "R"):
                toSend += try authentication(message.body)
            case UInt8(ascii: "E"):
                throw Self.errorResponse(message.body)
            case UInt8(ascii: "S"):
                if let (name, value) = Self.parameterStatus(message.body), name == "server_version" { serverVersion = value }
            case UInt8(ascii: "K"):
                if message.body.count >= 4 {
                    backendProcessID = UInt32(message.body[0]) << 24 | UInt32(message.body[1]) << 16 | UInt32(message.body[2]) << 8 | UInt32(message.body[3])
                }
            case UInt8(ascii: "N"), UInt8(ascii: "v"):
                continue
            case UInt8(ascii: "Z"):
                guard authenticated else {
                    throw DatabaseAnswerError(.malformed, "ReadyForQuery before AuthenticationOk")
                }
                return .ready
            default:
                throw DatabaseAnswerError(.malformed, "unexpected message `\(message.typeCharacter)` during login")
            }
        }
        return toSend.isEmpty ? .needMore : .send(toSend)
    }

    private mutating func authentication(_ body: [UInt8]) throws(DatabaseAnswerError) -> [UInt8] {
        guard body.count >= 4 else { throw DatabaseAnswerError(.malformed, "Authentication message of \(body.count) bytes") }
        let code = UInt32(body[0]) << 24 | UInt32(body[1]) << 16 | UInt32(body[2]) << 8 | UInt32(body[3])
        let data = Array(body[4...])
        switch code {
        case 0:
            if scram != nil && !scramVerified {
                throw DatabaseAnswerError(.malformed, "AuthenticationOk without the SCRAM server signature")
            }
            if authenticationMethod == nil { authenticationMethod = "trust" }
            authenticated = true
            return []
        case 3:
            throw DatabaseAnswerError(.unsupported, "asks for the password in clear text (pg_hba method `password`); wirelat sends it only hashed (md5, scram-sha-256), as it does not speak TLS")
        case 5:
            guard data.count == 4 else { throw DatabaseAnswerError(.malformed, "AuthenticationMD5Password with a salt of \(data.count) bytes") }
            authenticationMethod = "md5"
            let password = try requirePassword("md5")
            return Postgres.passwordMessage(Postgres.md5PasswordText(user: user, password: password, salt: data))
        case 10:
            let mechanisms = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard mechanisms.contains(SCRAMSHA256Client.mechanism) else {
                throw DatabaseAnswerError(.unsupported, "offers SASL \(mechanisms.joined(separator: ", ")); wirelat speaks SCRAM-SHA-256")
            }
            authenticationMethod = SCRAMSHA256Client.mechanism
            let client = SCRAMSHA256Client(password: try requirePassword("scram-sha-256"), clientNonce: clientNonce)
            scram = client
            return Postgres.saslInitialResponse(mechanism: SCRAMSHA256Client.mechanism, data: client.clientFirstMessage)
        case 11:
            guard var client = scram else { throw DatabaseAnswerError(.malformed, "AuthenticationSASLContinue without SASL") }
            let final = try client.clientFinalMessage(serverFirst: data)
            scram = client
            return Postgres.saslResponse(data: final)
        case 12:
            guard let client = scram else { throw DatabaseAnswerError(.malformed, "AuthenticationSASLFinal without SASL") }
            try client.verifyServerFinal(data)
            scramVerified = true
            return []
        case 2: throw DatabaseAnswerError(.unsupported, "asks for Kerberos V5; wirelat does trust, md5 and scram-sha-256")
        case 7, 8: throw DatabaseAnswerError(.unsupported, "asks for GSSAPI; wirelat does trust, md5 and scram-sha-256")
        case 9: throw DatabaseAnswerError(.unsupported, "asks for SSPI; wirelat does trust, md5 and scram-sha-256")
        default: throw DatabaseAnswerError(.unsupported, "asks for authentication method \(code); wirelat does trust, md5 and scram-sha-256")
        }
    }

    private func requirePassword(_ method: String) throws(DatabaseAnswerError) -> [UInt8] {
        guard let password else {
            throw DatabaseAnswerError(.unsupported, "asks user \"\(user)\" for a password (\(method)); give it in WIRELAT_PASSWORD or --password-file")
        }
        return password
    }

    static func errorResponse(_ body: [UInt8]) -> DatabaseAnswerError {
        do {
            return DatabaseAnswerError(.refused, try PostgresErrorFields(body: body).description)
        } catch {
            return DatabaseAnswerError(.malformed, "ErrorResponse with broken fields")
        }
    }

    static func parameterStatus(_ body: [UInt8]) -> (String, String)? {
        let parts = body.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self))
    }
}

/// One simple-query exchange on a logged-in session: the Query message, and the answer
/// read up to ReadyForQuery. wirelat sends the empty query: the server answers
/// EmptyQueryResponse + ReadyForQuery in one segment without parsing, planning or
/// running anything, so the round trip is the network plus the backend's wake-up.
public struct PostgresQueryExchange: Sendable {
    /// What the server said, once ReadyForQuery has arrived.
    public enum Answer: Equatable, Sendable, CustomStringConvertible {
        /// EmptyQueryResponse (`I`).
        case emptyQuery
        /// CommandComplete (`C`) with its tag, e.g. `SELECT 1`.
        case command(String)
        /// An ErrorResponse: still one round trip (the session goes on).
        case error(String)
        /// A FATAL or PANIC ErrorResponse: the server ends the session (shutdown, idle timeout).
        case fatal(String)

        public var description: String {
            switch self {
            case .emptyQuery: return "EmptyQueryResponse"
            case .command(let tag): return tag
            case .error(let text), .fatal(let text): return text
            }
        }
    }

    /// The Query message sent for every probe.
    public let request: [UInt8]
    private var reader = PostgresMessageReader()
    private var answer: Answer?

    public init(sql: String = "") {
        request = Postgres.query(sql)
    }

    /// Starts reading the answer to the next request.
    public mutating func reset() {
        reader = PostgresMessageReader()
        answer = nil
    }

    /// Feeds the server's bytes; the answer once ReadyForQuery has arrived, else nil.
    public mutating func receive<C: Collection>(_ bytes: C) throws(DatabaseAnswerError) -> Answer? where C.Element == UInt8 {
        reader.append(bytes)
        while let message = try reader.next() {
            switch message.type {
            case UInt8(ascii: "I"):
                answer = .emptyQuery
            case UInt8(ascii: "C"):
                if case .error = answer {} else {
                    answer = .command(String(decoding: message.body.prefix { $0 != 0 }, as: UTF8.self))
                }
            case UInt8(ascii: "E"):
                let fields = try? PostgresErrorFields(body: message.body)
                if let fields, fields.severity == "FATAL" || fields.severity == "PANIC" {
                    reset()
                    return .fatal(fields.description)
                }
                answer = .error(fields?.description ?? "ErrorResponse")
            case UInt8(ascii: "Z"):
                let done = answer ?? .emptyQuery
                reset()
                return done
            case UInt8(ascii: "T"), UInt8(ascii: "D"), UInt8(ascii: "N"), UInt8(ascii: "S"), UInt8(ascii: "A"):
                continue
            default:
                throw DatabaseAnswerError(.malformed, "unexpected message `\(message.typeCharacter)` in a query's answer")
            }
        }
        return nil
    }
}
