@preconcurrency import Glibc
import CWirelatShim

/// The one owner of a file descriptor: it is closed when the owner goes away.
///
/// A noncopyable struct rather than a class, as swift-system's would be if it owned:
/// the number cannot be copied into a second owner, and a class that needs to close
/// early or share it (a socket registered with the event loop, the loop itself) holds
/// it as a stored property, optional when it may close before the class goes. Every
/// descriptor wirelat opens (files, pipes, sockets, epoll, timerfd, eventfd, TUN) is
/// held by one of these.
public struct FileDescriptor: ~Copyable {
    /// The descriptor number, lent for a call; it is not ours once the owner is gone.
    public let rawValue: CInt

    /// Takes ownership of `rawValue`.
    public init(owning rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// Closes the descriptor. The corresponding C function is `close`; it is never
    /// retried (Linux releases the number even when it fails with EINTR), and a failure
    /// here has no one to report to: a caller who must know whether buffered bytes
    /// reached the file calls `close()` instead.
    deinit {
        _ = Glibc.close(rawValue)
    }

    /// Hands the descriptor to the caller, who must close it.
    public consuming func release() -> CInt {
        let fd = rawValue
        discard self
        return fd
    }

    /// Closes now and reports a failure (NFS or a full quota may say only here that
    /// written bytes were lost). Never retried. The corresponding C function is `close`.
    public consuming func close() throws(SystemError) {
        let fd = release()
        if Glibc.close(fd) != 0 { throw SystemError(call: "close", errno: Glibc.errno) }
    }

    /// Opens `path`. The corresponding C function is `open`; `O_CLOEXEC` is always added.
    public static func open(_ path: String, _ flags: CInt, permissions: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        let fd = try naming("open(\(path))") { () throws(SystemError) in
            try retrying("open") { Glibc.open(path, flags | O_CLOEXEC, permissions) }
        }
        return FileDescriptor(owning: fd)
    }

    /// Creates or truncates `path` for writing. The corresponding C function is `open`.
    public static func create(_ path: String) throws(SystemError) -> FileDescriptor {
        try open(path, O_WRONLY | O_CREAT | O_TRUNC)
    }

    /// Writes all of `bytes`, however many calls it takes. The corresponding C function is `write`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        try WirelatIO.writeAll(rawValue, bytes)
    }

    /// Writes all of `bytes`. The corresponding C function is `write`.
    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var failure: SystemError?
        bytes.withUnsafeBytes { b in
            do throws(SystemError) { try WirelatIO.writeAll(rawValue, b) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Reads what is there, at most `buffer.count` bytes; 0 is end of file. The
    /// corresponding C function is `read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retrying("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Reads what is there, at most `count` bytes; empty at end of file. The corresponding
    /// C function is `read`.
    public func read(upTo count: Int) throws(SystemError) -> [UInt8] {
        var failure: SystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(SystemError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// A second descriptor for the same open file, close-on-exec. The corresponding C
    /// function is `fcntl(F_DUPFD_CLOEXEC)`.
    public func duplicate() throws(SystemError) -> FileDescriptor {
        FileDescriptor(owning: try retrying("fcntl(F_DUPFD_CLOEXEC)") { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }

    /// Waits up to `timeoutMilliseconds` for the descriptor to become readable; true if it
    /// did. The corresponding C function is `poll`.
    public func waitReadable(timeoutMilliseconds: Int) throws(SystemError) -> Bool {
        try WirelatIO.waitReadable(rawValue, timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// Writes all of `bytes` to the blocking descriptor `fd`, however many calls it takes:
/// the one loop over short writes. The corresponding C function is `write`.
public func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
    var written = 0
    try writeAll(fd, bytes, written: &written)
}

/// As `writeAll(_:_:)`, counting in `written` the bytes the kernel took, so that a caller
/// whose write failed part-way knows where the file ends (`PcapDumper` cuts it back to
/// its last whole record). A write that takes nothing fails with EIO rather than loop.
public func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, written: inout Int) throws(SystemError) {
    while written < bytes.count {
        let start = written
        let n = try retrying("write") { Glibc.write(fd, bytes.baseAddress! + start, bytes.count - start) }
        if n == 0 { throw SystemError(call: "write", errno: EIO) }
        written += n
    }
}

/// The two ends of a pipe, both close-on-exec from the start. A child that should
/// inherit an end gets it through `ChildStreams`, which dup2s it into place. Frozen, so a
/// caller in another module may take the two ends apart.
@frozen
public struct Pipe: ~Copyable {
    public var readEnd: FileDescriptor
    public var writeEnd: FileDescriptor

    /// The corresponding C function is `pipe2(O_CLOEXEC)`.
    public init() throws(SystemError) {
        var ends: [CInt] = [-1, -1]
        _ = try retrying("pipe2") { wl_pipe2_cloexec(&ends) }
        readEnd = FileDescriptor(owning: ends[0])
        writeEnd = FileDescriptor(owning: ends[1])
    }
}
