/// `wirelat probe mysql` without credentials: one connection per probe, the server's
/// greeting (HandshakeV10: it speaks first), then a close. The round trip is timed from
/// the end of the TCP handshake (connect() writable) to the greeting's arrival: the
/// server's accept, its thread hand-off and the greeting's transit. MariaDB logs each
/// such connection as "Aborted connection … (This connection closed normally without
/// authentication)" and, where its host cache applies, counts it against
/// `max_connect_errors` (docs/APP-PROBES.md).
public struct MySQLGreetingDialogue: AppDialogue {
    public var method: ProbeMethod { .mysql }
    public var mode: AppSessionMode { .perConnection }
    public var protocolName: String { "MySQL" }
    public var summary: String {
        "connect → the server's greeting (HandshakeV10), one connection each, no login; timed from connect() writable to the greeting's return (app clock only: no request to timestamp)"
    }

    public init() {}

    public func request(index: Int) -> [UInt8] { [] }
    public func parser(index: Int) -> MySQLGreetingParser { MySQLGreetingParser() }
}

/// Reads the greeting: version, connection id and auth plugin in its description.
public struct MySQLGreetingParser: AppAnswerParser {
    private var reader = MySQLGreetingReader()

    public init() {}

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        do {
            guard let greeting = try reader.receive(bytes) else { return .needMore }
            return .complete(AppAnswer(greeting.description), consumed: bytes.count)
        } catch {
            if error.kind == .refused { return .complete(AppAnswer(error.description, isError: true), consumed: bytes.count) }
            return .wrongProtocol(error.probeLine)
        }
    }
}

/// `wirelat probe mysql --user U`: one session (greeting, HandshakeResponse41 with
/// mysql_native_password, an AuthSwitchRequest answered, OK), then COM_PING repeated on it,
/// each answered by an OK packet; COM_QUIT at the end, so the server logs no aborted
/// connection.
public struct MySQLSessionDialogue: AppDialogue {
    public var method: ProbeMethod { .mysql }
    public var mode: AppSessionMode { .session }
    public var protocolName: String { "MySQL" }
    public var summary: String {
        "a session as \(user) (mysql_native_password), then COM_PING → OK on it; TX of the COM_PING → RX of the OK"
    }

    public let user: String
    private let password: [UInt8]?
    private let database: String?
    private var login: MySQLLogin?

    public init(user: String, password: [UInt8]?, database: String?) {
        self.user = user
        self.password = password
        self.database = database
    }

    public mutating func startOpening() -> AppOpeningStep {
        login = MySQLLogin(user: user, password: password, database: database)
        return .receive
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

    public func request(index: Int) -> [UInt8] { MySQL.comPing }
    public func parser(index: Int) -> MySQLPingParser { MySQLPingParser() }
    public func closing() -> [UInt8] { MySQL.comQuit }
}

/// Reads COM_PING's answer.
public struct MySQLPingParser: AppAnswerParser {
    private var exchange = MySQLPingExchange()

    public init() {}

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        do {
            guard let text = try exchange.receive(bytes) else { return .needMore }
            return .complete(AppAnswer(text, isError: text != "OK"), consumed: bytes.count)
        } catch {
            return .wrongProtocol(error.probeLine)
        }
    }
}
