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
