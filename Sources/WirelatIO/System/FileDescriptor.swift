@preconcurrency import Glibc

/// The one owner of a file descriptor: it is closed when the owner goes away.
public struct FileDescriptor: ~Copyable {
    public let rawValue: CInt

    public init(owning rawValue: CInt) {
        self.rawValue = rawValue
    }

    deinit {
        _ = Glibc.close(rawValue)
    }

    /// Hands the descriptor to the caller, who must close it.
    public consuming func release() -> CInt {
        let fd = rawValue
        discard self
        return fd
    }
}

/// A shareable owner of a descriptor, for places a noncopyable value cannot go
/// (optionals in classes, dictionaries). Closes it on deinit.
public final class DescriptorBox {
    public let fd: FileDescriptor
    public var rawValue: CInt { fd.rawValue }

    public init(owning rawValue: CInt) {
        fd = FileDescriptor(owning: rawValue)
    }
}
