@preconcurrency import Glibc

/// Reads the whole of `path`: a regular file, or a pipe or a process substitution such
/// as `<(wirelat client ... --json -)`, read until its end. The corresponding C
/// functions are `open`, `read` and `close`.
public func readWholeFile(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = try retrying("open") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
    defer {
        // Only read from: a failed close loses nothing that was read.
        _ = Glibc.close(fd)
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try chunk.withUnsafeMutableBytes { b in
            Result { () throws(SystemError) in try retrying("read") { Glibc.read(fd, b.baseAddress, b.count) } }
        }.get()
        if n == 0 { return bytes }
        bytes.append(contentsOf: chunk[..<n])
    }
}

extension SystemError {
    /// The path does not exist (ENOENT).
    public var isNoSuchFile: Bool { errno == ENOENT }

    /// The path is a directory where a file was wanted (EISDIR).
    public var isDirectory: Bool { errno == EISDIR }
}
