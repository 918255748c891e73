import Foundation
import Synchronization
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatKit
import WirelatTestSupport

// Helpers for the in-process tests: each server and client runs its own EventLoop on
// its own thread (an EventLoop is only ever touched from the thread that runs it), and
// every wait here is bounded.

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// Runs one client test on its own EventLoop and thread; the report, or a failure
/// if it did not finish within `timeout`.
func runClient(_ settings: ClientSettings, timeout: Duration = .seconds(30)) async throws -> ClientReport {
    let outcome: Result<ClientReport, TestFailure>? = await onThread("wirelat-test-client", timeout: timeout) {
        do {
            let loop = try EventLoop()
            let client = Client(settings: settings, loop: loop)
            return .success(client.run())
        } catch {
            return .failure(TestFailure("EventLoop: \(error)"))
        }
    }
    guard let outcome else { throw TestFailure("the client did not finish within \(timeout)") }
    return try outcome.get()
}

/// Client settings for a loopback test against `port`.
func loopbackSettings(port: UInt16, length: Int = 0, duration: Duration = .seconds(1)) -> ClientSettings {
    var s = ClientSettings(host: "127.0.0.1")
    s.port = port
    s.length = length
    s.durationNanoseconds = UInt64(duration.components.seconds) * 1_000_000_000 + UInt64(duration.components.attoseconds / 1_000_000_000)
    s.intervalNanoseconds = 1_000_000_000
    return s
}

/// What a running server has counted, copied out of its loop every few milliseconds.
struct ServerSnapshot: Sendable {
    /// Set before `ServerHarness.start` returns (ServerCounters has no public initializer).
    var latestCounters: ServerCounters?
    var counters: ServerCounters { latestCounters! }
    var openConnections = 0
    var log: [String] = []
    var finished = false
}

/// A WirelatKit `Server` on its own EventLoop and thread, on an ephemeral loopback port.
/// A 5 ms timer on the server's loop copies its counters out and stops the loop when asked.
final class ServerHarness: Sendable {
    let port: UInt16
    private let startup: Startup

    private init(port: UInt16, startup: Startup) {
        self.port = port
        self.startup = startup
    }

    /// Shared between the test and the server's thread.
    private final class Startup: Sendable {
        let result = Mutex<Result<UInt16, TestFailure>?>(nil)
        let snapshot = Mutex(ServerSnapshot())
        let stop = Atomic(false)
    }

    /// Starts a server with `configure` applied to a configuration bound to [::]:0.
    static func start(_ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> ServerHarness {
        var configuration = ServerConfiguration()
        configuration.bind = "::"
        configuration.port = 0
        configure(&configuration)
        ignoreSIGPIPE()
        let startup = Startup()
        let config = configuration
        let thread = Thread {
            Self.serve(config, startup)
            startup.snapshot.withLock { $0.finished = true }
        }
        thread.name = "wirelat-test-server"
        thread.start()
        guard await eventually(timeout: .seconds(5), { startup.result.withLock { $0 != nil } }) else {
            throw TestFailure("the server did not start within 5 s")
        }
        let port = try startup.result.withLock { $0! }.get()
        return ServerHarness(port: port, startup: startup)
    }

    /// Runs on the server's thread: everything the server owns is gone when this returns.
    private static func serve(_ configuration: ServerConfiguration, _ startup: Startup) {
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            startup.result.withLock { $0 = .failure(TestFailure("EventLoop: \(error)")) }
            return
        }
        let server = Server(configuration: configuration, loop: loop) { line in
            startup.snapshot.withLock { $0.log.append(line) }
        }
        do {
            try server.start()
        } catch {
            startup.result.withLock { $0 = .failure(TestFailure("server.start: \(error)")) }
            return
        }
        func copyCounters() {
            let counters = server.counters
            let open = server.openConnections
            startup.snapshot.withLock {
                $0.latestCounters = counters
                $0.openConnections = open
            }
        }
        copyCounters()
        startup.result.withLock { $0 = .success(server.boundAddress?.port ?? 0) }
        func tick() {
            copyCounters()
            if startup.stop.load(ordering: .acquiring) {
                loop.stop()
            } else {
                loop.schedule(after: 5_000_000) { tick() }
            }
        }
        tick()
        do {
            try loop.run()
        } catch {
            startup.snapshot.withLock { $0.log.append("loop.run: \(error)") }
        }
        copyCounters()
    }

    var snapshot: ServerSnapshot { startup.snapshot.withLock { $0 } }

    /// Waits until the server's counters satisfy `condition`; the last snapshot either way.
    @discardableResult
    func waitUntil(timeout: Duration = .seconds(5), _ condition: (ServerSnapshot) -> Bool) async -> (ok: Bool, snapshot: ServerSnapshot) {
        let ok = await eventually(timeout: timeout) { condition(self.snapshot) }
        return (ok, snapshot)
    }

    /// Stops the loop and waits (bounded) for the server's thread to release everything.
    @discardableResult
    func stop() async -> ServerSnapshot {
        startup.stop.store(true, ordering: .releasing)
        let done = await eventually(timeout: .seconds(5)) { self.snapshot.finished }
        if !done { Issue.record("the server's loop did not stop within 5 s") }
        return snapshot
    }
}

// MARK: Protocol messages written by hand

/// A test request as `wirelat client` would send it.
func testRequest(length: UInt32, mode: TestMode = .sync, duration: UInt64 = 1_000_000_000) -> [UInt8] {
    ControlMessage.request(TestRequest(
        mode: mode, payloadLength: length, durationNanoseconds: duration, testID: UInt64.random(in: 1...UInt64.max),
        connectionIndex: 0, connectionCount: 1, ackEvery: mode == .async ? 1 : 0)).encoded()
}

/// The first control message in `bytes`, if they hold a whole one.
func controlMessage(in bytes: [UInt8]) -> ControlMessage? {
    let decoded = bytes.withUnsafeBytes { b in try? ControlMessage.decode(b) }
    return decoded?.message
}

func dataMessage(sequence: UInt32, length: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0x42, count: WireProtocol.messageHeaderSize + length)
    bytes.withUnsafeMutableBytes { MessageHeader(kind: .data, sequence: sequence, payloadLength: UInt32(length)).write(to: $0) }
    return bytes
}

// MARK: The five kinds of abuse a server must survive

enum Abuse: String, CaseIterable, Sendable {
    /// "GET / HTTP/1.0\r\n\r\n": answered with a refusal, or closed.
    case http
    /// Random bytes: answered with a refusal, or closed.
    case randomBytes
    /// Connects and never speaks: closed after the handshake timeout.
    case silent
    /// Half a test request, then silence: closed after the handshake timeout.
    case truncatedRequest
    /// Starts a sync test, then resets (SO_LINGER 0) in the middle of a message.
    case resetMidMessage
    /// Asks for a 4 GiB − 1 payload: refused.
    case absurdLength
}

/// Commits `abuse` against the server on `port` and returns what was wrong with the
/// server's answer (empty: it answered as it should). It records no issues itself, so it
/// can run on plain threads; the caller asserts on the result.
func commit(_ abuse: Abuse, port: UInt16, closeWithin timeoutMilliseconds: Int32 = 5000) -> [String] {
    var problems: [String] = []
    do {
        let raw = try RawConnection(port: port)
        switch abuse {
        case .http, .randomBytes:
            var bytes: [UInt8]
            if abuse == .http {
                bytes = Array("GET / HTTP/1.0\r\n\r\n".utf8)
            } else {
                bytes = (0..<64).map { _ in UInt8.random(in: 0...255) }
                if bytes[0] == 0x57 { bytes[0] = 0 } // not "W": garbage from the first byte
            }
            try raw.send(bytes)
            let answer = raw.readUntilClosed(timeoutMilliseconds: timeoutMilliseconds)
            if !answer.closed { problems.append("\(abuse): the server kept a connection that sent garbage open") }
            // Either a refusal ("WLAT", version 1, kind 3) or nothing before the close.
            if !answer.bytes.isEmpty {
                if Array(answer.bytes.prefix(4)) != Array("WLAT".utf8) || answer.bytes.count < 6 || answer.bytes[5] != 3 {
                    problems.append("\(abuse): the answer is not a refusal control message: \(Array(answer.bytes.prefix(16)))")
                } else if case .refused(let reason)? = controlMessage(in: answer.bytes) {
                    if !reason.contains("not a wirelat") { problems.append("\(abuse): the refusal says \"\(reason)\"") }
                } else {
                    problems.append("\(abuse): the refusal does not decode: \(Array(answer.bytes.prefix(32)))")
                }
            }
        case .silent:
            let answer = raw.readUntilClosed(timeoutMilliseconds: timeoutMilliseconds)
            if !answer.closed { problems.append("silent: not closed within \(timeoutMilliseconds) ms") }
            if !answer.bytes.isEmpty { problems.append("silent: the server sent \(answer.bytes.count) bytes") }
        case .truncatedRequest:
            try raw.send(Array(testRequest(length: 0).prefix(20)))
            let answer = raw.readUntilClosed(timeoutMilliseconds: timeoutMilliseconds)
            if !answer.closed { problems.append("truncatedRequest: not closed within \(timeoutMilliseconds) ms") }
        case .resetMidMessage:
            let length = 100
            try raw.send(testRequest(length: UInt32(length)))
            let ready = try raw.read(count: 8 + 16)
            guard case .ready? = controlMessage(in: ready) else {
                return ["resetMidMessage: no ready message, got \(ready)"]
            }
            for seq in 0..<3 {
                try raw.send(dataMessage(sequence: UInt32(seq), length: length))
                let reply = try raw.read(count: 4)
                if reply != [0, 0, 0, UInt8(seq)] { problems.append("resetMidMessage: reply to request \(seq) was \(reply)") }
            }
            try raw.send(Array(dataMessage(sequence: 3, length: length).prefix(40)))
            usleep(20_000) // let the half message reach the server before the reset
            raw.socket.setLingerZero()
            // `raw` is released on return: close(2) with SO_LINGER 0 sends an RST.
        case .absurdLength:
            try raw.send(testRequest(length: UInt32.max))
            let answer = raw.readUntilClosed(timeoutMilliseconds: timeoutMilliseconds)
            if !answer.closed { problems.append("absurdLength: the server kept the connection open") }
            if case .refused(let reason)? = controlMessage(in: answer.bytes) {
                if !reason.contains("4294967295") { problems.append("absurdLength: the refusal says \"\(reason)\"") }
            } else {
                problems.append("absurdLength: a 4 GiB − 1 length was not refused; the server answered \(Array(answer.bytes.prefix(32)))")
            }
        }
    } catch {
        problems.append("\(abuse): \(error)")
    }
    return problems
}

/// Runs `body` against a fresh server and always stops the server afterwards.
func withServer<R>(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (ServerHarness) async throws -> R
) async throws -> R {
    let server = try await ServerHarness.start(configure)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

// MARK: Descriptors

/// How many of this process's descriptors are TCP sockets whose local port is `port`
/// (the server's listener and every connection it accepted), from /proc/net/tcp{,6}.
func socketDescriptors(onLocalPort port: UInt16) -> Int {
    var inodes = Set<String>()
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in readProcFile(file).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9, let colon = fields[1].lastIndex(of: ":"),
                  UInt16(fields[1][fields[1].index(after: colon)...], radix: 16) == port else { continue }
            inodes.insert(String(fields[9]))
        }
    }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
              target.hasPrefix("socket:[") else { return false }
        return inodes.contains(String(target.dropFirst(8).dropLast()))
    }.count
}

/// All of a /proc file. (Foundation's String(contentsOfFile:) stops after the first read,
/// about 4 KiB, because /proc files report a size of 0.)
func readProcFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// This process's descriptors, by the kinds a server and its EventLoop own.
struct DescriptorCensus: CustomStringConvertible {
    /// openDescriptorCount(): every descriptor, whoever opened it.
    var all = 0
    var tcpSockets = 0
    var epolls = 0
    var timerFDs = 0

    /// What a leaking server or loop would leave behind.
    func holdsNoMoreServerDescriptors(than other: DescriptorCensus) -> Bool {
        tcpSockets <= other.tcpSockets && epolls <= other.epolls && timerFDs <= other.timerFDs
    }

    static func take() -> DescriptorCensus {
        var census = DescriptorCensus()
        census.all = openDescriptorCount()
        var tcpInodes = Set<String>()
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in readProcFile(file).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count > 9 { tcpInodes.insert(String(fields[9])) }
            }
        }
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else { continue }
            if target.hasPrefix("socket:["), tcpInodes.contains(String(target.dropFirst(8).dropLast())) {
                census.tcpSockets += 1
            } else if target == "anon_inode:[eventpoll]" {
                census.epolls += 1
            } else if target == "anon_inode:[timerfd]" {
                census.timerFDs += 1
            }
        }
        return census
    }

    var description: String {
        "\(tcpSockets) TCP sockets, \(epolls) epoll, \(timerFDs) timerfd (\(all) descriptors in all)"
    }
}
