import Foundation
import Testing
import WirelatTestSupport
@preconcurrency import Glibc

// The end-to-end tests run the release binary, as a user would. Every process started
// here is killed on the way out, and every wait is bounded.

enum WirelatBinary {
    /// The package root: Tests/EndToEndTests/Support.swift → three levels up.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var path: String {
        if let fromEnvironment = ProcessInfo.processInfo.environment["WIRELAT_BIN"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return packageRoot + "/.build/release/wirelat"
    }

    /// The binary's path; a test failure naming what to do when it is missing.
    static func require() throws -> String {
        let path = path
        try #require(
            FileManager.default.isExecutableFile(atPath: path),
            "no wirelat release binary at \(path): run `swift build -c release` in \(packageRoot) first, or set WIRELAT_BIN to a built wirelat")
        return path
    }
}

struct E2EFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A scratch directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init(_ name: String) throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("wlt-\(name)-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A child process whose standard output and error go to files, so nothing can block on a pipe.
/// It runs in its own process group, with SIGINT and SIGTERM unblocked and at their
/// defaults, as a shell would start it (the test runner's threads block them).
final class Spawned {
    let name: String
    let child: TestChild
    let stdoutPath: String
    let stderrPath: String

    init(_ executable: String, _ arguments: [String], name: String, in directory: ScratchDirectory) throws {
        self.name = name
        stdoutPath = directory.file("\(name).stdout")
        stderrPath = directory.file("\(name).stderr")
        child = try TestChild(executable, arguments, standardOutput: stdoutPath, standardError: stderrPath)
    }

    var pid: pid_t { child.pid }
    var isRunning: Bool { child.isRunning }
    var stdout: String { readTextFile(stdoutPath) ?? "" }
    var stderr: String { readTextFile(stderrPath) ?? "" }

    /// Waits until standard output contains `text`; false on timeout or if the process exited first.
    func waitForOutput(_ text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdout.contains(text) { return true }
            if !child.isRunning { return stdout.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    typealias Exit = TestChild.Termination

    /// Waits for the process to end; nil (and the process killed) if it is still running at the timeout.
    func waitForExit(timeout: Duration) async -> Exit? {
        await child.wait(timeout: timeout)
    }

    func signal(_ signal: Int32) { child.signal(signal) }

    /// SIGKILL if still running. Safe in `defer`.
    func kill() { child.kill() }

    /// Everything it printed, for failure messages.
    var transcript: String { "[\(name) stdout]\n\(stdout)\n[\(name) stderr]\n\(stderr)" }
}

/// Runs wirelat to completion (at most `timeout`).
func runWirelat(_ arguments: [String], in directory: ScratchDirectory, name: String = "wirelat", timeout: Duration = .seconds(20)) async throws -> (exit: Spawned.Exit, stdout: String, stderr: String) {
    let child = try Spawned(try WirelatBinary.require(), arguments, name: name, in: directory)
    defer { child.kill() }
    guard let exit = await child.waitForExit(timeout: timeout) else {
        throw E2EFailure("wirelat \(arguments.joined(separator: " ")) did not finish within \(timeout)\n\(child.transcript)")
    }
    return (exit, child.stdout, child.stderr)
}

/// Starts `wirelat server` with `arguments` (optionally under a command prefix, such as
/// `ip netns exec NS`) and waits until it says it is listening.
func startServer(_ arguments: [String], prefix: [String] = [], in directory: ScratchDirectory, name: String = "server") async throws -> Spawned {
    let binary = try WirelatBinary.require()
    let server: Spawned
    if let first = prefix.first {
        server = try Spawned(first, Array(prefix.dropFirst()) + [binary, "server"] + arguments, name: name, in: directory)
    } else {
        server = try Spawned(binary, ["server"] + arguments, name: name, in: directory)
    }
    guard await server.waitForOutput("listening on", timeout: .seconds(10)) else {
        server.kill()
        throw E2EFailure("the server did not start listening within 10 s\n\(server.transcript)")
    }
    return server
}

/// Runs `body` with a scratch directory and `wirelat server` listening on a free port from `preferredPort`; removes both afterwards.
func withLoopbackServer(
    _ name: String,
    port preferredPort: UInt16,
    serverArguments: (UInt16) -> [String] = { ["--port", "\($0)"] },
    _ body: (ScratchDirectory, UInt16, Spawned) async throws -> Void
) async throws {
    let dir = try ScratchDirectory(name)
    defer { dir.remove() }
    let port = freePort(preferredPort)
    let server = try await startServer(serverArguments(port), in: dir)
    defer { server.kill() }
    try await body(dir, port, server)
}

/// Starts `wirelat client` with `arguments` and waits until it prints "The server is ready."; the caller kills it.
func startClient(_ arguments: [String], in directory: ScratchDirectory) async throws -> Spawned {
    let client = try Spawned(try WirelatBinary.require(), ["client"] + arguments, name: "client", in: directory)
    do {
        try #require(await client.waitForOutput("The server is ready.", timeout: .seconds(10)), "\(client.transcript)")
    } catch {
        client.kill()
        throw error
    }
    return client
}

/// A TCP port nothing on this host listens on, from `preferred` upwards (checked by binding
/// [::] with IPv4 mapped, as `wirelat server` does), and not handed to another test of
/// this process: suites run in parallel, and two that asked at once would otherwise get
/// the same port before either server had bound it.
func freePort(_ preferred: UInt16) -> UInt16 {
    PortLedger.shared.lock.lock()
    defer { PortLedger.shared.lock.unlock() }
    for candidate in stride(from: Int(preferred), to: Int(preferred) + 500, by: 7)
    where !PortLedger.shared.handedOut.contains(UInt16(candidate)) && canBind(UInt16(candidate)) {
        PortLedger.shared.handedOut.insert(UInt16(candidate))
        return UInt16(candidate)
    }
    return preferred
}

/// The ports ``freePort(_:)`` has handed out in this test process.
private final class PortLedger: @unchecked Sendable {
    static let shared = PortLedger()
    let lock = NSLock()
    var handedOut = Set<UInt16>()
}

private func canBind(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var off: CInt = 0
    _ = setsockopt(fd, CInt(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<CInt>.size))
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_port = port.bigEndian
    address.sin6_addr = in6addr_any
    return withUnsafePointer(to: &address) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
    }
}

/// The JSON object in `path`.
func readJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw E2EFailure("\(path) does not hold a JSON object")
    }
    return object
}

/// A JSON number as an Int (JSONSerialization gives NSNumber, Int or Double).
func integer(_ value: Any?) -> Int? {
    switch value {
    case let v as Int: return v
    case let v as Double: return Int(exactly: v)
    case let v as NSNumber: return v.intValue
    default: return nil
    }
}

func number(_ value: Any?) -> Double? {
    switch value {
    case let v as Double: return v
    case let v as Int: return Double(v)
    case let v as NSNumber: return v.doubleValue
    default: return nil
    }
}

/// The non-empty lines of `text`.
func lines(_ text: String) -> [Substring] {
    text.split(separator: "\n", omittingEmptySubsequences: true)
}
