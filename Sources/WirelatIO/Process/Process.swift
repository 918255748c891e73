@preconcurrency import Glibc
import CWirelatShim

/// Makes this process the leader of a new session with no controlling terminal, so it
/// outlives the shell that started it. Fails (EPERM) for a process-group leader. The
/// corresponding C function is `setsid`.
public func startNewSession() throws(SystemError) {
    _ = try retrying("setsid") { setsid() }
}

/// Where a spawned child's standard streams go.
public struct ChildStreams {
    /// Appended to (created if missing); nil: /dev/null.
    public var outputPath: String?
    /// A descriptor of ours the child gets as descriptor 3 (e.g. a pipe's write end).
    public var extraDescriptor: CInt?

    public init(outputPath: String? = nil, extraDescriptor: CInt? = nil) {
        self.outputPath = outputPath
        self.extraDescriptor = extraDescriptor
    }
}

/// Starts `path` with `arguments` (argv[1…]), standard input from /dev/null and standard
/// output and error to `streams.outputPath`, with SIGINT, SIGTERM, SIGPIPE and SIGHUP at
/// their defaults and no signal blocked. Returns its pid. The corresponding C function is
/// `posix_spawn`.
public func spawnProcess(_ path: String, _ arguments: [String], streams: ChildStreams = ChildStreams()) throws(SystemError) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let output = streams.outputPath ?? "/dev/null"
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    if let extra = streams.extraDescriptor {
        posix_spawn_file_actions_adddup2(&actions, extra, 3)
    }
    closeInheritedDescriptors(&actions, from: streams.extraDescriptor == nil ? 3 : 4)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, s) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
    argv.append(nil)
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let code = posix_spawn(&pid, path, &actions, &attributes, &argv, environ)
    if code != 0 { throw SystemError(call: "posix_spawn(\(path))", errno: code) }
    return pid
}

/// Adds to `actions` the closing of every descriptor from `from` up, after the
/// actions before it: a child gets its standard streams and nothing else of ours, whatever
/// another thread has open at the time. The corresponding C function is
/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34).
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t, from: CInt) {
    _ = wl_spawn_close_from(&actions, from)
}

/// What a finished child left: its exit status (128 + n when killed by signal n) and
/// everything it wrote to standard output and error.
public struct ChildResult: Sendable {
    public var status: CInt
    public var output: String
}

/// Runs `path` with `arguments` to completion, collecting its standard output and error.
/// The corresponding C functions are `pipe2`, `posix_spawn`, `read` and `waitpid`.
public func runProcess(_ path: String, _ arguments: [String]) throws(SystemError) -> ChildResult {
    let pipe = try Pipe()
    let readEnd = pipe.readEnd
    var pid: pid_t = 0
    do {
        // Our copy of the write end closes at the end of this block, so the read below
        // ends when the child's copies do.
        let writeEnd = pipe.writeEnd
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd.rawValue, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd.rawValue, 2)
        closeInheritedDescriptors(&actions, from: 3)
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        let code = posix_spawn(&pid, path, &actions, nil, &argv, environ)
        if code != 0 { throw SystemError(call: "posix_spawn(\(path))", errno: code) }
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = Glibc.read(readEnd.rawValue, &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    let status = try waitForChild(pid)
    return ChildResult(status: status, output: String(decoding: bytes, as: UTF8.self))
}

/// Waits for the child `pid` to end; its exit status, or 128 + the signal that killed it.
/// The corresponding C function is `waitpid`.
public func waitForChild(_ pid: pid_t) throws(SystemError) -> CInt {
    var status: CInt = 0
    _ = try retrying("waitpid") { waitpid(pid, &status, 0) }
    return decodeWaitStatus(status)
}

/// The exit status of the child `pid` if it has ended, nil while it runs (WNOHANG).
/// The corresponding C function is `waitpid(WNOHANG)`.
public func pollChild(_ pid: pid_t) -> CInt? {
    var status: CInt = 0
    let r = waitpid(pid, &status, WNOHANG)
    return r == pid ? decodeWaitStatus(status) : nil
}

private func decodeWaitStatus(_ status: CInt) -> CInt {
    let signal = status & 0x7F
    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
}

/// True while `pid` exists (and is not a zombie). The corresponding C function is `kill(pid, 0)`.
public func processIsAlive(_ pid: pid_t) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    if let stat = readSmallFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") {
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }
    return true
}

/// The command line of `pid` (from /proc/PID/cmdline), nil if it has gone.
/// The corresponding C functions are `open` and `read`.
public func processArguments(_ pid: pid_t) -> [String]? {
    guard let text = readSmallFile("/proc/\(pid)/cmdline"), !text.isEmpty else { return nil }
    return text.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
}

/// The pids of every process, from /proc.
/// The corresponding C functions are `opendir` and `readdir`.
public func allProcessIDs() -> [pid_t] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var pids: [pid_t] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if let pid = pid_t(name) { pids.append(pid) }
    }
    return pids
}

/// The path of this process's own executable (the target of /proc/self/exe). The
/// corresponding C function is `readlink`.
public func currentExecutablePath() throws(SystemError) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = try retrying("readlink(/proc/self/exe)") { readlink("/proc/self/exe", &buffer, buffer.count - 1) }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A process id, as the kernel numbers processes.
public typealias ProcessID = pid_t

/// This process's id. The corresponding C function is `getpid`, which cannot fail.
public func currentProcessID() -> ProcessID { getpid() }
