@preconcurrency import Glibc

/// Reads the whole of `path`, or its first `limit` bytes: a regular file, or a pipe or a
/// process substitution such as `<(wirelat client ... --json -)`, read until its end.
/// The corresponding C functions are `open`, `read` and `close`.
public func readWholeFile(_ path: String, limit: Int = .max) throws(SystemError) -> [UInt8] {
    let fd = FileDescriptor(owning: try retrying("open") { Glibc.open(path, O_RDONLY | O_CLOEXEC) })
    var bytes: [UInt8] = []
    while bytes.count < limit {
        let chunk = try fd.read(upTo: min(1 << 16, limit - bytes.count))
        if chunk.isEmpty { break }
        bytes.append(contentsOf: chunk)
    }
    return bytes
}

extension SystemError {
    /// The path does not exist (ENOENT).
    public var isNoSuchFile: Bool { errno == ENOENT }

    /// The path is a directory where a file was wanted (EISDIR).
    public var isDirectory: Bool { errno == EISDIR }
}
