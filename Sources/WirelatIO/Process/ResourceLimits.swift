@preconcurrency import Glibc

/// Closes every descriptor above 2 except `keep`, as a daemon does after it starts: a
/// descriptor it inherited (a parent's pipe or socket) would otherwise stay open as long
/// as it runs, and whoever waits for that descriptor's end would wait for the daemon.
/// The corresponding C functions are `readdir` (of /proc/self/fd) and `close`.
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
    for fd in inherited { _ = FileDescriptor(owning: fd) }
}

/// Raises the soft limit on open descriptors to the hard limit, so a server
/// can hold thousands of connections. Returns the new soft limit. The corresponding C
/// functions are `getrlimit` and `setrlimit`; should the raise fail, the second
/// `getrlimit` reports the limit that stands.
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

/// Number of descriptors this process has open (from /proc/self/fd). The corresponding
/// C functions are `opendir` and `readdir`.
public func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while readdir(dir) != nil { count += 1 }
    return count - 3 // ".", ".." and the directory's own descriptor
}
