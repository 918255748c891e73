/// Bytes queued for a non-blocking TCP socket, written as far as the socket takes them;
/// the rest waits for the next writable event.
public struct PendingOutput {
    private var bytes: [UInt8] = []
    private var offset = 0
    /// Whether the emptied buffer keeps its storage for the next answer (a connection that
    /// answers all its life) or gives it back (one that answers seldom).
    private let keepsCapacity: Bool

    public init(reservingCapacity capacity: Int = 0, keepsCapacity: Bool = true) {
        bytes.reserveCapacity(capacity)
        self.keepsCapacity = keepsCapacity
    }

    /// Whether anything is still to be written.
    public var isPending: Bool { offset < bytes.count }
    /// How many bytes are still to be written.
    public var count: Int { bytes.count - offset }

    public mutating func append(_ byte: UInt8) { bytes.append(byte) }
    public mutating func append(contentsOf more: some Sequence<UInt8>) { bytes.append(contentsOf: more) }

    /// Writes what is queued until done or the socket would block.
    public mutating func flush(to socket: TCPSocket) throws(SystemError) {
        while offset < bytes.count {
            let from = offset
            let result = try bytes.withUnsafeBytes { b in
                Result { () throws(SystemError) in try socket.write(UnsafeRawBufferPointer(rebasing: b[from...])) }
            }.get()
            guard case .processed(let n) = result else { break }
            offset += n
        }
        if offset == bytes.count {
            if keepsCapacity { bytes.removeAll(keepingCapacity: true) } else { bytes = [] }
            offset = 0
        }
    }
}
