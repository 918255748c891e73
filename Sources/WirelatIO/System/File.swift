@preconcurrency import Glibc

/// Why `path` cannot be written as an output file, or nil when it can.
///
/// Commands ask this for every output path before they measure anything, so a typo in
/// `--json` costs a second, not the test. An existing regular file is opened for
/// writing without truncating it; a missing one is created and removed again (the only
/// sure test of a directory: root passes every permission check, yet `/proc` and a
/// read-only file system refuse). Other existing files (`/dev/null`, a FIFO, `/dev/stdout`)
/// are accepted as they are: opening a FIFO would wait for its reader.
/// The corresponding C functions are `stat`, `open` and `unlink`.
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
            _ = FileDescriptor(owning: fd)
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
    _ = FileDescriptor(owning: fd)
    // The probe file is ours and empty; should it stay (the directory made read-only
    // meanwhile), the command's own write replaces it.
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
    let fd = FileDescriptor(owning: try retrying("open") { Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) })
    try fd.writeAll(bytes)
    try fd.close()
}

/// Writes bytes to standard output, whole. Returns false once the reader has
/// gone (EPIPE), so a pipe into `head` ends quietly. The corresponding C function is `write`.
@discardableResult
public func writeStandardOutput(_ bytes: UnsafeRawBufferPointer) -> Bool {
    (try? writeAll(1, bytes)) != nil
}

/// A whole small file (at most 1 MiB) as text, nil if it cannot be read. The
/// corresponding C functions are `open` and `read`.
public func readSmallFile(_ path: String) -> String? {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    let file = FileDescriptor(owning: fd)
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while bytes.count < 1 << 20 {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(file.rawValue, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path` through a temporary file and rename(2), so a reader sees the
/// old contents or the new, never a mix. The corresponding C functions are `open`,
/// `write`, `close` and `rename`.
public func replaceFile(_ path: String, with text: String) throws(SystemError) {
    let temporary = path + ".tmp"
    let fd = try FileDescriptor.create(temporary)
    do { try fd.writeAll(Array(text.utf8)) } catch { throw SystemError(call: "write(\(temporary))", errno: error.errno) }
    do { try fd.close() } catch { throw SystemError(call: "close(\(temporary))", errno: error.errno) }
    _ = try naming("rename(\(temporary))") { () throws(SystemError) in try retrying("rename") { rename(temporary, path) } }
}

/// True when `path` is a directory this process may write into. The corresponding C
/// functions are `stat` and `access`.
public func isWritableDirectory(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
    return access(path, W_OK) == 0
}

/// True when `path` exists (whatever this process may do with it). The corresponding C
/// function is `access(F_OK)`.
public func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// What `isAccessible` asks of a file, as access(2)'s mode.
public struct FileAccess: OptionSet, Sendable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }
    public static let read = FileAccess(rawValue: R_OK)
    public static let write = FileAccess(rawValue: W_OK)
    public static let execute = FileAccess(rawValue: X_OK)
}

/// True when this process may do all of `mode` with `path`. The corresponding C function
/// is `access`.
public func isAccessible(_ path: String, _ mode: FileAccess) -> Bool {
    access(path, mode.rawValue) == 0
}

/// Makes `path` and any missing directory above it (`mkdir -p`). The corresponding C
/// function is `mkdir`.
public func createDirectories(_ path: String, permissions: mode_t = 0o755) throws(SystemError) {
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if mkdir(prefix, permissions) != 0 {
            let code = errno
            var info = stat()
            if code == EEXIST && stat(prefix, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR { continue }
            throw SystemError(call: "mkdir(\(prefix))", errno: code)
        }
    }
}

/// Removes `path` and, for a directory, everything in it (`rm -r`); a missing `path` is
/// no error. The corresponding C functions are `unlink` and `rmdir`.
public func removeTree(_ path: String) throws(SystemError) {
    var info = stat()
    if lstat(path, &info) != 0 {
        if errno == ENOENT { return }
        throw SystemError(call: "lstat(\(path))", errno: errno)
    }
    if info.st_mode & S_IFMT == S_IFDIR {
        for name in try directoryEntries(path) { try removeTree(path + "/" + name) }
        _ = try naming("rmdir(\(path))") { () throws(SystemError) in try retrying("rmdir") { rmdir(path) } }
    } else {
        _ = try naming("unlink(\(path))") { () throws(SystemError) in try retrying("unlink") { unlink(path) } }
    }
}

/// The names in the directory `path`, without `.` and `..`. The corresponding C functions
/// are `opendir` and `readdir`.
public func directoryEntries(_ path: String) throws(SystemError) -> [String] {
    guard let dir = opendir(path) else { throw SystemError(call: "opendir(\(path))", errno: errno) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// What identifies a version of a file cheaply: its modification time (ns), size and
/// inode; nil when it cannot be read. The corresponding C function is `stat`.
public func fileVersion(_ path: String) -> [Int64]? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return [Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec), Int64(st.st_size), Int64(bitPattern: UInt64(st.st_ino))]
}
