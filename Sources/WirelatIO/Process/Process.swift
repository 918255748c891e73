@preconcurrency import Glibc

/// Writes all of `bytes` to a blocking descriptor. The corresponding C function is `write`.
public func writeFully(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
    var done = 0
    while done < bytes.count {
        done += try retrying("write") { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
    }
}

/// Writes bytes to standard output, whole. Returns false once the reader has
/// gone (EPIPE), so a pipe into `head` ends quietly.
@discardableResult
public func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) -> Bool {
    (try? writeFully(1, bytes)) != nil
}

/// Seconds east of UTC for the local zone at `secondsSinceEpoch` (tm_gmtoff).
public func localUTCOffset(at secondsSinceEpoch: Int64) -> Int {
    var t = time_t(secondsSinceEpoch)
    var parts = tm()
    guard localtime_r(&t, &parts) != nil else { return 0 }
    return parts.tm_gmtoff
}

/// The name of a network interface index (`if_indextoname`), nil if none.
public func interfaceName(index: UInt32) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(index, &buffer) != nil else { return nil }
    return cString(buffer)
}

/// Gives up root for `user` once privileged handles are open, as tcpdump's -Z does.
public func dropPrivileges(to user: String) throws(SystemError) {
    guard let pw = getpwnam(user) else { throw SystemError(call: "getpwnam(\(user))", errno: ENOENT) }
    let uid = pw.pointee.pw_uid
    let gid = pw.pointee.pw_gid
    _ = try retrying("initgroups") { initgroups(user, gid) }
    _ = try retrying("setgid") { setgid(gid) }
    _ = try retrying("setuid") { setuid(uid) }
}

/// True when the process may open raw sockets and capture (CAP_NET_RAW in its effective set).
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

/// Opens (creates or truncates) a file for writing; -1 on failure.
public func openForWriting(_ path: String) -> CInt {
    Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
}

/// Writes all of `bytes` to `fd` and empties it; false if the write failed.
@discardableResult
public func writeAll(_ fd: CInt, _ bytes: inout [UInt8]) -> Bool {
    let ok = bytes.withUnsafeBytes { (try? writeFully(fd, $0)) != nil }
    bytes.removeAll(keepingCapacity: true)
    return ok
}

public func closeDescriptor(_ fd: CInt) {
    _ = Glibc.close(fd)
}
