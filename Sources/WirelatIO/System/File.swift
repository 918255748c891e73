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

/// Writes all of `bytes` to a blocking descriptor. The corresponding C function is `write`.
public func writeFully(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
    var done = 0
    while done < bytes.count {
        done += try retrying("write") { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
    }
}

/// Writes bytes to standard output, whole. Returns false once the reader has
/// gone (EPIPE), so a pipe into `head` ends quietly.
@discardableResult
public func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) -> Bool {
    (try? writeFully(1, bytes)) != nil
}

/// Opens (creates or truncates) a file for writing; -1 on failure.
public func openForWriting(_ path: String) -> CInt {
    Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
}

/// Writes all of `bytes` to `fd` and empties it; false if the write failed.
@discardableResult
public func writeAll(_ fd: CInt, _ bytes: inout [UInt8]) -> Bool {
    let ok = bytes.withUnsafeBytes { (try? writeFully(fd, $0)) != nil }
    bytes.removeAll(keepingCapacity: true)
    return ok
}

public func closeDescriptor(_ fd: CInt) {
    _ = Glibc.close(fd)
}

/// A whole small file (at most 1 MiB) as text, nil if it cannot be read.
public func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while bytes.count < 1 << 20 {
        let n = Glibc.read(fd, &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path` through a temporary file and rename(2), so a reader sees the
/// old contents or the new, never a mix.
public func replaceFile(_ path: String, with text: String) throws(SystemError) {
    let temporary = path + ".tmp"
    let fd = try naming("open(\(temporary))") { () throws(SystemError) in
        try retrying("open") { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    }
    var bytes = Array(text.utf8)
    let count = bytes.count
    var done = 0
    while done < count {
        let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, count - done) }
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            _ = close(fd)
            throw SystemError(call: "write(\(temporary))", errno: code)
        }
        done += n
    }
    bytes.removeAll()
    _ = close(fd)
    _ = try naming("rename(\(temporary))") { () throws(SystemError) in try retrying("rename") { rename(temporary, path) } }
}

/// True when `path` is a directory this process may write into.
public func isWritableDirectory(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
    return access(path, W_OK) == 0
}
