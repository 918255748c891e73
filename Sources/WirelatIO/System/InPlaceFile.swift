@preconcurrency import Glibc

/// A small file rewritten in place with one pwrite(2) at offset 0, padded with spaces to a
/// whole number of 4 KiB pages: cheaper than a new file and a rename(2) each time, which
/// on tmpfs took hundreds of microseconds here. A reader may catch a write half-done, so
/// what is written must let it tell (the lab's status carries its sequence number at both
/// ends).
public final class InPlaceFile {
    public let path: String
    private let descriptor: FileDescriptor
    private var length = 0

    /// Creates `path` afresh. The corresponding C functions are `unlink` and `open`.
    public init(path: String) throws(SystemError) {
        self.path = path
        // A new inode rather than the old file's: a reader that still has the old one
        // open keeps what it had. A missing file is the usual case, not a failure.
        _ = unlink(path)
        descriptor = try FileDescriptor.open(path, O_RDWR | O_CREAT | O_TRUNC)
    }

    /// Writes `text`, padded. The corresponding C functions are `pwrite` and `ftruncate`.
    public func overwrite(_ text: String) throws(SystemError) {
        var bytes = Array(text.utf8)
        let padded = (bytes.count + 4095) / 4096 * 4096
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padded - bytes.count))
        let fd = descriptor.rawValue
        let written = try naming("pwrite(\(path))") { () throws(SystemError) in
            try retrying("pwrite") { bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        }
        guard written == padded else { throw SystemError(call: "pwrite(\(path)) short", errno: EIO) }
        if padded != length {
            _ = try naming("ftruncate(\(path))") { () throws(SystemError) in try retrying("ftruncate") { ftruncate(fd, off_t(padded)) } }
            length = padded
        }
    }
}
