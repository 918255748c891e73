@preconcurrency import Glibc

/// A failed system call: the call's name and the `errno` it left.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let errno: CInt

    public init(call: String, errno: CInt) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(reason)"
    }

    /// The C library's text for `errno` alone ("No space left on device").
    public var reason: String { String(cString: strerror(errno)) }

    /// True for the errors that mean the peer went away.
    public var isConnectionLoss: Bool {
        errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN || errno == ETIMEDOUT
            || errno == ECONNABORTED || errno == EHOSTUNREACH || errno == ENETUNREACH
    }

    /// True for the errors that mean this process lacks a privilege.
    public var isPermission: Bool { errno == EPERM || errno == EACCES }
}

/// The outcome of a non-blocking call: done, or it would have blocked (EAGAIN).
public enum IOResult<T> {
    case processed(T)
    case wouldBlock
}

/// Runs a system call, reading `errno` at once, retrying EINTR and throwing
/// everything else. Never use it for `close`.
@inline(__always)
public func retrying<T: FixedWidthInteger>(_ call: StaticString, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(call: "\(call)", errno: code)
    }
}

/// As `retrying`, with EAGAIN/EWOULDBLOCK returned as `.wouldBlock`.
@inline(__always)
public func retryingNonBlocking<T: FixedWidthInteger>(_ call: StaticString, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let r = body()
        if r != -1 { return .processed(r) }
        let code = Glibc.errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        throw SystemError(call: "\(call)", errno: code)
    }
}

/// Runs `body`, giving a failure the more telling name `call` (with a path or a name in it,
/// which `retrying`'s static name cannot hold).
@inline(__always)
public func naming<T>(_ call: @autoclosure () -> String, _ body: () throws(SystemError) -> T) throws(SystemError) -> T {
    do {
        return try body()
    } catch {
        throw SystemError(call: call(), errno: error.errno)
    }
}

/// The `errno` values callers above WirelatIO test for, named as swift-system's `Errno`
/// names them, so those callers need not import Glibc.
public enum Errno {
    public static let interrupted: CInt = EINTR
    public static let ioError: CInt = EIO
    public static let noSpace: CInt = ENOSPC
    public static let tooManyOpenFiles: CInt = EMFILE
    public static let tooManyOpenFilesInSystem: CInt = ENFILE
    public static let addressFamilyNotSupported: CInt = EAFNOSUPPORT
    public static let addressInUse: CInt = EADDRINUSE
    public static let connectionRefused: CInt = ECONNREFUSED
    public static let timedOut: CInt = ETIMEDOUT

    /// The C library's text for `code` ("Connection refused"). The corresponding C
    /// function is `strerror`.
    public static func description(_ code: CInt) -> String { String(cString: strerror(code)) }
}
