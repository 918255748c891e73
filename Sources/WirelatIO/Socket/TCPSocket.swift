@preconcurrency import Glibc
import CWirelatShim

/// A non-blocking, close-on-exec TCP socket and the calls made on it.
public final class TCPSocket {
    /// The owner; nil once closed.
    private var descriptor: FileDescriptor?
    /// The descriptor's number, lent for event-loop registration and calls; -1 once closed.
    public private(set) var rawValue: CInt

    init(owning raw: CInt) {
        descriptor = FileDescriptor(owning: raw)
        rawValue = raw
    }

    /// Closes now rather than when the last reference goes. Deregister from the loop first.
    /// The corresponding C function is `close`.
    public func close() {
        descriptor = nil
        rawValue = -1
    }

    /// A new socket of the address's family. The corresponding C function is `socket`.
    public convenience init(family: CInt) throws(SystemError) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let raw = try retrying("socket") { Glibc.socket(family, type, 0) }
        self.init(owning: raw)
    }

    /// A listening socket with SO_REUSEADDR. The corresponding C functions are `bind` and `listen`.
    public static func listen(on address: SocketAddress, backlog: CInt = 4096) throws(SystemError) -> TCPSocket {
        let s = try TCPSocket(family: address.family)
        try s.setOption(SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)")
        _ = try retrying("bind") { address.withSockaddr { Glibc.bind(s.rawValue, $0, $1) } }
        _ = try retrying("listen") { Glibc.listen(s.rawValue, backlog) }
        return s
    }

    /// Accepts one connection, non-blocking and close-on-exec. The corresponding C function is `accept4`.
    public func accept() throws(SystemError) -> IOResult<TCPSocket> {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        switch try retryingNonBlocking("accept4", { wl_accept4(rawValue, nil, nil, flags) }) {
        case .processed(let raw): return .processed(TCPSocket(owning: raw))
        case .wouldBlock: return .wouldBlock
        }
    }

    /// Starts a connect; true when it completed at once. The corresponding C function is `connect`.
    public func startConnect(to address: SocketAddress) throws(SystemError) -> Bool {
        while true {
            let r = address.withSockaddr { Glibc.connect(rawValue, $0, $1) }
            if r == 0 { return true }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == EINPROGRESS { return false }
            throw SystemError(call: "connect", errno: code)
        }
    }

    /// The pending error of a non-blocking connect (SO_ERROR); nil when it succeeded.
    /// The corresponding C function is `getsockopt(SO_ERROR)`.
    public func pendingError() -> SystemError? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        if getsockopt(rawValue, SOL_SOCKET, SO_ERROR, &value, &length) != 0 {
            return SystemError(call: "getsockopt(SO_ERROR)", errno: Glibc.errno)
        }
        return value == 0 ? nil : SystemError(call: "connect", errno: value)
    }

    /// Reads into `buffer`; `.processed(0)` is end of stream. The corresponding C function is `read`.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Sends without SIGPIPE. The corresponding C function is `send` with MSG_NOSIGNAL.
    @inline(__always)
    public func write(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("send") { Glibc.send(rawValue, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Sets an integer socket option. The corresponding C function is `setsockopt`.
    public func setOption(_ level: CInt, _ name: CInt, _ value: CInt, _ call: StaticString) throws(SystemError) {
        var v = value
        _ = try retrying(call) { setsockopt(rawValue, level, name, &v, socklen_t(MemoryLayout<CInt>.size)) }
    }

    /// An integer socket option, -1 if the kernel refuses to say. The corresponding C
    /// function is `getsockopt`.
    public func intOption(_ level: CInt, _ name: CInt) -> Int {
        var v: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(rawValue, level, name, &v, &length) == 0 else { return -1 }
        return Int(v)
    }

    /// TCP_NODELAY: each small request leaves at once, as oratcptest's do.
    /// The corresponding C function is `setsockopt`.
    public func setNoDelay() throws(SystemError) {
        try setOption(CInt(IPPROTO_TCP), TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)")
    }

    /// SO_SNDBUF and SO_RCVBUF. The kernel doubles the value and caps it at net.core.[rw]mem_max.
    /// The corresponding C function is `setsockopt`.
    public func setBufferSizes(_ bytes: Int) throws(SystemError) {
        try setOption(SOL_SOCKET, SO_SNDBUF, CInt(clamping: bytes), "setsockopt(SO_SNDBUF)")
        try setOption(SOL_SOCKET, SO_RCVBUF, CInt(clamping: bytes), "setsockopt(SO_RCVBUF)")
    }

    /// The buffer sizes the kernel really gave (getsockopt SO_SNDBUF, SO_RCVBUF).
    /// The corresponding C function is `getsockopt`.
    public var bufferSizes: (send: Int, receive: Int) {
        (intOption(SOL_SOCKET, SO_SNDBUF), intOption(SOL_SOCKET, SO_RCVBUF))
    }

    /// Makes reads and writes block, each for at most `timeoutNanoseconds`
    /// (SO_RCVTIMEO, SO_SNDTIMEO), after which they fail with EAGAIN.
    /// The corresponding C functions are `fcntl` and `setsockopt`.
    public func setBlocking(timeoutNanoseconds: UInt64) throws(SystemError) {
        let flags = try retrying("fcntl(F_GETFL)") { fcntl(rawValue, F_GETFL) }
        _ = try retrying("fcntl(F_SETFL)") { fcntl(rawValue, F_SETFL, flags & ~O_NONBLOCK) }
        var tv = timeval(tv_sec: Int(timeoutNanoseconds / 1_000_000_000), tv_usec: Int(timeoutNanoseconds % 1_000_000_000 / 1000))
        let size = socklen_t(MemoryLayout<timeval>.size)
        _ = try retrying("setsockopt(SO_RCVTIMEO)") { setsockopt(rawValue, SOL_SOCKET, SO_RCVTIMEO, &tv, size) }
        _ = try retrying("setsockopt(SO_SNDTIMEO)") { setsockopt(rawValue, SOL_SOCKET, SO_SNDTIMEO, &tv, size) }
    }

    /// Sends a FIN after what is queued. The corresponding C function is
    /// `shutdown(SHUT_WR)`; it fails only for a socket that is not connected (ENOTCONN),
    /// which has nothing to end.
    public func shutdownWrite() {
        _ = Glibc.shutdown(rawValue, CInt(SHUT_WR))
    }

    /// Closes with an RST instead of a FIN (SO_LINGER 0), for tests of abrupt resets. The
    /// corresponding C function is `setsockopt(SO_LINGER)`, which cannot fail on an open
    /// TCP socket.
    public func setLingerZero() {
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(rawValue, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }

    private func address(_ get: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { get(rawValue, $0, &length) == 0 }
        }
        return ok ? SocketAddress(storage: storage, length: length) : nil
    }

    /// The connected peer's address. The corresponding C function is `getpeername`.
    public var peerAddress: SocketAddress? { address { getpeername($0, $1, $2) } }
    /// The address this socket is bound to. The corresponding C function is `getsockname`.
    public var localAddress: SocketAddress? { address { getsockname($0, $1, $2) } }
}

public extension TCPSocket {
    /// The kernel's handshake RTT sample after a connect: TCP_INFO's tcpi_rtt (µs), in ns.
    /// The corresponding C function is `getsockopt(TCP_INFO)`.
    func kernelRTTNanoseconds() -> UInt64? {
        try? handshakeRTTNanoseconds()
    }

    /// TCP_INFO's tcpi_rtt (µs) in ns: nil when the kernel has no sample yet (0); throws
    /// when the kernel refuses TCP_INFO. The corresponding C function is `getsockopt(TCP_INFO)`.
    func handshakeRTTNanoseconds() throws(SystemError) -> UInt64? {
        var us: UInt32 = 0
        guard wl_probe_tcp_rtt_us(rawValue, &us) == 0 else { throw SystemError(call: "getsockopt(TCP_INFO)", errno: Glibc.errno) }
        return us > 0 ? UInt64(us) * 1000 : nil
    }

    /// Sends all of `bytes` on this non-blocking socket, waiting for room as often as it
    /// takes; false when a send fails, `stop` fires or `timeoutNanoseconds` passes first.
    /// The corresponding C functions are `send` and `ppoll`.
    func writeAll(_ bytes: [UInt8], timeoutNanoseconds: UInt64, stop: StopSignal) -> Bool {
        var offset = 0
        let deadline = monotonicNanoseconds() &+ timeoutNanoseconds
        while offset < bytes.count {
            let r = try? bytes.withUnsafeBytes { b in
                try write(UnsafeRawBufferPointer(rebasing: b[offset...]))
            }
            switch r {
            case .processed(let n)?: offset += n
            case .wouldBlock?:
                let now = monotonicNanoseconds()
                guard now < deadline, case .ready = wait(writable: true, timeoutNanoseconds: deadline - now, stop: stop) else { return false }
            case nil: return false
            }
        }
        return true
    }

    /// Waits for readability (`writable` false) or writability, or `stop`, at most
    /// `timeoutNanoseconds`. The corresponding C function is `ppoll`.
    func wait(writable: Bool, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeWait {
        probeWait(fd: rawValue, events: writable ? WL_POLLOUT : WL_POLLIN, stopFD: stop.descriptor, timeoutNanoseconds: timeoutNanoseconds)
    }
}
