@preconcurrency import Glibc
import CWirelatShim

/// A TUN device opened with `IFF_TUN | IFF_NO_PI`: every read(2) returns one whole IP
/// packet the kernel routed to the device, every write(2) hands one IP packet to the
/// kernel as if it had arrived on it. See net/tun (Documentation/networking/tuntap.rst).
///
/// The device is not persistent: it disappears when the descriptor is closed.
public final class TunDevice {
    public let descriptor: FileDescriptor
    /// The interface name the kernel gave it.
    public let name: String

    public var rawValue: CInt { descriptor.rawValue }

    /// Opens `/dev/net/tun` (non-blocking) and attaches it to the device `name` with
    /// TUNSETIFF, creating the device in the network namespace of the calling thread.
    /// The corresponding C functions are `open` and `ioctl(TUNSETIFF)`.
    public init(name: String) throws(SystemError) {
        let fd = try retrying("open(/dev/net/tun)") { Glibc.open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC) }
        descriptor = FileDescriptor(owning: fd)
        var actual = [CChar](repeating: 0, count: Int(WL_IFNAMSIZ))
        _ = try naming("ioctl(TUNSETIFF, \(name))") { () throws(SystemError) in
            try retrying("ioctl") { wl_tun_attach(fd, name, &actual, actual.count) }
        }
        self.name = cString(actual)
    }

    /// Reads one packet. The corresponding C function is `read`.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("read(tun)") { Glibc.read(descriptor.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes one packet. The corresponding C function is `write`.
    @inline(__always)
    public func write(_ packet: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try retryingNonBlocking("write(tun)") { Glibc.write(descriptor.rawValue, packet.baseAddress, packet.count) }
    }
}

/// Finds which of a set of TUN devices have a packet waiting, without waiting: its own
/// epoll(7) instance over them, level-triggered, asked with a zero timeout. The cost is
/// that of the devices that are ready, not of all of them, so a delay line with many
/// devices and few busy ones does not read(2) each in turn only to hear EAGAIN.
public final class TunPoller {
    private let epoll: FileDescriptor
    private var events: [UInt32]
    private var tokens: [UInt64]

    /// Watches `devices`; ``forEachReadable(_:)`` reports them by their index here. The
    /// corresponding C functions are `epoll_create1` and `epoll_ctl`.
    public init(_ devices: [TunDevice]) throws(SystemError) {
        let ep = FileDescriptor(owning: try retrying("epoll_create1") { wl_epoll_create() })
        for (index, device) in devices.enumerated() {
            _ = try retrying("epoll_ctl") { wl_epoll_ctl(ep.rawValue, EPOLL_CTL_ADD, device.rawValue, WL_EPOLLIN, UInt64(index)) }
        }
        epoll = ep
        events = Array(repeating: 0, count: max(devices.count, 1))
        tokens = Array(repeating: 0, count: max(devices.count, 1))
    }

    /// Calls `body` with the index of every device that has a packet waiting (or an error
    /// to report, which its next read returns). The corresponding C function is `epoll_wait`.
    @inline(__always)
    public func forEachReadable(_ body: (Int) -> Void) throws(SystemError) {
        let capacity = CInt(tokens.count)
        let ready = try retrying("epoll_wait") { wl_epoll_wait(epoll.rawValue, &events, &tokens, capacity, 0) }
        for index in 0..<Int(ready) { body(Int(tokens[index])) }
    }
}
