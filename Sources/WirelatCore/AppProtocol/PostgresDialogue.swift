/// `wirelat probe pg` without credentials: one connection per probe, an SSLRequest
/// answered by the single byte `S` or `N` (or a GSSENCRequest, `G` or `N`), then a
/// close. The server has not started a session (no StartupMessage was sent): PostgreSQL
/// logs nothing for an `N` or a `G` answer, unlike `pg_isready`, whose StartupMessage can
/// end in a FATAL line. A server with `ssl = on` answers `S` and, as the close comes
/// instead of a TLS ClientHello, logs "could not accept SSL connection: EOF detected";
/// the GSSENCRequest avoids that line.
public struct PostgresSSLRequestDialogue: AppDialogue {
    public var method: ProbeMethod { .pg }
    public var mode: AppSessionMode { .perConnection }
    public var protocolName: String { "PostgreSQL" }
    public var summary: String {
        let answers = encryption == .ssl ? "S/N" : "G/N"
        return "\(encryption.name) → \(answers), one connection each, no login; TX of the \(encryption.name) → RX of the answer"
    }

    public let encryption: PostgresEncryptionRequest

    public init(encryption: PostgresEncryptionRequest = .ssl) {
        self.encryption = encryption
    }

    public func request(index: Int) -> [UInt8] { encryption.bytes }
    public func parser(index: Int) -> PostgresSSLAnswerParser { PostgresSSLAnswerParser(request: encryption) }
}

/// Reads the one-byte answer to an SSLRequest or GSSENCRequest (or an old server's ErrorResponse).
public struct PostgresSSLAnswerParser: AppAnswerParser {
    private var bytes: [UInt8] = []
    private let request: PostgresEncryptionRequest

    public init(request: PostgresEncryptionRequest = .ssl) {
        self.request = request
    }

    public mutating func consume(_ more: UnsafeRawBufferPointer) -> AppParse {
        bytes.append(contentsOf: more)
        do {
            guard let answer = try PostgresSSLAnswer.parse(bytes, request: request) else { return .needMore }
            if case .error = answer { return .complete(AppAnswer(answer.description, isError: true), consumed: more.count) }
            return .complete(AppAnswer(answer.description), consumed: more.count)
        } catch {
            return .wrongProtocol(error.probeLine)
        }
    }
}

/// `wirelat probe pg --user U`: one session (StartupMessage, trust/md5/SCRAM-SHA-256,
/// ReadyForQuery), then the empty query repeated on it, each answered by
/// EmptyQueryResponse + ReadyForQuery; Terminate at the end, so the server logs no
/// "unexpected EOF on client connection".
public struct PostgresSessionDialogue: AppDialogue {
    public var method: ProbeMethod { .pg }
    public var mode: AppSessionMode { .session }
    public var protocolName: String { "PostgreSQL" }
    public var summary: String {
        "a session as \(user) on \(database) (\(Postgres.applicationName)), then Query \"\" → EmptyQueryResponse + ReadyForQuery on it; TX of the Query → RX of the answer"
    }

    public let user: String
    public let database: String
    private let password: [UInt8]?
    private let nonce: @Sendable () -> String
    private var login: PostgresLogin?

    /// - Parameter nonce: makes the SCRAM client nonce of each new connection (the caller
    ///   draws it from a random source).
    public init(user: String, database: String?, password: [UInt8]?, nonce: @escaping @Sendable () -> String) {
        self.user = user
        self.database = database ?? user
        self.password = password
        self.nonce = nonce
    }

    public mutating func startOpening() -> AppOpeningStep {
        let l = PostgresLogin(user: user, database: database, password: password, clientNonce: nonce())
        login = l
        return .send(l.startupMessage)
    }

    public mutating func continueOpening(_ received: [UInt8]) -> (consumed: Int, next: AppOpeningStep) {
        guard var l = login else { return (0, .failed("session opening out of order")) }
        defer { login = l }
        do {
            switch try l.receive(received) {
            case .needMore: return (received.count, .receive)
            case .send(let bytes): return (received.count, .send(bytes))
            case .ready: return (received.count, .open)
            }
        } catch {
            return (received.count, .failed(error.probeLine))
        }
    }

    public func request(index: Int) -> [UInt8] { Postgres.query("") }
    public func parser(index: Int) -> PostgresQueryParser { PostgresQueryParser() }
    public func closing() -> [UInt8] { Postgres.terminate }
}

/// Reads a simple query's answer up to ReadyForQuery.
public struct PostgresQueryParser: AppAnswerParser {
    private var exchange = PostgresQueryExchange()

    public init() {}

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        do {
            guard let answer = try exchange.receive(bytes) else { return .needMore }
            switch answer {
            case .emptyQuery, .command: return .complete(AppAnswer(answer.description), consumed: bytes.count)
            case .error: return .complete(AppAnswer(answer.description, isError: true), consumed: bytes.count)
            case .fatal: return .complete(AppAnswer(answer.description, isError: true, serverCloses: true), consumed: bytes.count)
            }
        } catch {
            return .wrongProtocol(error.probeLine)
        }
    }
}
