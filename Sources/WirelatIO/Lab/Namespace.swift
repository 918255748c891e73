@preconcurrency import Glibc
import CWirelatShim

/// Named network namespaces, as iproute2 keeps them: `ip netns add NAME` bind-mounts a
/// namespace at `/run/netns/NAME` (ip-netns(8)); opening that file and calling setns(2)
/// with `CLONE_NEWNET` moves a thread into it.
public enum NetworkNamespace {
    public static let directory = "/run/netns"

    public static func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// True when `/run/netns/NAME` exists.
    public static func exists(_ name: String) -> Bool {
        access(path(name), F_OK) == 0
    }

    /// The namespace `/run/netns/NAME` is bound to, as `device:inode` of its nsfs file
    /// (the inode is the number `ls -l /proc/PID/ns/net` shows), or nil when there is no
    /// such namespace. A namespace deleted and made again under the same name has another
    /// inode. The corresponding C function is `stat`.
    public static func identity(_ name: String) -> String? {
        var status = stat()
        guard stat(path(name), &status) == 0 else { return nil }
        return "\(status.st_dev):\(status.st_ino)"
    }

    /// Runs `body` with the calling thread in the namespace `name` and moves it back to
    /// the namespace it was in, whatever `body` does. Descriptors opened meanwhile (a TUN
    /// device, a socket) stay in the namespace they were opened in. The corresponding C
    /// function is `setns`; it needs CAP_SYS_ADMIN.
    public static func within<T>(_ name: String, _ body: () throws(SystemError) -> T) throws(SystemError) -> T {
        let home = try retrying("open(/proc/thread-self/ns/net)") { open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) }
        let original = FileDescriptor(owning: home)
        let target = FileDescriptor(owning: try naming("open(\(path(name)))") { () throws(SystemError) in
            try retrying("open") { open(path(name), O_RDONLY | O_CLOEXEC) }
        })
        _ = try naming("setns(\(name))") { () throws(SystemError) in try retrying("setns") { wl_setns_net(target.rawValue) } }
        defer {
            let back = wl_setns_net(original.rawValue)
            precondition(back == 0, "setns back to the original network namespace failed: errno \(wl_errno())")
        }
        return try body()
    }

    /// Replaces this process with `arguments` (looked up in PATH) running in the namespace
    /// `name`, as `ip netns exec NAME` does (without its /etc/netns bind mounts and /sys
    /// remount). Returns only on failure. The corresponding C functions are `setns` and
    /// `execvp`.
    public static func exec(in name: String, _ arguments: [String]) -> SystemError {
        precondition(!arguments.isEmpty, "exec needs a command")
        let fd = open(path(name), O_RDONLY | O_CLOEXEC)
        if fd < 0 { return SystemError(call: "open(\(path(name)))", errno: errno) }
        if wl_setns_net(fd) != 0 {
            let code = errno
            close(fd)
            return SystemError(call: "setns(\(name))", errno: code)
        }
        close(fd)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execvp(arguments[0], &argv)
        let code = errno
        for p in argv { free(p) }
        return SystemError(call: "execvp(\(arguments[0]))", errno: code)
    }
}

/// Sets the calling thread's timer slack, the time the kernel may add to a timer's expiry
/// to merge wake-ups (50 µs by default). The corresponding C function is
/// `prctl(PR_SET_TIMERSLACK)`; see prctl(2) and timerfd_create(2).
public func setTimerSlack(nanoseconds: UInt) throws(SystemError) {
    _ = try retrying("prctl(PR_SET_TIMERSLACK)") { wl_set_timerslack_ns(nanoseconds) }
}

/// Makes this process the leader of a new session with no controlling terminal, so it
/// outlives the shell that started it. Fails (EPERM) for a process-group leader. The
/// corresponding C function is `setsid`.
public func startNewSession() throws(SystemError) {
    _ = try retrying("setsid") { setsid() }
}

// MARK: Child processes

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

/// What a finished child left: its exit status (128 + n when killed by signal n) and
/// everything it wrote to standard output and error.
public struct ChildResult: Sendable {
    public var status: CInt
    public var output: String
}

/// Runs `path` with `arguments` to completion, collecting its standard output and error.
public func runProcess(_ path: String, _ arguments: [String]) throws(SystemError) -> ChildResult {
    var ends: [CInt] = [-1, -1]
    _ = try retrying("pipe") { pipe(&ends) }
    let readEnd = FileDescriptor(owning: ends[0])
    _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
    posix_spawn_file_actions_adddup2(&actions, ends[1], 2)
    var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
    argv.append(nil)
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let code = posix_spawn(&pid, path, &actions, nil, &argv, environ)
    _ = close(ends[1])
    if code != 0 { throw SystemError(call: "posix_spawn(\(path))", errno: code) }
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
public func processArguments(_ pid: pid_t) -> [String]? {
    guard let text = readSmallFile("/proc/\(pid)/cmdline"), !text.isEmpty else { return nil }
    return text.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
}

/// The pids of every process, from /proc.
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

/// A whole small file (at most 1 MiB) as text, nil if it cannot be read.
public func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while bytes.count < 1 << 20 {
        let n = Glibc.read(fd, &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path` through a temporary file and rename(2), so a reader sees the
/// old contents or the new, never a mix.
public func replaceFile(_ path: String, with text: String) throws(SystemError) {
    let temporary = path + ".tmp"
    let fd = try naming("open(\(temporary))") { () throws(SystemError) in
        try retrying("open") { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    }
    var bytes = Array(text.utf8)
    let count = bytes.count
    var done = 0
    while done < count {
        let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, count - done) }
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            _ = close(fd)
            throw SystemError(call: "write(\(temporary))", errno: code)
        }
        done += n
    }
    bytes.removeAll()
    _ = close(fd)
    _ = try naming("rename(\(temporary))") { () throws(SystemError) in try retrying("rename") { rename(temporary, path) } }
}

/// Waits up to `timeoutMilliseconds` for `fd` to become readable; true if it did. The
/// corresponding C function is `poll`.
public func waitReadable(_ fd: CInt, timeoutMilliseconds: Int) throws(SystemError) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let n = try retrying("poll") { poll(&entry, 1, CInt(timeoutMilliseconds)) }
    return n > 0
}

/// Runs `body`, giving a failure the more telling name `call` (with a path or a name in it,
/// which `retrying`'s static name cannot hold).
@inline(__always)
public func naming<T>(_ call: @autoclosure () -> String, _ body: () throws(SystemError) -> T) throws(SystemError) -> T {
    do {
        return try body()
    } catch {
        throw SystemError(call: call(), errno: error.errno)
    }
}

/// The path of this process's own executable (the target of /proc/self/exe). The
/// corresponding C function is `readlink`.
public func currentExecutablePath() throws(SystemError) -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = try retrying("readlink(/proc/self/exe)") { readlink("/proc/self/exe", &buffer, buffer.count - 1) }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Opens (creating) `path` and takes an exclusive flock(2) on it, waiting for another
/// holder; the lock goes with the returned descriptor.
public func lockExclusively(_ path: String) throws(SystemError) -> DescriptorBox {
    let fd = try naming("open(\(path))") { () throws(SystemError) in
        try retrying("open") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
    }
    let box = DescriptorBox(owning: fd)
    _ = try naming("flock(\(path))") { () throws(SystemError) in try retrying("flock") { flock(fd, LOCK_EX) } }
    return box
}

/// Puts the calling process under SCHED_FIFO at `priority` (1…99), so it runs as soon as
/// it wakes, ahead of every ordinary task; the kernel's RT throttling
/// (sched_rt_runtime_us, 95 % by default) still leaves the rest of the machine some time.
/// The corresponding C function is `sched_setscheduler`; see sched(7).
public func setRealtimePriority(_ priority: CInt) throws(SystemError) {
    var parameters = sched_param()
    parameters.sched_priority = priority
    _ = try retrying("sched_setscheduler(SCHED_FIFO)") { sched_setscheduler(0, SCHED_FIFO, &parameters) }
}

/// Closes every descriptor above 2 except `keep`, as a daemon does after it starts: a
/// descriptor it inherited (a parent's pipe or socket) would otherwise stay open as long
/// as it runs, and whoever waits for that descriptor's end would wait for the daemon.
public func closeInheritedDescriptors(keeping keep: Set<CInt>) {
    var inherited: [CInt] = []
    if let dir = opendir("/proc/self/fd") {
        let own = dirfd(dir)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let fd = CInt(name), fd > 2, fd != own, !keep.contains(fd) { inherited.append(fd) }
        }
        closedir(dir)
    }
    for fd in inherited { _ = close(fd) }
}

/// A small file rewritten in place with one pwrite(2) at offset 0, padded with spaces to a
/// whole number of 4 KiB pages: cheaper than a new file and a rename(2) each time, which
/// on tmpfs took hundreds of microseconds here. A reader may catch a write half-done, so
/// what is written must let it tell (the lab's status carries its sequence number at both
/// ends).
public final class InPlaceFile {
    public let path: String
    private let descriptor: DescriptorBox
    private var length = 0

    public init(path: String) throws(SystemError) {
        self.path = path
        _ = unlink(path)
        let fd = try naming("open(\(path))") { () throws(SystemError) in
            try retrying("open") { open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        }
        descriptor = DescriptorBox(owning: fd)
    }

    public func overwrite(_ text: String) throws(SystemError) {
        var bytes = Array(text.utf8)
        let padded = (bytes.count + 4095) / 4096 * 4096
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padded - bytes.count))
        let fd = descriptor.rawValue
        let written = try naming("pwrite(\(path))") { () throws(SystemError) in
            try retrying("pwrite") { bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        }
        guard written == padded else { throw SystemError(call: "pwrite(\(path)) short", errno: EIO) }
        if padded != length {
            _ = try naming("ftruncate(\(path))") { () throws(SystemError) in try retrying("ftruncate") { ftruncate(fd, off_t(padded)) } }
            length = padded
        }
    }
}
