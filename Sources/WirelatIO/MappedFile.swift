@preconcurrency import Glibc

/// A regular file mapped read-only into memory, unmapped on deinit. Whatever is
/// read from `bytes` borrows the mapping, so it must not outlive this object.
///
/// The pages are the page cache's own: nothing is copied, and a file larger than
/// memory is read a window at a time as the kernel pages it in and out. A file
/// truncated by another process while mapped raises SIGBUS on the next access
/// past its new end, as for any file mapping.
public final class MappedFile {
    public let bytes: UnsafeRawBufferPointer

    /// Maps the regular file open on `descriptor`, from its first byte to the
    /// size `fstat` reports. The descriptor stays the caller's and may be closed
    /// afterwards. nil when the descriptor is not a regular file (a pipe, a FIFO,
    /// a terminal, a socket), whose bytes can only be read once, in order.
    /// The corresponding C functions are `fstat` and `mmap`.
    public static func map(descriptor: CInt) throws(SystemError) -> MappedFile? {
        var status = stat()
        _ = try retrying("fstat") { fstat(descriptor, &status) }
        guard status.st_mode & S_IFMT == S_IFREG else { return nil }
        guard let length = Int(exactly: status.st_size), length > 0 else {
            // mmap refuses a zero length; an empty file is an empty buffer.
            return MappedFile(bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0)
        if address == MAP_FAILED {
            throw SystemError(call: "mmap", errno: errno)
        }
        guard let address else { throw SystemError(call: "mmap", errno: EINVAL) }
        // Read-ahead for a front-to-back pass; pages behind are dropped first.
        _ = madvise(address, length, MADV_SEQUENTIAL)
        return MappedFile(bytes: UnsafeRawBufferPointer(start: address, count: length))
    }

    /// Opens `path` read-only and maps it. nil when it is not a regular file.
    /// The corresponding C function is `open`.
    public static func map(path: String) throws(SystemError) -> MappedFile? {
        let fd = FileDescriptor(owning: try retrying("open") { open(path, O_RDONLY | O_CLOEXEC) })
        return try map(descriptor: fd.rawValue)
    }

    private init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Bytes before this offset have been handed back to the kernel.
    private var releasedUpTo = 0

    /// Drops this process's mapping of the pages wholly before `offset`, which a
    /// front-to-back reader is done with, so they stop counting toward its resident
    /// set; the file's pages stay in the page cache, and reading them again (a
    /// `CapturedPacket` must not be kept that long) would fault them back in.
    /// The corresponding C function is `madvise(MADV_DONTNEED)`.
    public func release(before offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = UInt(bitPattern: base) + UInt(releasedUpTo)
        let end = (UInt(bitPattern: base) + UInt(min(max(0, offset), bytes.count))) & ~UInt(page - 1)
        let alignedStart = (start + UInt(page - 1)) & ~UInt(page - 1)
        guard end > alignedStart else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: alignedStart), Int(end - alignedStart), MADV_DONTNEED)
        releasedUpTo = Int(end - UInt(bitPattern: base))
    }

    deinit {
        if let base = bytes.baseAddress {
            _ = munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
