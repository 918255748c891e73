@preconcurrency import Glibc

/// Why `path` cannot be written as an output file, or nil when it can.
///
/// Commands ask this for every output path before they measure anything, so a typo in
/// `--json` costs a second, not the test. An existing regular file is opened for
/// writing without truncating it; a missing one is created and removed again (the only
/// sure test of a directory: root passes every permission check, yet `/proc` and a
/// read-only file system refuse). Other existing files (`/dev/null`, a FIFO, `/dev/stdout`)
/// are accepted as they are: opening a FIFO would wait for its reader.
public func outputFileProblem(_ path: String) -> String? {
    if path.isEmpty { return "the path is empty" }
    var info = stat()
    if stat(path, &info) == 0 {
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            return "it is a directory"
        case S_IFREG:
            let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK)
            if fd < 0 { return String(cString: strerror(errno)) }
            _ = Glibc.close(fd)
            return nil
        default:
            return nil
        }
    }
    let statError = errno
    guard statError == ENOENT else { return String(cString: strerror(statError)) }
    let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    if fd < 0 {
        let openError = errno
        let directory = parentDirectory(of: path)
        if openError == ENOENT {
            var parent = stat()
            if stat(directory, &parent) != 0 { return "the directory \(directory) does not exist" }
            return "\(directory) does not take new files (\(String(cString: strerror(openError))))"
        }
        return String(cString: strerror(openError))
    }
    _ = Glibc.close(fd)
    _ = unlink(path)
    return nil
}

/// The directory part of `path`: `.` for a bare name, `/` for a file at the root.
private func parentDirectory(of path: String) -> String {
    var p = Substring(path)
    while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
    guard let slash = p.lastIndex(of: "/") else { return "." }
    let head = p[..<slash]
    return head.isEmpty ? "/" : String(head)
}

/// Creates or truncates `path` and writes all of `bytes` to it. The corresponding C
/// functions are `open`, `write` and `close`; a failed `close` (NFS, a full quota) is
/// reported too, since the bytes may not have reached the file.
public func writeFile(_ bytes: UnsafeRawBufferPointer, to path: String) throws(SystemError) {
    let fd = try retrying("open") { Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    do {
        try writeFully(fd, bytes)
    } catch {
        _ = Glibc.close(fd)
        throw error
    }
    if Glibc.close(fd) != 0 { throw SystemError(call: "close", errno: errno) }
}
