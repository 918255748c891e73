@preconcurrency import Glibc

/// A file written through a buffer, for output produced a line at a time and in bulk
/// (`--samples`, one JSON line per RTT sample): the bytes go out in writes of about
/// `capacity`, not one per line.
public final class BufferedFileWriter {
    private let descriptor: FileDescriptor
    private let capacity: Int
    private var buffer: [UInt8] = []
    /// The first write that failed; what came after it was dropped.
    public private(set) var failure: SystemError?

    /// Creates or truncates `path`. The corresponding C function is `open`.
    public init(creating path: String, capacity: Int = 1 << 16) throws(SystemError) {
        descriptor = try FileDescriptor.create(path)
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    /// Appends `text`, writing the buffer out once it holds `capacity` bytes.
    public func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= capacity { flush() }
    }

    /// Appends one line: `text` and a newline.
    public func appendLine(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0A)
        if buffer.count >= capacity { flush() }
    }

    /// Writes out what is buffered; a failure is kept in `failure`. The corresponding C
    /// function is `write`.
    public func flush() {
        defer { buffer.removeAll(keepingCapacity: true) }
        guard failure == nil, !buffer.isEmpty else { return }
        do { try descriptor.writeAll(buffer) } catch { failure = error }
    }

    deinit { flush() }
}
