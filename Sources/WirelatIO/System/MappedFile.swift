@preconcurrency import Glibc
import CWirelatShim

/// A regular file mapped read-only into memory, unmapped on deinit. Whatever is
/// read from `bytes` borrows the mapping, so it must not outlive this object.
///
/// The pages are the page cache's own: nothing is copied, and a file larger than
/// memory is read a window at a time as the kernel pages it in and out. A file
/// truncated by another process while mapped would raise SIGBUS on the next access
/// past its new end; the mapping is guarded, so such a page reads as zeros instead
/// and is counted in ``faults``, which a reader checks before it trusts what it read.
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
            return MappedFile(bytes: UnsafeRawBufferPointer(start: nil, count: 0), slot: -1, descriptor: nil)
        }
        let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0)
        if address == MAP_FAILED {
            throw SystemError(call: "mmap", errno: errno)
        }
        guard let address else { throw SystemError(call: "mmap", errno: EINVAL) }
        // Read-ahead for a front-to-back pass; pages behind are dropped first. Only advice:
        // should the kernel refuse it, the file is read all the same.
        _ = madvise(address, length, MADV_SEQUENTIAL)
        let slot = wl_mapping_guard(address, length)
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        if slot < 0 || copy < 0 {
            wl_mapping_unguard(slot)
            if copy >= 0 { _ = FileDescriptor(owning: copy) }
            // munmap of a mapping just made cannot fail.
            _ = munmap(address, length)
            return nil
        }
        return MappedFile(bytes: UnsafeRawBufferPointer(start: address, count: length), slot: slot, descriptor: FileDescriptor(owning: copy))
    }

    /// Opens `path` read-only and maps it. nil when it is not a regular file.
    /// The corresponding C function is `open`.
    public static func map(path: String) throws(SystemError) -> MappedFile? {
        let fd = FileDescriptor(owning: try retrying("open") { open(path, O_RDONLY | O_CLOEXEC) })
        return try map(descriptor: fd.rawValue)
    }

    private init(bytes: UnsafeRawBufferPointer, slot: CInt, descriptor: consuming FileDescriptor?) {
        self.bytes = bytes
        self.slot = slot
        descriptorNumber = descriptor?.rawValue ?? -1
        self.descriptor = descriptor
        touchBeyond = bytes.count > 0 ? -Self.pageSize : .max
    }

    /// The SIGBUS guard's slot for this mapping.
    private let slot: CInt
    /// A copy of the file's descriptor, for the length check of ``isIntact(through:)``;
    /// nil for an empty file.
    private let descriptor: FileDescriptor?
    private let descriptorNumber: CInt
    /// Pages before this offset have been read once by ``isIntact(through:)``.
    private var touchedUpTo = 0
    /// ``isIntact(through:)`` reads more pages for an `end` past this offset (the page
    /// after `end` not read yet); `Int.max` once every page has been read. One compare a
    /// packet, with no look-up of the page size (a lazily made global, behind `swift_once`).
    private var touchBeyond: Int
    /// Set when the file was found shorter than the mapping.
    private var shrank = false

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Pages that vanished under the mapping (the file shrank) and were read as zeros.
    @inline(__always)
    public var faults: UInt { UInt(wl_mapping_faults(slot)) }

    /// Whether the bytes before `end`, which a front-to-back reader is about to hand
    /// over, are the file's. Each page up to the one after `end` is read once, so that
    /// a page past a shrunken file's end faults now (counted in ``faults``) rather than
    /// reading as zeros in a decoder; the page after matters because the page a shrunken
    /// file ends in reads as zeros past its end without a fault. For the same reason
    /// the file's length is checked (`fstat`) once, when the pages read reach the
    /// mapping's end.
    @inline(__always)
    public func isIntact(through end: Int) -> Bool {
        if end > touchBeyond { touch(through: end) }
        return !shrank && faults == 0
    }

    private func touch(through end: Int) {
        guard let base = bytes.baseAddress else { return }
        let limit = min(end + Self.pageSize, bytes.count)
        if limit > populatedUpTo { populate(base, from: touchedUpTo) }
        while touchedUpTo < limit {
            wl_touch(base + touchedUpTo)
            touchedUpTo += Self.pageSize
        }
        touchBeyond = touchedUpTo < bytes.count ? touchedUpTo - Self.pageSize : .max
        if touchedUpTo >= bytes.count {
            var status = stat()
            shrank = fstat(descriptorNumber, &status) != 0 || Int(status.st_size) < bytes.count
        }
    }

    /// Pages before this offset have had their page-table entries made in one call.
    private var populatedUpTo = 0
    /// How far ahead ``populate(_:from:)`` maps pages in.
    static let populateWindow = 1 << 20

    /// Maps in the page-table entries of the next ``populateWindow`` bytes from `offset`
    /// in one call, so the reads of ``touch(through:)`` find their pages present instead
    /// of taking a fault every few pages. The reads still happen: a page that vanishes
    /// between the two (a file truncated meanwhile) faults on its read and is counted.
    /// Only advice: a kernel without MADV_POPULATE_READ (before Linux 5.14), or a range
    /// the file no longer covers, leaves the faults to the reads.
    /// The corresponding C function is `madvise(MADV_POPULATE_READ)`.
    private func populate(_ base: UnsafeRawPointer, from offset: Int) {
        let start = offset & ~(Self.pageSize - 1)
        let end = min(start + Self.populateWindow, bytes.count)
        populatedUpTo = end
        guard end > start else { return }
        _ = wl_madvise_populate_read(UnsafeMutableRawPointer(mutating: base + start), end - start)
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
        let page = Self.pageSize
        let start = UInt(bitPattern: base) + UInt(releasedUpTo)
        let end = (UInt(bitPattern: base) + UInt(min(max(0, offset), bytes.count))) & ~UInt(page - 1)
        let alignedStart = (start + UInt(page - 1)) & ~UInt(page - 1)
        guard end > alignedStart else { return }
        // Only a saving: pages the kernel keeps mapped are read the same.
        _ = madvise(UnsafeMutableRawPointer(bitPattern: alignedStart), Int(end - alignedStart), MADV_DONTNEED)
        releasedUpTo = Int(end - UInt(bitPattern: base))
    }

    deinit {
        wl_mapping_unguard(slot)
        if let base = bytes.baseAddress {
            // munmap of our own whole mapping cannot fail.
            _ = munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
