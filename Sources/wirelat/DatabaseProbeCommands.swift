import ArgumentParser
import WirelatCore
import WirelatIO

/// The database subcommands of `wirelat probe`.
let databaseProbeCommands: [ParsableCommand.Type] = [PostgresProbeCommand.self, MySQLProbeCommand.self]

/// Who logs in, for pg and mysql. The password comes from the environment
/// (`WIRELAT_PASSWORD`) or a file, never from the command line, so it never shows in the
/// process list; it is never printed or written to a report.
struct DatabaseLoginOptions: ParsableArguments {
    @Option(help: "Log in as USER and time requests on one session (without it: login-free, one connection per probe).")
    var user: String?

    @Option(help: "The database to open (PostgreSQL default: the user's name; MySQL default: none).")
    var database: String?

    @Option(name: .customLong("password-file"), help: ArgumentHelp("Read the password from FILE (one trailing newline dropped); otherwise from the environment variable WIRELAT_PASSWORD, if set.", valueName: "FILE"))
    var passwordFile: String?

    func validate() throws {
        if user == nil, database != nil || passwordFile != nil {
            throw ValidationError("--database and --password-file need --user")
        }
        if let user, user.isEmpty || user.utf8.contains(0) { throw ValidationError("--user must be a non-empty name") }
    }

    /// The password, from --password-file or WIRELAT_PASSWORD; nil when neither is given.
    func password() throws -> [UInt8]? {
        if let path = passwordFile {
            var bytes: [UInt8]
            do {
                bytes = try readWholeFile(path)
            } catch {
                throw CommandFailure("cannot read --password-file \(path): \(error)", .badInput)
            }
            if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            return bytes
        }
        return environmentValue("WIRELAT_PASSWORD").map { Array($0.utf8) }
    }
}

/// A SCRAM client nonce: base64 of 18 random bytes, as libpq makes it.
@Sendable func scramClientNonce() -> String {
    var generator = SystemRandomNumberGenerator()
    return Base64.encode((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

struct PostgresProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pg",
        abstract: "Time PostgreSQL's own answer: SSLRequest → S/N without a login, or with --user an empty query on one session (default port 5432).",
        discussion: """
        Without --user: one connection per probe, an SSLRequest answered by the single byte S or N, \
        then a close. No session starts, and PostgreSQL logs nothing for an N (pg_isready's \
        StartupMessage can leave a FATAL line); a server with ssl = on answers S and logs "could \
        not accept SSL connection: EOF detected" for the close: --gssenc sends a GSSENCRequest \
        instead (G or N), which it does not log. With --user: a session (StartupMessage with \
        application_name=wirelat; trust, md5 or SCRAM-SHA-256 with the server's signature checked; \
        a cleartext password request is refused, as wirelat does not speak TLS), then the empty \
        query repeated on it (EmptyQueryResponse + ReadyForQuery: no parse, plan or execution), \
        and Terminate at the end. The password comes from WIRELAT_PASSWORD or --password-file, \
        never from the command line. Two clocks per request; the TCP handshake apart.
        """
    )

    @OptionGroup var target: AppProbeTarget
    @OptionGroup var login: DatabaseLoginOptions

    @Flag(name: .customLong("gssenc"), help: "Without --user: send a GSSENCRequest (answered G or N) instead of the SSLRequest; a server with ssl = on logs \"could not accept SSL connection: EOF detected\" for each SSLRequest probe, and nothing for this one.")
    var gssenc = false

    @OptionGroup var options: ProbeOptions

    func validate() throws {
        if gssenc && login.user != nil { throw ValidationError("--gssenc is for the login-free probe; a session (--user) sends no encryption request") }
    }

    func run() throws {
        let port = target.port ?? 5432
        if let user = login.user {
            let dialogue = PostgresSessionDialogue(user: user, database: login.database, password: try login.password(), nonce: scramClientNonce)
            try runAppProbe(dialogue, host: target.host, port: port, options: options)
        } else {
            try runAppProbe(PostgresSSLRequestDialogue(encryption: gssenc ? .gss : .ssl), host: target.host, port: port, options: options)
        }
    }
}

struct MySQLProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mysql",
        abstract: "Time MySQL/MariaDB's own answer: the greeting without a login, or with --user COM_PING on one session (default port 3306).",
        discussion: """
        Without --user: one connection per probe, timed from connect() writable to the server's \
        greeting (HandshakeV10: version, connection id, auth plugin), then a close. MariaDB logs \
        each as "Aborted connection … closed normally without authentication" and, where its host \
        cache applies (not for 127.0.0.1/::1, not with skip-name-resolve), counts it against \
        max_connect_errors: at the default 100, 100 login-free probes without a successful login \
        in between block the probing host (ERROR 1129). With --user: a session \
        (mysql_native_password, an AuthSwitchRequest to it answered), COM_PING → OK repeated on it, \
        COM_QUIT at the end: nothing in the error log. The password comes from WIRELAT_PASSWORD or \
        --password-file, never from the command line.
        """
    )

    @OptionGroup var target: AppProbeTarget
    @OptionGroup var login: DatabaseLoginOptions
    @OptionGroup var options: ProbeOptions

    func run() throws {
        let port = target.port ?? 3306
        if let user = login.user {
            let dialogue = MySQLSessionDialogue(user: user, password: try login.password(), database: login.database)
            try runAppProbe(dialogue, host: target.host, port: port, options: options)
        } else {
            try runAppProbe(MySQLGreetingDialogue(), host: target.host, port: port, options: options)
        }
    }
}
