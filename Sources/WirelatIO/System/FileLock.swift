@preconcurrency import Glibc

/// An exclusive flock(2) on a file, held as long as this object lives (the lock goes
/// with the descriptor, and closing it releases the lock).
public final class FileLock {
    private let descriptor: FileDescriptor

    /// Opens (creating) `path` and takes the lock, waiting for another holder. The
    /// corresponding C functions are `open` and `flock(LOCK_EX)`.
    public init(_ path: String) throws(SystemError) {
        let fd = try FileDescriptor.open(path, O_RDWR | O_CREAT)
        _ = try naming("flock(\(path))") { () throws(SystemError) in try retrying("flock") { flock(fd.rawValue, LOCK_EX) } }
        descriptor = fd
    }
}
