import Synchronization
import WirelatIO
@preconcurrency import Glibc

/// A child process the tests start with `posix_spawn`: standard input, output and error
/// from and to files, its own process group (so a test can signal the group, as a
/// terminal does), and SIGINT, SIGTERM, SIGPIPE, SIGHUP and SIGALRM at their defaults with
/// no signal blocked — the test runner's threads block some of them, and a child would
/// inherit the mask. Reaped only here, with `waitpid` on its own pid.
public final class TestChild: Sendable {
    public let pid: pid_t
    /// The wait status once reaped.
    private let reaped = Mutex<CInt?>(nil)

    /// How a child ended: its exit status, or the signal that killed it.
    public struct Termination: Sendable, CustomStringConvertible {
        public let status: Int32
        public let bySignal: Bool
        public var description: String { bySignal ? "killed by signal \(status)" : "exit \(status)" }
    }

    /// Starts `path` with `arguments`; `environment` adds to (or replaces in) this process's.
    public init(_ path: String, _ arguments: [String], standardInput: String = "/dev/null",
                standardOutput: String = "/dev/null", standardError: String = "/dev/null",
                environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, standardInput, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if standardError == standardOutput {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        // Nothing else of ours reaches the child: a descriptor another test holds open
        // (a file being written, a socket) stays out of it, so, for one, a binary copied
        // for a test is never "busy" when it is executed.
        closeInheritedDescriptors(&actions, from: 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGALRM, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        var env: [UnsafeMutablePointer<CChar>?] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
            if environment[name] == nil { env.append(strdup(entry)) }
            index += 1
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) { env.append(strdup("\(name)=\(value)")) }
        env.append(nil)
        defer { for p in env { free(p) } }

        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, &attributes, &argv, &env)
        if code != 0 {
            throw TestFailure("cannot start \(path): \(String(cString: strerror(code)))")
        }
        self.pid = pid
    }

    deinit { kill() }

    /// How it ended; nil while it runs. Reaps it the first time it is seen ended.
    public var termination: Termination? {
        reaped.withLock { status -> Termination? in
            if status == nil {
                var raw: CInt = 0
                let r = waitpid(pid, &raw, WNOHANG)
                if r == pid { status = raw } else if r < 0 && errno == ECHILD { status = 0 }
            }
            guard let raw = status else { return nil }
            let signal = raw & 0x7F
            return signal == 0 ? Termination(status: (raw >> 8) & 0xFF, bySignal: false) : Termination(status: signal, bySignal: true)
        }
    }

    public var isRunning: Bool { termination == nil }

    /// Sends `signal` while it runs.
    public func signal(_ signal: Int32) {
        if isRunning { _ = Glibc.kill(pid, signal) }
    }

    /// SIGKILL and reap, if still running. Safe in `defer`.
    public func kill() {
        guard isRunning else { return }
        _ = Glibc.kill(pid, SIGKILL)
        for _ in 0..<500 where isRunning { usleep(2_000) }
    }

    /// Blocks until it ends, at most `timeout`; then kills it and returns nil.
    public func waitBlocking(timeout: Duration) -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let t = termination { return t }
            if ContinuousClock.now >= deadline {
                kill()
                return nil
            }
            usleep(5_000)
        }
    }

    /// Waits until it ends, at most `timeout`; then kills it and returns nil.
    public func wait(timeout: Duration) async -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let t = termination { return t }
            if ContinuousClock.now >= deadline {
                kill()
                return nil
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Runs `path` to completion (at most `timeout`); its end, standard output and standard
    /// error, or nil if it had to be killed.
    public static func output(_ path: String, _ arguments: [String], timeout: Duration = .seconds(60),
                              environment: [String: String] = [:]) throws -> (termination: Termination, output: String, errors: String)? {
        let out = try temporaryFile(), err = try temporaryFile()
        defer {
            unlink(out)
            unlink(err)
        }
        let child = try TestChild(path, arguments, standardOutput: out, standardError: err, environment: environment)
        guard let termination = child.waitBlocking(timeout: timeout) else { return nil }
        return (termination, readTextFile(out) ?? "", readTextFile(err) ?? "")
    }

    private static func temporaryFile() throws -> String {
        var template = Array("/tmp/wirelat-test-output-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw TestFailure("mkstemp: \(String(cString: strerror(errno)))") }
        close(fd)
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Whether nothing listens on `port` of 127.0.0.1 and ::1 (both can be bound now).
public func loopbackPortIsFree(_ port: UInt16) -> Bool {
    for family in [AF_INET, AF_INET6] {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if family == AF_INET {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            a.sin6_addr = in6addr_loopback
            bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        if bound != 0 { return false }
    }
    return true
}

/// The whole of a text file, nil if it cannot be read.
public func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
