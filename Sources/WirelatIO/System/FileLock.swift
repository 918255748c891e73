@preconcurrency import Glibc

/// Opens (creating) `path` and takes an exclusive flock(2) on it, waiting for another
/// holder; the lock goes with the returned descriptor.
public func lockExclusively(_ path: String) throws(SystemError) -> DescriptorBox {
    let fd = try naming("open(\(path))") { () throws(SystemError) in
        try retrying("open") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
    }
    let box = DescriptorBox(owning: fd)
    _ = try naming("flock(\(path))") { () throws(SystemError) in try retrying("flock") { flock(fd, LOCK_EX) } }
    return box
}
