@preconcurrency import Glibc

/// Reads the whole of `path`: a regular file, or a pipe or a process substitution such
/// as `<(wirelat client ... --json -)`, read until its end. The corresponding C
/// functions are `open`, `read` and `close`.
public func readWholeFile(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = FileDescriptor(owning: try retrying("open") { Glibc.open(path, O_RDONLY | O_CLOEXEC) })
    var bytes: [UInt8] = []
    while true {
        let chunk = try fd.read(upTo: 1 << 16)
        if chunk.isEmpty { return bytes }
        bytes.append(contentsOf: chunk)
    }
}

extension SystemError {
    /// The path does not exist (ENOENT).
    public var isNoSuchFile: Bool { errno == ENOENT }

    /// The path is a directory where a file was wanted (EISDIR).
    public var isDirectory: Bool { errno == EISDIR }
}
