import Foundation
import Testing
import WirelatTestSupport
@preconcurrency import Glibc

// wirelat probe pg|mysql against real servers started here: PostgreSQL 15 (initdb, pg_ctl)
// and MariaDB 10.11 (mariadb-install-db, mariadbd), each on its own loopback port with its
// data directory in a scratch directory, stopped also when a check fails.

enum DatabaseServers {
    static let pgBin = "/usr/lib/postgresql/15/bin"
    static let havePostgres = FileManager.default.isExecutableFile(atPath: pgBin + "/postgres")
        && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") && getpwnam("postgres") != nil
    static let mariadbd = CaptureTools.find("mariadbd")
    static let installDB = CaptureTools.find("mariadb-install-db")
    static let client = CaptureTools.find("mariadb")
    static let haveMariaDB = mariadbd != nil && installDB != nil && client != nil
    static let isRoot = getuid() == 0
}

/// Runs a shell command line to completion (at most `timeout`): its exit and its output
/// (standard output and error together).
func shell(_ command: String, timeout: Duration = .seconds(90)) throws -> (status: Int32, output: String) {
    guard let result = try TestChild.output("/bin/sh", ["-c", "\(command) 2>&1"], timeout: timeout) else {
        throw E2EFailure("`\(command)` did not finish within \(timeout)")
    }
    return (result.termination.bySignal ? -1 : result.termination.status, result.output)
}

/// A PostgreSQL 15 cluster in `dir`: a trust user (`trustuser`), a SCRAM user
/// (`scramuser`) and an md5 user (`md5user`), each with its own pg_hba line on 127.0.0.1.
final class PostgresServer {
    let data: String
    let port: UInt16
    let log: String
    static let scramPassword = "scr4m-Pa55-\(UInt32.random(in: 100_000...999_999))"
    static let md5Password = "md5-Pa55-\(UInt32.random(in: 100_000...999_999))"

    init(in dir: ScratchDirectory, port: UInt16) throws {
        data = dir.file("pgdata")
        log = dir.file("postgres.log")
        self.port = port
        _ = try shell("chmod 755 \(dir.path) && mkdir -m 700 \(data) && chown postgres \(data) && touch \(log) && chown postgres \(log)")
        let initdb = try shell("runuser -u postgres -- \(DatabaseServers.pgBin)/initdb -D \(data) -U postgres --auth-local=trust --auth-host=scram-sha-256")
        guard initdb.status == 0 else { throw E2EFailure("initdb failed:\n\(initdb.output)") }
        let hba = try String(contentsOfFile: "\(data)/pg_hba.conf", encoding: .utf8)
        try ("host all trustuser 127.0.0.1/32 trust\nhost all md5user 127.0.0.1/32 md5\n" + hba)
            .write(toFile: "\(data)/pg_hba.conf", atomically: false, encoding: .utf8)
        let start = try shell("runuser -u postgres -- \(DatabaseServers.pgBin)/pg_ctl -D \(data) -w -t 60 -l \(log) "
            + "-o '-p \(port) -k \(data) -c listen_addresses=127.0.0.1' start")
        guard start.status == 0 else { throw E2EFailure("pg_ctl start failed:\n\(start.output)\n\(readTextFile(log) ?? "")") }
        let roles = try psql("CREATE ROLE trustuser LOGIN; CREATE ROLE scramuser LOGIN PASSWORD '\(Self.scramPassword)'; "
            + "SET password_encryption = md5; CREATE ROLE md5user LOGIN PASSWORD '\(Self.md5Password)';")
        guard roles.status == 0 else {
            stop()
            throw E2EFailure("creating the roles failed:\n\(roles.output)")
        }
    }

    func psql(_ sql: String) throws -> (status: Int32, output: String) {
        try shell("runuser -u postgres -- \(DatabaseServers.pgBin)/psql -h \(data) -p \(port) -d postgres -X -q -c \"\(sql)\"")
    }

    /// The server log's lines, without the start-up and checkpoint lines.
    var logLines: [String] {
        (readTextFile(log) ?? "").split(separator: "\n").map(String.init)
            .filter { !$0.contains("LOG:  checkpoint") }
    }

    func stop() {
        _ = try? shell("runuser -u postgres -- \(DatabaseServers.pgBin)/pg_ctl -D \(data) -m immediate -w -t 20 stop", timeout: .seconds(30))
        if let pid = readTextFile("\(data)/postmaster.pid")?.split(separator: "\n").first.flatMap({ pid_t($0) }), pid > 1 {
            Glibc.kill(pid, SIGKILL)
        }
    }
}

/// A MariaDB 10.11 server in `dir`, in the foreground (so killing it stops it), with
/// `probe` (from 127.0.0.1, localhost and, with `anyHost`, anywhere) identified via
/// mysql_native_password. `prefix` runs it elsewhere (`ip netns exec NS`).
final class MariaDBServer {
    let datadir: String
    let socket: String
    let errorLog: String
    let port: UInt16
    let process: Spawned
    static let password = "my-Pa55-\(UInt32.random(in: 100_000...999_999))"

    init(in dir: ScratchDirectory, port: UInt16, bindAddress: String = "127.0.0.1", prefix: [String] = [], extra: [String] = [],
         anyHost: Bool = false) async throws {
        datadir = dir.file("mariadb")
        socket = dir.file("mariadb.sock")
        errorLog = dir.file("mariadb-error.log")
        self.port = port
        let install = try shell("\(DatabaseServers.installDB!) --no-defaults --datadir=\(datadir) --user=root --auth-root-authentication-method=socket --skip-test-db")
        guard install.status == 0 else { throw E2EFailure("mariadb-install-db failed:\n\(install.output)") }
        let argv = prefix + [DatabaseServers.mariadbd!, "--no-defaults", "--user=root", "--datadir=\(datadir)", "--port=\(port)",
                             "--socket=\(socket)", "--bind-address=\(bindAddress)", "--log-error=\(errorLog)",
                             "--pid-file=\(dir.file("mariadb.pid"))"] + extra
        process = try Spawned(argv[0], Array(argv.dropFirst()), name: "mariadbd-\(port)", in: dir)
        do {
            let deadline = ContinuousClock.now + .seconds(60)
            while !(readTextFile(errorLog) ?? "").contains("ready for connections") {
                guard ContinuousClock.now < deadline, process.isRunning else {
                    throw E2EFailure("mariadbd did not get ready\n\(process.transcript)\n\(readTextFile(errorLog) ?? "")")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            var statements = "CREATE USER 'probe'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('\(Self.password)'); "
                + "CREATE USER 'probe'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('\(Self.password)');"
            if anyHost { statements += " CREATE USER 'probe'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('\(Self.password)');" }
            let users = try sql(statements)
            guard users.status == 0 else { throw E2EFailure("creating the user failed:\n\(users.output)") }
        } catch {
            process.kill()
            throw error
        }
    }

    func sql(_ statements: String) throws -> (status: Int32, output: String) {
        try shell("\(DatabaseServers.client!) --no-defaults -S \(socket) -uroot -N -e \"\(statements)\"")
    }

    var logLines: [String] { (readTextFile(errorLog) ?? "").split(separator: "\n").map(String.init) }

    func stop() { process.kill() }
}

/// The distribution `key` of a probe report, as numbers.
func distribution(_ report: [String: Any], _ key: String) -> [String: Double] {
    ((report[key] as? [String: Any]) ?? [:]).compactMapValues { number($0) }
}

/// One line for the figures of a run: p50/p99 of both clocks, in µs.
func figures(_ name: String, _ report: [String: Any]) -> String {
    let wire = distribution(report, "wire_rtt_ns")
    let app = distribution(report, "app_rtt_ns")
    func us(_ v: Double?) -> String { v.map { String(format: "%.1f", $0 / 1000) } ?? "-" }
    return "\(name): wire p50 \(us(wire["p50"])) p99 \(us(wire["p99"])) µs, app p50 \(us(app["p50"])) p99 \(us(app["p99"])) µs"
}

/// Runs the wirelat binary with `environment` added, to completion; returns its exit, its
/// output and the command line the kernel showed for it (/proc/PID/cmdline) while it ran.
func runWirelatWithEnvironment(_ arguments: [String], environment: [String: String], in dir: ScratchDirectory, name: String)
    async throws -> (exit: TestChild.Termination, stdout: String, stderr: String, cmdline: String) {
    let out = dir.file("\(name).stdout")
    let err = dir.file("\(name).stderr")
    let child = try TestChild(try WirelatBinary.require(), arguments, standardOutput: out, standardError: err, environment: environment)
    defer { child.kill() }
    // The kernel's copy of its arguments, read while it runs (NULs between them).
    var cmdline = ""
    for _ in 0..<100 where child.isRunning {
        let text = (readTextFile("/proc/\(child.pid)/cmdline") ?? "").replacingOccurrences(of: "\u{0}", with: " ")
        if text.contains("probe") {
            cmdline = text
            break
        }
        try await Task.sleep(for: .milliseconds(5))
    }
    guard let exit = await child.wait(timeout: .seconds(60)) else {
        throw E2EFailure("wirelat \(arguments.joined(separator: " ")) did not finish within 60 s")
    }
    return (exit, readTextFile(out) ?? "", readTextFile(err) ?? "", cmdline)
}

@Suite("probe pg and mysql: real PostgreSQL 15 and MariaDB 10.11, both clocks, the servers' logs, held against capture --rtt",
       .serialized, .timeLimit(.minutes(6)))
struct DatabaseProbeEndToEnd {
    let capture = AppProbeEndToEnd()

    @Test("pg without login: SSLRequest → N per connection, nothing in PostgreSQL's log (pg_isready leaves a FATAL; with ssl = on the SSLRequest is logged, --gssenc is not); capture --rtt agrees",
          .enabled(if: DatabaseServers.havePostgres && DatabaseServers.isRoot))
    func postgresLoginFree() async throws {
        let dir = try ScratchDirectory("db-pg-free")
        defer { dir.remove() }
        let server = try PostgresServer(in: dir, port: freePort(25_432))
        defer { server.stop() }
        let before = server.logLines
        let count = 100
        let (probe, reqresp, stdout) = try await capture.probeBesideCapture(
            ["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--count", "\(count)", "--interval", "20ms"],
            port: server.port, in: dir)
        try capture.checkAgainstCapture(probe, reqresp, count: count, method: "pg")
        #expect(integer(probe["connects"]) == count, "one connection per probe")
        #expect((probe["outcomes"] as? [String: Any])?["reply"] as? Int == count)
        #expect(stdout.contains(" seq=0 N (no TLS) rtt="), "\(stdout)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.logLines == before, "the login-free probe left lines in PostgreSQL's log:\n\(server.logLines.dropFirst(before.count).joined(separator: "\n"))")

        // The check can fail: pg_isready's StartupMessage (user trustuser, database of the same
        // name, which does not exist) leaves a FATAL line.
        let isready = try shell("\(DatabaseServers.pgBin)/pg_isready -h 127.0.0.1 -p \(server.port) -U trustuser")
        #expect(isready.status == 0, "\(isready.output)")
        try await Task.sleep(for: .milliseconds(500))
        let added = server.logLines.dropFirst(before.count)
        #expect(added.contains { $0.contains("FATAL:  database \"trustuser\" does not exist") }, "pg_isready left: \(Array(added))")
        print(figures("pg SSLRequest (\(count), per connection)", probe))

        // ssl = on: the SSLRequest is answered S, and the close that comes instead of a TLS
        // ClientHello is logged; the GSSENCRequest (--gssenc) is not.
        guard let openssl = CaptureTools.find("openssl") else { return }
        let cert = try shell("cd \(server.data) && \(openssl) req -new -x509 -days 2 -nodes -subj /CN=localhost -keyout server.key -out server.crt "
            + "&& chown postgres server.key server.crt && chmod 600 server.key")
        try #require(cert.status == 0, "\(cert.output)")
        _ = try server.psql("ALTER SYSTEM SET ssl = on")
        _ = try server.psql("SELECT pg_reload_conf()")
        try await Task.sleep(for: .milliseconds(500))
        var mark = server.logLines.count
        let ssl = try await runWirelat(["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--count", "3", "--interval", "20ms"], in: dir, name: "ssl-on")
        #expect(ssl.exit.status == 0 && lines(ssl.stdout).filter { $0.contains(" S (TLS available) ") }.count == 3, "\(ssl.stdout)")
        try await Task.sleep(for: .milliseconds(500))
        let eof = server.logLines.dropFirst(mark).filter { $0.contains("could not accept SSL connection: EOF detected") }
        #expect(eof.count == 3, "ssl = on: \(Array(server.logLines.dropFirst(mark)))")
        mark = server.logLines.count
        let gss = try await runWirelat(["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--gssenc", "--count", "3", "--interval", "20ms"], in: dir, name: "gssenc")
        #expect(gss.exit.status == 0 && lines(gss.stdout).filter { $0.contains(" seq=") && ($0.contains(" G (GSSAPI") || $0.contains(" N (no")) }.count == 3,
                "\(gss.stdout)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.logLines.count == mark, "--gssenc left: \(Array(server.logLines.dropFirst(mark)))")
    }

    @Test("pg sessions: trust, SCRAM-SHA-256 and md5 logins, the empty query repeated, Terminate: nothing in the log; capture --rtt agrees",
          .enabled(if: DatabaseServers.havePostgres && DatabaseServers.isRoot))
    func postgresSessions() async throws {
        let dir = try ScratchDirectory("db-pg-session")
        defer { dir.remove() }
        let server = try PostgresServer(in: dir, port: freePort(25_532))
        defer { server.stop() }
        let before = server.logLines
        let count = 300
        let (probe, reqresp, stdout) = try await capture.probeBesideCapture(
            ["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--user", "trustuser", "--database", "postgres",
             "--count", "\(count)", "--interval", "3ms"], port: server.port, in: dir)
        // The login adds one request/response exchange (StartupMessage → AuthenticationOk … ReadyForQuery).
        try capture.checkAgainstCapture(probe, reqresp, count: count, method: "pg")
        let unusual = lines(stdout).filter { $0.contains(" seq=") && !$0.contains(" EmptyQueryResponse ") || $0.hasPrefix("connect") }
        #expect(integer(probe["connects"]) == 1 && integer(probe["reconnects"]) == 0, "\(unusual.joined(separator: "\n"))")
        #expect((probe["outcomes"] as? [String: Any])?["reply"] as? Int == count)
        #expect(stdout.contains(" seq=0 EmptyQueryResponse "), "\(unusual.joined(separator: "\n"))")
        print(figures("pg empty query (trust, \(count) on one session)", probe))

        // SCRAM-SHA-256 with the password in the environment; md5 with a password file.
        let json = dir.file("scram.json")
        let scram = try await runWirelatWithEnvironment(
            ["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--user", "scramuser", "--database", "postgres",
             "--count", "200", "--interval", "10ms", "--json", json],
            environment: ["WIRELAT_PASSWORD": PostgresServer.scramPassword], in: dir, name: "scram")
        #expect(scram.exit.status == 0 && !scram.exit.bySignal, "\(scram.exit)\n\(scram.stdout)\n\(scram.stderr)")
        #expect(scram.cmdline.contains("scramuser") && !scram.cmdline.contains(PostgresServer.scramPassword), "\(scram.cmdline)")
        let report = try String(contentsOfFile: json, encoding: .utf8)
        for text in [scram.stdout, scram.stderr, report] { #expect(!text.contains(PostgresServer.scramPassword)) }
        #expect((try readJSON(json)["outcomes"] as? [String: Any])?["reply"] as? Int == 200)

        let passwordFile = dir.file("md5.password")
        try (PostgresServer.md5Password + "\n").write(toFile: passwordFile, atomically: false, encoding: .utf8)
        let md5 = try await runWirelat(["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--user", "md5user", "--database", "postgres",
                                        "--password-file", passwordFile, "--count", "5", "--interval", "10ms"], in: dir, name: "md5")
        #expect(md5.exit.status == 0, "\(md5.stdout)\n\(md5.stderr)")
        #expect(lines(md5.stdout).filter { $0.contains(" seq=") && $0.contains(" EmptyQueryResponse ") }.count == 5, "\(md5.stdout)")
        #expect(!md5.stdout.contains(PostgresServer.md5Password) && !md5.stderr.contains(PostgresServer.md5Password))

        try await Task.sleep(for: .milliseconds(500))
        #expect(server.logLines == before, "sessions ended by Terminate left lines in PostgreSQL's log:\n\(server.logLines.dropFirst(before.count).joined(separator: "\n"))")

        // A wrong password: one line with the server's own message, exit 1.
        let wrong = try await runWirelatWithEnvironment(
            ["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--user", "scramuser", "--database", "postgres", "--count", "3"],
            environment: ["WIRELAT_PASSWORD": "not-the-password"], in: dir, name: "wrong")
        #expect(wrong.exit.status == 1, "\(wrong.exit)\n\(wrong.stderr)")
        let errorLines = lines(wrong.stderr)
        #expect(errorLines.count == 1 && errorLines.first?.contains("FATAL 28P01 password authentication failed for user \"scramuser\"") == true,
                "\(wrong.stderr)")
        #expect(!wrong.stdout.contains("not-the-password") && !wrong.stderr.contains("not-the-password"))
    }

    @Test("mysql: the greeting without login (MariaDB logs an aborted connection for each), COM_PING on a session ended by COM_QUIT (nothing logged); capture --rtt agrees",
          .enabled(if: DatabaseServers.haveMariaDB && DatabaseServers.isRoot))
    func mariadb() async throws {
        let dir = try ScratchDirectory("db-mysql")
        defer { dir.remove() }
        let server = try await MariaDBServer(in: dir, port: freePort(23_306))
        defer { server.stop() }

        // Login-free: the greeting, timed from the end of the handshake (app clock only).
        let freeJSON = dir.file("greeting.json")
        var before = server.logLines.count
        let free = try await runWirelat(["probe", "mysql", "127.0.0.1", "--port", "\(server.port)", "--count", "20", "--interval", "20ms",
                                         "--json", freeJSON], in: dir, name: "greeting")
        #expect(free.exit.status == 0, "\(free.stdout)\n\(free.stderr)")
        #expect(free.stdout.contains("MariaDB") && free.stdout.contains("auth mysql_native_password"), "\(free.stdout)")
        let greeting = try readJSON(freeJSON)
        #expect((greeting["outcomes"] as? [String: Any])?["reply"] as? Int == 20)
        #expect(greeting["clock"] as? String == "app")
        try await Task.sleep(for: .milliseconds(500))
        let aborted = server.logLines.dropFirst(before).filter { $0.contains("Aborted connection") && $0.contains("closed normally without authentication") }
        #expect(aborted.count == 20, "the login-free probe: \(aborted.count) aborted-connection lines of 20 probes")
        print(figures("mysql greeting (20, per connection)", greeting))

        // Authenticated: COM_PING repeated, COM_QUIT at the end.
        before = server.logLines.count
        let count = 300
        let (probe, reqresp, stdout) = try await capture.probeBesideCapture(
            ["probe", "mysql", "127.0.0.1", "--port", "\(server.port)", "--user", "probe", "--password-file", try {
                let path = dir.file("mysql.password")
                try MariaDBServer.password.write(toFile: path, atomically: false, encoding: .utf8)
                return path
            }(), "--count", "\(count)", "--interval", "3ms"], port: server.port, in: dir)
        // The login adds two exchanges: greeting → HandshakeResponse41, HandshakeResponse41 → OK.
        try capture.checkAgainstCapture(probe, reqresp, count: count, method: "mysql")
        #expect(integer(probe["connects"]) == 1 && (probe["outcomes"] as? [String: Any])?["reply"] as? Int == count)
        #expect(stdout.contains(" seq=0 OK rtt="), "\(stdout)")
        try await Task.sleep(for: .milliseconds(500))
        let added = server.logLines.dropFirst(before)
        #expect(!added.contains { $0.contains("Aborted connection") }, "the session left: \(Array(added))")
        print(figures("mysql COM_PING (\(count) on one session)", probe))

        // A wrong password: the server's ERR packet in one line, exit 1.
        let wrong = try await runWirelatWithEnvironment(
            ["probe", "mysql", "127.0.0.1", "--port", "\(server.port)", "--user", "probe", "--count", "2"],
            environment: ["WIRELAT_PASSWORD": "not-the-password"], in: dir, name: "wrong")
        #expect(wrong.exit.status == 1, "\(wrong.exit)\n\(wrong.stderr)")
        #expect(lines(wrong.stderr).count == 1 && wrong.stderr.contains("ERROR 1045 (28000): Access denied for user 'probe'"), "\(wrong.stderr)")
        #expect(!wrong.cmdline.contains("not-the-password") && !wrong.stdout.contains("not-the-password") && !wrong.stderr.contains("not-the-password"))
    
        // Another protocol on the port: pg against MariaDB names what came back, exit 1.
        let pg = try await runWirelat(["probe", "pg", "127.0.0.1", "--port", "\(server.port)", "--count", "3"], in: dir, name: "pg-on-mysql")
        #expect(pg.exit.status == 1)
        #expect(lines(pg.stderr).count == 1 && pg.stderr.contains("port \(server.port) answered `") && pg.stderr.contains("`: not PostgreSQL"),
                "\(pg.stderr)")
    }

    @Test("mysql: MariaDB counts login-free probes against max_connect_errors where its host cache applies (a resolvable client address), not on 127.0.0.1",
          .enabled(if: DatabaseServers.haveMariaDB && NamespaceSupport.available))
    func maxConnectErrors() async throws {
        let dir = try ScratchDirectory("db-mce")
        defer { dir.remove() }
        // A namespace of our own, whose /etc/hosts (ip netns exec binds /etc/netns/NS/hosts)
        // names the client address, so MariaDB's host cache holds it.
        let tag = UInt32.random(in: 0x1000...0xffff)
        let namespace = "dbprobe-\(String(tag, radix: 16))"
        let address = "10.213.\(tag % 250 + 1).1"
        let ip = try #require(NamespaceSupport.ip)
        let etc = "/etc/netns/\(namespace)"
        defer {
            _ = try? shell("\(ip) netns del \(namespace)")
            try? FileManager.default.removeItem(atPath: etc)
        }
        let setup = try shell("\(ip) netns add \(namespace) && \(ip) -n \(namespace) link set lo up && \(ip) -n \(namespace) addr add \(address)/32 dev lo")
        try #require(setup.status == 0, "\(setup.output)")
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        try "127.0.0.1 localhost\n\(address) dbclient.test\n".write(toFile: "\(etc)/hosts", atomically: false, encoding: .utf8)
        let port: UInt16 = 23_506
        let server = try await MariaDBServer(in: dir, port: port, bindAddress: "0.0.0.0", prefix: [ip, "netns", "exec", namespace],
                                             extra: ["--max-connect-errors=3"], anyHost: true)
        defer { server.stop() }
        let binary = try WirelatBinary.require()
        func probe(_ host: String, count: Int, name: String) throws -> String {
            let run = try shell("\(ip) netns exec \(namespace) \(binary) probe mysql \(host) --port \(port) --count \(count) --interval 20ms", timeout: .seconds(60))
            return run.output
        }
        // 127.0.0.1: never blocked (MariaDB keeps no host cache entry for loopback).
        let loopback = try probe("127.0.0.1", count: 6, name: "loopback")
        #expect(lines(loopback).filter { $0.contains(" seq=") && $0.contains("MariaDB") }.count == 6, "\(loopback)")
        // The resolvable address: three greetings, then the host is blocked.
        let counted = try probe(address, count: 5, name: "counted")
        let greetings = lines(counted).filter { $0.contains(" seq=") && $0.contains("MariaDB") }
        let blocked = lines(counted).filter { $0.contains(" seq=") && $0.contains("ERROR 1129") && $0.contains("is blocked because of many connection errors") }
        #expect(greetings.count == 3 && blocked.count == 2, "\(counted)")
        print("max_connect_errors=3, login-free probes from \(address): \(greetings.count) greetings, then \(blocked.count) × \(blocked.first.map { String($0) } ?? "-")")
        // A login-free probe cannot unblock it; FLUSH HOSTS does.
        _ = try server.sql("FLUSH HOSTS;")
        let after = try probe(address, count: 2, name: "flushed")
        #expect(lines(after).filter { $0.contains(" seq=") && $0.contains("MariaDB") }.count == 2, "\(after)")
        // A successful login resets the host's count: two more login-free probes still get the greeting.
        let passwordFile = dir.file("mce.password")
        try MariaDBServer.password.write(toFile: passwordFile, atomically: false, encoding: .utf8)
        let session = try shell("\(ip) netns exec \(namespace) \(binary) probe mysql \(address) --port \(port) --user probe --password-file \(passwordFile) --count 1")
        #expect(session.status == 0 && session.output.contains(" seq=0 OK "), "\(session.output)")
        let reset = try probe(address, count: 2, name: "reset")
        #expect(lines(reset).filter { $0.contains(" seq=") && $0.contains("MariaDB") }.count == 2, "\(reset)")
    }

    @Test("pg against nginx: `answered `HTTP/1.1 400 Bad Request`: not PostgreSQL`, exit 1; mysql against it: no greeting within the timeout, exit 1",
          .enabled(if: AppServers.haveNginx))
    func againstHTTP() async throws {
        let dir = try ScratchDirectory("db-http")
        defer { dir.remove() }
        let port = freePort(28_180)
        let (nginx, _) = try await startNginx(port: port, in: dir)
        defer { nginx.kill() }
        let json = dir.file("pg.json")
        let pg = try await runWirelat(["probe", "pg", "127.0.0.1", "--port", "\(port)", "--count", "3", "--json", json], in: dir, name: "pg-on-http")
        #expect(pg.exit.status == 1)
        #expect(lines(pg.stderr) == ["wirelat: 127.0.0.1 port \(port) answered `HTTP/1.1 400 Bad Request`: not PostgreSQL"], "\(pg.stderr)")
        #expect(integer(try readJSON(json)["wrong_answers"]) == 1, "the partial report is written")
        let mysql = try await runWirelat(["probe", "mysql", "127.0.0.1", "--port", "\(port)", "--count", "1", "--timeout", "300ms"], in: dir, name: "mysql-on-http")
        #expect(mysql.exit.status == 1 && lines(mysql.stderr).count == 1 && mysql.stderr.contains("no answer"), "\(mysql.stderr)")
    }
}
