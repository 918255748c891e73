import Foundation
import Synchronization
@preconcurrency import Glibc
import WirelatIO

// Helpers shared by the WirelatIO and WirelatKit tests: bounded waits on a thread of
// their own, and raw loopback connections for speaking (and breaking) a protocol by hand.

/// A test's own failure, with what went wrong.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Resumes a continuation once, whoever comes first: the worker or the timeout.
private final class Once<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T?, Never>?>(nil)

    func arm(_ k: CheckedContinuation<T?, Never>) { continuation.withLock { $0 = k } }

    func resume(_ value: T?) {
        let k = continuation.withLock { c -> CheckedContinuation<T?, Never>? in
            let k = c
            c = nil
            return k
        }
        k?.resume(returning: value)
    }
}

/// Runs `body` on a new thread; nil if it has not returned within `timeout`.
public func onThread<T: Sendable>(_ name: String, timeout: Duration, _ body: @escaping @Sendable () -> T) async -> T? {
    let once = Once<T>()
    let timer = Task {
        try? await Task.sleep(for: timeout)
        once.resume(nil)
    }
    defer { timer.cancel() }
    return await withCheckedContinuation { (k: CheckedContinuation<T?, Never>) in
        once.arm(k)
        let thread = Thread { once.resume(body()) }
        thread.name = name
        thread.start()
    }
}

// MARK: Raw loopback connections

/// A non-blocking TCPSocket driven with poll(2), every wait bounded.
public final class RawConnection {
    public let socket: TCPSocket

    /// Takes over a connected socket (an accepted one, say).
    public init(socket: TCPSocket) {
        self.socket = socket
    }

    /// Connects to `host`:`port`.
    public convenience init(port: UInt16, host: String = "127.0.0.1", timeoutMilliseconds: Int32 = 2000) throws {
        let address = try SocketAddress.resolve(host: host, port: port)
        let socket = try TCPSocket(family: address.family)
        let connected = try socket.startConnect(to: address)
        self.init(socket: socket)
        if !connected {
            guard poll(Int16(POLLOUT), timeoutMilliseconds) else { throw TestFailure("connect to \(address) timed out") }
            if let e = socket.pendingError() { throw e }
        }
    }

    /// True when the socket became ready for `events` within the timeout.
    public func poll(_ events: Int16, _ timeoutMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: socket.rawValue, events: events, revents: 0)
        while true {
            let r = Glibc.poll(&p, 1, timeoutMilliseconds)
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }

    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int32 = 2000) throws {
        var offset = 0
        while offset < bytes.count {
            let result = try bytes.withUnsafeBytes { b in
                try socket.write(UnsafeRawBufferPointer(rebasing: b[offset...]))
            }
            switch result {
            case .processed(let n): offset += n
            case .wouldBlock:
                guard poll(Int16(POLLOUT), timeoutMilliseconds) else { throw TestFailure("send timed out") }
            }
        }
    }

    /// Reads until `count` bytes arrived, the peer closed, or the timeout passed.
    public func read(count: Int, timeoutMilliseconds: Int32 = 2000) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicNanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while out.count < count {
            let now = monotonicNanoseconds()
            guard now < deadline, poll(Int16(POLLIN), Int32((deadline - now) / 1_000_000) + 1) else { break }
            let want = min(buffer.count, count - out.count)
            let result = try buffer.withUnsafeMutableBytes { b in try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<want])) }
            switch result {
            case .processed(0): return out
            case .processed(let n): out += buffer[0..<n]
            case .wouldBlock: continue
            }
        }
        return out
    }

    /// Reads everything until the peer closes (FIN or RST). `closed` is false if the
    /// connection was still open when the timeout passed.
    public func readUntilClosed(timeoutMilliseconds: Int32) -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicNanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while true {
            let now = monotonicNanoseconds()
            guard now < deadline, poll(Int16(POLLIN), Int32((deadline - now) / 1_000_000) + 1) else { return (out, false) }
            let result: IOResult<Int>
            do {
                result = try buffer.withUnsafeMutableBytes { b in try socket.read(into: b) }
            } catch {
                return (out, true) // reset
            }
            switch result {
            case .processed(0): return (out, true)
            case .processed(let n): out += buffer[0..<n]
            case .wouldBlock: continue
            }
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
public func closedPort() throws -> UInt16 {
    let address = try SocketAddress.resolve(host: "127.0.0.1", port: 0)
    let s = try TCPSocket.listen(on: address)
    guard let port = s.localAddress?.port else { throw TestFailure("a socket bound to 127.0.0.1 port 0 has no local port") }
    return port
}
