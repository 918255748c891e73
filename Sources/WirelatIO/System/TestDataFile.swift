@preconcurrency import Glibc

/// The file a `--write` test's messages are appended to (oratcptest's disk write),
/// removed when the test is over so a server leaves nothing behind on its disk.
public final class TestDataFile {
    public let path: String
    public let descriptor: FileDescriptor
    /// Bytes the kernel accepted, so far.
    public private(set) var bytesWritten: UInt64 = 0
    private var removed = false

    /// Creates (or truncates) `path` for writing. The corresponding C function is `open`.
    public init(creating path: String) throws(SystemError) {
        let fd = try retrying("open") { Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        self.path = path
        descriptor = FileDescriptor(owning: fd)
    }

    /// Appends all of `chunk`.
    /// The corresponding C function is `write`.
    public func write(_ chunk: UnsafeRawBufferPointer) throws(SystemError) {
        try descriptor.writeAll(chunk)
        bytesWritten += UInt64(chunk.count)
    }

    /// The fsync(2) of this file, to run on a `BlockingCallPool` thread: it returns fsync's
    /// result, -1 with `errno` set on failure. Whoever submits it keeps this object alive
    /// until it completes, so the descriptor stays open meanwhile.
    public var fsyncCall: BlockingCallPool.Call {
        let fd = descriptor.rawValue
        return { Int64(Glibc.fsync(fd)) }
    }

    /// Removes the file's name; its space is freed once the descriptor closes (an fsync
    /// still running keeps it open until it returns). Once only. The corresponding C
    /// function is `unlink`; its failure (the directory removed under the server, say)
    /// leaves nothing more to clean up, so it is not reported.
    public func remove() {
        guard !removed else { return }
        removed = true
        _ = Glibc.unlink(path)
    }

    deinit { remove() }
}
