@preconcurrency import Glibc

/// The value of environment variable `name`, or nil when it is not set.
/// The corresponding C function is `getenv`.
public func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
