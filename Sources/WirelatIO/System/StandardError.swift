@preconcurrency import Glibc

/// Writes bytes to standard error, whole; false if the write failed. The corresponding
/// C function is `write`.
@discardableResult
public func writeStandardError(_ bytes: UnsafeRawBufferPointer) -> Bool {
    (try? writeAll(2, bytes)) != nil
}
