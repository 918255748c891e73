import Foundation
import Testing
@preconcurrency import Glibc

// wirelat probe redis|http|tns|tcp against real servers (redis-server, nginx) started and
// stopped here, each on its own loopback port and scratch directory, and against small
// responders written here for what no real server does on demand (a TNS listener, a
// server that sends one byte and then nothing, one that closes after each answer).

enum AppServers {
    static let redis = CaptureTools.find("redis-server")
    static let nginx = CaptureTools.find("nginx")
    static let tshark = CaptureTools.find("tshark")
    static let haveRedis = CaptureTools.available(redis, "redis-server")
    static let haveNginx = CaptureTools.available(nginx, "nginx")
    static let haveTshark = CaptureTools.available(tshark, "tshark")
    static let canCapture = getuid() == 0
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func acceptsConnections(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = port.bigEndian
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &a) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// Waits (at most `timeout`) until 127.0.0.1:`port` accepts connections.
func waitForPort(_ port: UInt16, _ child: Spawned, timeout: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if acceptsConnections(port) { return }
        if !child.isRunning { break }
        try await Task.sleep(for: .milliseconds(50))
    }
    child.kill()
    throw E2EFailure("\(child.name) did not accept connections on port \(port) within \(timeout)\n\(child.transcript)")
}

/// `redis-server` on 127.0.0.1:`port`, nothing saved, its files in `dir`.
func startRedis(port: UInt16, in dir: ScratchDirectory) async throws -> Spawned {
    let redis = try Spawned(try #require(AppServers.redis), ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "",
                                                             "--daemonize", "no", "--dir", dir.path, "--appendonly", "no"],
                            name: "redis-\(port)", in: dir)
    try await waitForPort(port, redis)
    return redis
}

/// nginx in one process (no master, so a kill leaves no worker behind) on 127.0.0.1:`port`,
/// every path it writes under `dir`; `extra` goes in the server block.
func startNginx(port: UInt16, extra: String = "", in dir: ScratchDirectory) async throws -> (Spawned, accessLog: String) {
    let conf = dir.file("nginx-\(port).conf")
    let access = dir.file("access-\(port).log")
    let text = """
    master_process off;
    daemon off;
    worker_processes 1;
    pid \(dir.file("nginx-\(port).pid"));
    error_log \(dir.file("error-\(port).log"));
    events { worker_connections 64; }
    http {
      access_log \(access);
      client_body_temp_path \(dir.path)/body; proxy_temp_path \(dir.path)/proxy; fastcgi_temp_path \(dir.path)/fastcgi;
      uwsgi_temp_path \(dir.path)/uwsgi; scgi_temp_path \(dir.path)/scgi;
      server { listen 127.0.0.1:\(port); \(extra) location / { return 200 "ok\\n"; } }
    }
    """
    try text.write(toFile: conf, atomically: true, encoding: .utf8)
    let nginx = try Spawned(try #require(AppServers.nginx), ["-e", dir.file("error-\(port).log"), "-p", dir.path, "-c", conf],
                            name: "nginx-\(port)", in: dir)
    try await waitForPort(port, nginx)
    return (nginx, access)
}

/// A responder on 127.0.0.1 written for one test: accepts connections on its own thread
/// and hands each to `serve` (which may block up to the responder's life); stopped by
/// `stop()`, which also closes every connection.
final class TestResponder: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Int32] = []
    private let done = DispatchSemaphore(value: 0)

    init(port: UInt16, serve: @escaping @Sendable (Int32) -> Void) throws {
        self.port = port
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw E2EFailure("the test responder cannot listen on port \(port): errno \(errno)")
        }
        let thread = Thread { [self] in
            defer { done.signal() }
            for _ in 0..<10_000 {
                var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, 100)
                if lock.withLock({ stopped }) { return }
                guard ready > 0 else { continue }
                let c = accept(listener, nil, nil)
                guard c >= 0 else { continue }
                lock.withLock { connections.append(c) }
                Thread { [self] in
                    serve(c)
                    // The responder owns the descriptor: closed here, under the lock, so
                    // `stop` never shuts down a number another test's socket has since taken.
                    lock.withLock {
                        connections.removeAll { $0 == c }
                        close(c)
                    }
                }.start()
            }
        }
        thread.start()
    }

    /// Stops accepting and shuts down the connections still being served (their handlers
    /// return, and the responder closes them).
    func stop() {
        lock.withLock { stopped = true }
        _ = done.wait(timeout: .now() + 5)
        close(listener)
        lock.withLock { for c in connections { shutdown(c, Int32(SHUT_RDWR)) } }
    }
}

/// Reads from `fd` until `count` bytes came, the peer closed, or 5 s passed.
func readSome(_ fd: Int32, atLeast count: Int) -> [UInt8] {
    var got: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    for _ in 0..<100 where got.count < count {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 50) > 0 else { continue }
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        got.append(contentsOf: buffer[0..<n])
    }
    return got
}

func writeAllBytes(_ fd: Int32, _ bytes: [UInt8]) {
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
}

/// The summary keys of every distribution.
let summaryKeys: Set<String> = ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"]

@Suite("probe redis, http, tns, tcp: real listeners, both clocks, the handshake apart, held against capture --rtt",
       .serialized, .timeLimit(.minutes(4)))
struct AppProbeEndToEnd {
    /// Runs a probe while `wirelat capture -i lo --rtt` watches its port; returns the probe's
    /// JSON and the capture's reqresp entry.
    func probeBesideCapture(_ arguments: [String], port: UInt16, in dir: ScratchDirectory) async throws
        -> (probe: [String: Any], reqresp: [String: Any], stdout: String) {
        let binary = try WirelatBinary.require()
        let capturePath = dir.file("capture-\(port).json")
        let probePath = dir.file("probe-\(port).json")
        let capture = try await startListening([], [binary, "capture", "-i", "lo", "-B", "4096", "--rtt", "--json", capturePath,
                                                   "tcp", "port", "\(port)"], name: "capture-\(port)", in: dir)
        defer { capture.kill() }
        let run = try await runWirelat(arguments + ["--json", probePath], in: dir, timeout: .seconds(60))
        try #require(run.exit.status == 0 && !run.exit.bySignal, "wirelat \(arguments.joined(separator: " ")): \(run.exit)\n\(run.stdout)\n\(run.stderr)")
        try await Task.sleep(for: .milliseconds(300))
        let exit = try #require(await interrupt(capture), "capture did not stop\n\(capture.transcript)")
        #expect(exit.status == 0, "\(capture.transcript)")
        let reqresp = try #require(rttMethods(try readJSON(capturePath))["reqresp"], "the capture has no reqresp entry\n\(capture.transcript)")
        return (try readJSON(probePath), reqresp, run.stdout)
    }

    /// The checks every protocol shares: all answered, both clocks with rtt_ns's keys, the
    /// handshake apart, and (issue 14) the capture's reqresp samples: count ±1%, p50 within 10 µs.
    func checkAgainstCapture(_ probe: [String: Any], _ reqresp: [String: Any], count: Int, method: String) throws {
        #expect(probe["method"] as? String == method)
        #expect(probe["command"] as? String == "probe")
        #expect(integer(probe["samples"]) == count, "samples \(probe["samples"] ?? "?") of \(count)")
        for key in ["rtt_ns", "wire_rtt_ns", "app_rtt_ns", "connect_rtt_ns", "connect_wire_rtt_ns", "connect_app_rtt_ns"] {
            let s = try #require(probe[key] as? [String: Any], "\(key) is missing")
            #expect(Set(s.keys) == summaryKeys, "\(key): \(s.keys.sorted())")
        }
        #expect(probe["clock"] as? String == "wire", "rtt_ns is \(probe["clock"] ?? "?"); wire missing: \(probe["wire_clock_missing"] ?? "")")
        for key in ["reconnects", "wrong_answers", "closes", "error_answers", "connects"] { #expect(integer(probe[key]) != nil, "\(key) is missing") }
        let wire = try #require(number((probe["wire_rtt_ns"] as? [String: Any])?["p50"]))
        let app = try #require(number((probe["app_rtt_ns"] as? [String: Any])?["p50"]))
        #expect(app > wire, "app p50 \(app) ≤ wire p50 \(wire)")
        let captured = try #require(integer(reqresp["samples"]))
        #expect(abs(captured - count) <= max(1, count / 100), "the capture saw \(captured) request/response exchanges, the probe \(count)")
        let capturedP50 = try #require(rttSummary(reqresp, "p50"))
        #expect(abs(capturedP50 - wire) <= 10_000, "probe wire p50 \(wire) ns, capture reqresp p50 \(capturedP50) ns")
    }

    @Test("redis: PING → +PONG on one connection, all answered, both clocks, the handshake apart; capture --rtt agrees",
          .enabled(if: AppServers.haveRedis && AppServers.canCapture))
    func redis() async throws {
        let dir = try ScratchDirectory("app-redis")
        defer { dir.remove() }
        let port = freePort(26_379)
        let server = try await startRedis(port: port, in: dir)
        defer { server.kill() }
        let count = 300
        let (probe, reqresp, stdout) = try await probeBesideCapture(["probe", "redis", "127.0.0.1", "--port", "\(port)", "--count", "\(count)",
                                                                      "--interval", "3ms", "--samples", dir.file("redis.samples")],
                                                                     port: port, in: dir)
        try checkAgainstCapture(probe, reqresp, count: count, method: "redis")
        #expect(integer(probe["connects"]) == 1 && integer(probe["reconnects"]) == 0, "one connection for all")
        #expect((probe["outcomes"] as? [String: Any])?["reply"] as? Int == count)
        #expect(stdout.contains(" seq=0 +PONG rtt=") && stdout.contains("connect ip=127.0.0.1 dport=\(port)"), "\(stdout)")
        let samples = try String(contentsOfFile: dir.file("redis.samples"), encoding: .utf8)
        #expect(lines(samples).count == count && samples.contains("\"method\":\"redis\""))
    }

    @Test("redis with requirepass: -NOAUTH is one round trip each, shown and counted as an error answer (exit 0)",
          .enabled(if: AppServers.haveRedis))
    func redisNoAuth() async throws {
        let dir = try ScratchDirectory("app-redis-auth")
        defer { dir.remove() }
        let port = freePort(26_579)
        let redis = try Spawned(try #require(AppServers.redis), ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--daemonize", "no",
                                                                 "--dir", dir.path, "--requirepass", "not-given"], name: "redis-auth", in: dir)
        defer { redis.kill() }
        try await waitForPort(port, redis)
        let r = try await runWirelat(["probe", "redis", "127.0.0.1", "--port", "\(port)", "--count", "4", "--interval", "10ms", "--json", dir.file("a.json")], in: dir)
        #expect(r.exit.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(lines(r.stdout).filter { $0.contains(" -NOAUTH Authentication required. rtt=") }.count == 4, "\(r.stdout)")
        let j = try readJSON(dir.file("a.json"))
        #expect(integer(j["error_answers"]) == 4 && integer(j["samples"]) == 4 && integer(j["connects"]) == 1, "\(r.stdout)")
        #expect((j["outcomes"] as? [String: Any])?["error-reply"] as? Int == 4)
    }

    @Test("http: HEAD / on one keep-alive connection to nginx, one access-log line each; capture --rtt agrees",
          .enabled(if: AppServers.haveNginx && AppServers.canCapture))
    func http() async throws {
        let dir = try ScratchDirectory("app-http")
        defer { dir.remove() }
        let port = freePort(28_080)
        let (server, accessLog) = try await startNginx(port: port, in: dir)
        defer { server.kill() }
        let count = 300
        let (probe, reqresp, stdout) = try await probeBesideCapture(["probe", "http", "127.0.0.1", "--port", "\(port)", "--count", "\(count)",
                                                                      "--interval", "3ms"], port: port, in: dir)
        try checkAgainstCapture(probe, reqresp, count: count, method: "http")
        #expect(integer(probe["connects"]) == 1 && integer(probe["reconnects"]) == 0)
        #expect(stdout.contains(" seq=0 HTTP/1.1 200 OK rtt="), "\(stdout)")
        let log = try String(contentsOfFile: accessLog, encoding: .utf8)
        #expect(lines(log).filter { $0.contains("\"HEAD / HTTP/1.1\" 200") && $0.contains("wirelat") }.count == count)
    }

    @Test("http: a server that closes after each answer (nginx keepalive_requests 1, and one that closes without saying so) is reconnected, counted",
          .enabled(if: AppServers.haveNginx))
    func httpReconnects() async throws {
        let dir = try ScratchDirectory("app-http-close")
        defer { dir.remove() }
        let port = freePort(28_180)
        let (server, _) = try await startNginx(port: port, extra: "keepalive_requests 1;", in: dir)
        defer { server.kill() }
        let r = try await runWirelat(["probe", "http", "127.0.0.1", "--port", "\(port)", "--count", "5", "--interval", "20ms", "--json", dir.file("h.json")], in: dir)
        #expect(r.exit.status == 0, "\(r.stdout)\n\(r.stderr)")
        let j = try readJSON(dir.file("h.json"))
        #expect(integer(j["samples"]) == 5 && integer(j["reconnects"]) == 4 && integer(j["connects"]) == 5, "\(r.stdout)")
        #expect(r.stdout.contains("(reconnect: the server announced it closes the connection)"), "\(r.stdout)")

        // A server that answers and closes, with no Connection: close.
        let silentPort = freePort(28_280)
        let responder = try TestResponder(port: silentPort) { fd in
            _ = readSome(fd, atLeast: 10)
            writeAllBytes(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8))
        }
        defer { responder.stop() }
        let s = try await runWirelat(["probe", "http", "127.0.0.1", "--port", "\(silentPort)", "--count", "4", "--interval", "50ms", "--json", dir.file("s.json")], in: dir)
        #expect(s.exit.status == 0, "\(s.stdout)\n\(s.stderr)")
        let sj = try readJSON(dir.file("s.json"))
        #expect(integer(sj["samples"]) == 4 && integer(sj["reconnects"]) == 3, "\(s.stdout)")
        #expect(s.stdout.contains("(reconnect: the server had closed the idle connection)"), "\(s.stdout)")

        // GET of an HTTP/1.0 body that runs to the close: the close completes the answer.
        let oldPort = freePort(28_680)
        let old = try TestResponder(port: oldPort) { fd in
            _ = readSome(fd, atLeast: 10)
            writeAllBytes(fd, Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body, until the close".utf8))
        }
        defer { old.stop() }
        let g = try await runWirelat(["probe", "http", "127.0.0.1", "--port", "\(oldPort)", "--method", "GET", "--count", "3", "--interval", "50ms",
                                      "--json", dir.file("g.json")], in: dir)
        #expect(g.exit.status == 0, "\(g.stdout)\n\(g.stderr)")
        let gj = try readJSON(dir.file("g.json"))
        #expect(integer(gj["samples"]) == 3 && integer(gj["reconnects"]) == 2 && integer(gj["closes"]) == 0, "\(g.stdout)")
    }

    @Test("bad input: redis against nginx names what came back (exit 1, partial JSON kept); a closed port exits 1",
          .enabled(if: AppServers.haveNginx))
    func wrongProtocolAndClosedPort() async throws {
        let dir = try ScratchDirectory("app-wrong")
        defer { dir.remove() }
        let port = freePort(28_380)
        let (server, _) = try await startNginx(port: port, in: dir)
        defer { server.kill() }
        let r = try await runWirelat(["probe", "redis", "127.0.0.1", "--port", "\(port)", "--count", "5", "--interval", "20ms", "--json", dir.file("w.json")], in: dir)
        #expect(r.exit.status == 1 && !r.exit.bySignal)
        let errors = lines(r.stderr)
        #expect(errors.count == 1 && errors.first == "wirelat: 127.0.0.1 port \(port) answered `HTTP/1.1 400 Bad Request`: not Redis", "\(r.stderr)")
        let j = try readJSON(dir.file("w.json"))
        #expect(integer(j["wrong_answers"]) == 1 && integer(j["sent"]) == 1 && (j["failure"] as? String)?.contains("not Redis") == true)
        #expect(integer(j["connects"]) == 1, "the handshake is kept")

        let closed = freePort(28_480)
        let c = try await runWirelat(["probe", "redis", "127.0.0.1", "--port", "\(closed)", "--count", "3", "--json", dir.file("c.json")], in: dir)
        #expect(c.exit.status == 1)
        #expect(lines(c.stderr) == ["wirelat: nothing listens on 127.0.0.1:\(closed) (connection refused)"], "\(c.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.file("c.json")))
    }

    @Test("bad input: a server that sends one byte and then nothing never holds a probe past its timeout")
    func byteAMinute() async throws {
        let dir = try ScratchDirectory("app-slow")
        defer { dir.remove() }
        let port = freePort(28_580)
        let responder = try TestResponder(port: port) { fd in
            _ = readSome(fd, atLeast: 14)
            writeAllBytes(fd, Array("+".utf8))
            _ = readSome(fd, atLeast: 1 << 20)
        }
        defer { responder.stop() }
        let started = ContinuousClock.now
        let r = try await runWirelat(["probe", "redis", "127.0.0.1", "--port", "\(port)", "--count", "2", "--interval", "100ms",
                                      "--timeout", "400ms", "--json", dir.file("t.json")], in: dir)
        let took = ContinuousClock.now - started
        #expect(r.exit.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(took < .seconds(5), "took \(took)")
        let j = try readJSON(dir.file("t.json"))
        #expect(integer(j["timeouts"]) == 2 && integer(j["samples"]) == 0, "\(r.stdout)")
        #expect(r.stdout.contains("seq=0 timeout (no answer within 400ms): 1 byte of an answer, never completed"), "\(r.stdout)")
    }

    @Test("tns: tshark decodes every packet sent as a TNS CONNECT with (CONNECT_DATA=(COMMAND=ping)); the responder's REFUSE is parsed to 19.0.0.0.0, ERR=0",
          .enabled(if: AppServers.haveTshark && AppServers.canCapture))
    func tns() async throws {
        let dir = try ScratchDirectory("app-tns")
        defer { dir.remove() }
        let port = freePort(21_521)
        // The responder answers as Wireshark's layout says a listener does: a REFUSE
        // (type 4), reasons, the data length, the description.
        let responder = try TestResponder(port: port) { fd in
            let connect = readSome(fd, atLeast: 8)
            guard connect.count >= 8, connect[4] == 1 else { return }
            let text = Array("(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=0)(ALIAS=LISTENER))".utf8)
            let length = 12 + text.count
            writeAllBytes(fd, [UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 4, 0, 0, 0, 0x22, 0, 0, UInt8(text.count)] + text)
            _ = readSome(fd, atLeast: 1)
        }
        defer { responder.stop() }
        let binary = try WirelatBinary.require()
        let pcap = dir.file("tns.pcap")
        let capture = try await startListening([], [binary, "capture", "-i", "lo", "-w", pcap, "tcp", "port", "\(port)"], name: "tns-capture", in: dir)
        defer { capture.kill() }
        let count = 5
        let r = try await runWirelat(["probe", "tns", "127.0.0.1", "--port", "\(port)", "--count", "\(count)", "--interval", "50ms",
                                      "--json", dir.file("tns.json")], in: dir)
        try await Task.sleep(for: .milliseconds(300))
        _ = await interrupt(capture)
        #expect(r.exit.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(lines(r.stdout).filter { $0.contains("REFUSE 19.0.0.0.0 (VSNNUM=318767104) ERR=0 ALIAS=LISTENER rtt=") }.count == count, "\(r.stdout)")
        let j = try readJSON(dir.file("tns.json"))
        #expect(j["method"] as? String == "tns" && integer(j["samples"]) == count && integer(j["connects"]) == count)
        #expect(j["mode"] as? String == "per-connection")

        let decoded = try await runTool([try #require(AppServers.tshark), "-d", "tcp.port==\(port),tns", "-r", pcap,
                                         "-Y", "tcp.dstport==\(port) && tcp.len > 0",
                                         "-T", "fields", "-e", "tns.type", "-e", "tns.connect_data"], in: dir)
        #expect(decoded.succeeded, "\(decoded.summary)")
        let rows = lines(decoded.stdout)
        #expect(rows.count == count, "tshark saw \(rows.count) TNS packets from wirelat:\n\(decoded.stdout)")
        for row in rows { #expect(row == "1\t(CONNECT_DATA=(COMMAND=ping))", "\(row)") }
        let answers = try await runTool([try #require(AppServers.tshark), "-d", "tcp.port==\(port),tns", "-r", pcap,
                                         "-Y", "tcp.srcport==\(port) && tcp.len > 0", "-T", "fields", "-e", "tns.type"], in: dir)
        #expect(lines(answers.stdout).count == count && lines(answers.stdout).allSatisfy { $0 == "4" }, "\(answers.stdout)")
    }

    @Test("tcp send/expect: binary-safe bytes to redis, exact bytes, a count and a regex; --new-connection opens one each; a differing answer names it",
          .enabled(if: AppServers.haveRedis))
    func sendExpect() async throws {
        let dir = try ScratchDirectory("app-tcp")
        defer { dir.remove() }
        let port = freePort(26_479)
        let server = try await startRedis(port: port, in: dir)
        defer { server.kill() }
        let ping = "2a310d0a24340d0a50494e470d0a"
        let payload = dir.file("ping.bin")
        try Data(Array("*1\r\n$4\r\nPING\r\n".utf8)).write(to: URL(fileURLWithPath: payload))
        for (name, expect, newConnection) in [("exact", ["--expect", "2b504f4e470d0a"], false),
                                               ("count", ["--expect-bytes", "7"], false),
                                               ("regex", ["--expect-regex", #"^\+PONG\r\n$"#], true)] {
            let json = dir.file("\(name).json")
            let r = try await runWirelat(["probe", "tcp", "127.0.0.1", "--port", "\(port)", "--send", name == "count" ? "@\(payload)" : ping]
                                         + expect + (newConnection ? ["--new-connection"] : []) + ["--count", "5", "--interval", "10ms", "--json", json], in: dir)
            #expect(r.exit.status == 0, "\(name): \(r.stdout)\n\(r.stderr)")
            let j = try readJSON(json)
            #expect(j["method"] as? String == "tcp-send-expect" && integer(j["samples"]) == 5, "\(name): \(r.stdout)")
            #expect(integer(j["connects"]) == (newConnection ? 5 : 1), "\(name): \(r.stdout)")
        }
        let wrong = try await runWirelat(["probe", "tcp", "127.0.0.1", "--port", "\(port)", "--send", ping, "--expect", "2b4f4b0d0a", "--count", "3"], in: dir)
        #expect(wrong.exit.status == 1)
        #expect(wrong.stderr.contains("answered `+PONG` (2b504f4e47…), not the expected 2b4f4b0d0a"), "\(wrong.stderr)")
        let usage = try await runWirelat(["probe", "tcp", "127.0.0.1", "--port", "\(port)", "--send", ping, "--expect-bytes", "1", "--expect", "00"], in: dir)
        #expect(usage.exit.status == 64)
    }
}
