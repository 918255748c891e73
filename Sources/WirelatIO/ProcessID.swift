@preconcurrency import Glibc

/// This process's id. The corresponding C function is `getpid`, which cannot fail.
public func currentProcessID() -> pid_t {
    getpid()
}
