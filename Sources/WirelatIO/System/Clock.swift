@preconcurrency import Glibc

/// CLOCK_MONOTONIC in nanoseconds. The corresponding C function is `clock_gettime`.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the epoch (the clock of kernel socket timestamps).
@inline(__always)
public func realtimeNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

/// Local wall-clock time as oratcptest prints it: `(14:40:19)`.
public func localTimeOfDay() -> String {
    var now = time(nil)
    var parts = tm()
    localtime_r(&now, &parts)
    func two(_ v: CInt) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "(\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)))"
}

/// Raises the soft limit on open descriptors to the hard limit, so a server
/// can hold thousands of connections. Returns the new soft limit.
@discardableResult
public func raiseDescriptorLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(clamping: limit.rlim_cur)
}

/// Writing to a socket the peer closed must fail with EPIPE, not kill the process.
public func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
}

/// Number of descriptors this process has open (from /proc/self/fd).
public func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while readdir(dir) != nil { count += 1 }
    return count - 3 // ".", ".." and the directory's own descriptor
}

/// True when `path` is a directory this process may write into.
public func isWritableDirectory(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
    return access(path, W_OK) == 0
}
