@preconcurrency import Glibc

/// Gives up root for `user` once privileged handles are open, as tcpdump's -Z does.
/// The corresponding C functions are `getpwnam`, `initgroups`, `setgid` and `setuid`.
public func dropPrivileges(to user: String) throws(SystemError) {
    guard let pw = getpwnam(user) else { throw SystemError(call: "getpwnam(\(user))", errno: ENOENT) }
    let uid = pw.pointee.pw_uid
    let gid = pw.pointee.pw_gid
    _ = try retrying("initgroups") { initgroups(user, gid) }
    _ = try retrying("setgid") { setgid(gid) }
    _ = try retrying("setuid") { setuid(uid) }
}

/// True when the process may open raw sockets and capture (CAP_NET_RAW in its effective set).
/// The corresponding C function is `fopen` (of /proc/self/status), or `geteuid` when there is no /proc.
public func hasCapability(_ bit: Int) -> Bool {
    guard let f = fopen("/proc/self/status", "r") else { return geteuid() == 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = cString(line)
        if text.hasPrefix("CapEff:") {
            let hex = text.dropFirst(7).trimmingCharacters(in: " \t\n")
            guard let mask = UInt64(hex, radix: 16) else { return false }
            return mask & (1 << UInt64(bit)) != 0
        }
    }
    return geteuid() == 0
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

/// This process's effective group id (what net.ipv4.ping_group_range is checked
/// against). The corresponding C function is `getegid`.
public func effectiveGroupID() -> UInt32 { getegid() }
