@preconcurrency import Glibc
import CWirelatShim

/// Named network namespaces, as iproute2 keeps them: `ip netns add NAME` bind-mounts a
/// namespace at `/run/netns/NAME` (ip-netns(8)); opening that file and calling setns(2)
/// with `CLONE_NEWNET` moves a thread into it.
public enum NetworkNamespace {
    public static let directory = "/run/netns"

    public static func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// True when `/run/netns/NAME` exists.
    /// The corresponding C function is `access`.
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

    /// Sets the sysctl `key` (as sysctl(8) names it, `net.ipv4.ip_forward`) to `value` in the
    /// namespace `name`: /proc/sys/net shows the network namespace of the thread that opens
    /// it, so the file is opened and written from within. The corresponding C functions are
    /// `setns`, `open` and `write`.
    public static func setSysctl(_ key: String, _ value: String, in name: String) throws(SystemError) {
        let path = "/proc/sys/" + key.replacing(".", with: "/")
        try within(name) { () throws(SystemError) in
            let file = try FileDescriptor.open(path, O_WRONLY)
            try naming("write(\(path))") { () throws(SystemError) in try file.writeAll(Array("\(value)\n".utf8)) }
        }
    }

    /// Replaces this process with `arguments` (looked up in PATH) running in the namespace
    /// `name`, as `ip netns exec NAME` does (without its /etc/netns bind mounts and /sys
    /// remount). Returns only on failure. The corresponding C functions are `setns` and
    /// `execvp`.
    public static func exec(in name: String, _ arguments: [String]) -> SystemError {
        precondition(!arguments.isEmpty, "exec needs a command")
        do {
            let namespace = try FileDescriptor.open(path(name), O_RDONLY)
            if wl_setns_net(namespace.rawValue) != 0 { return SystemError(call: "setns(\(name))", errno: errno) }
        } catch {
            return error
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execvp(arguments[0], &argv)
        let code = errno
        for p in argv { free(p) }
        return SystemError(call: "execvp(\(arguments[0]))", errno: code)
    }
}
