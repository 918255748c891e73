@preconcurrency import Glibc
import CWirelatShim
import WirelatCore

/// An IPv4 or IPv6 socket address.
public struct SocketAddress: Sendable, CustomStringConvertible, Equatable {
    var storage: sockaddr_storage
    public let length: socklen_t

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.description == b.description
    }

    public var family: CInt { CInt(storage.ss_family) }
    public var isIPv6: Bool { family == AF_INET6 }

    public var port: UInt16 {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    /// The address without the port: `10.0.0.1` or `fd00:77::1`.
    /// The corresponding C function is `inet_ntop`.
    public var host: String {
        var s = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &s) { p -> String in
            if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    var addr = a.pointee.sin6_addr
                    inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
                    let text = cString(buffer)
                    // An IPv4 peer on a dual-stack socket: show it as IPv4.
                    return text.hasPrefix("::ffff:") && text.contains(".") ? String(text.dropFirst(7)) : text
                }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var addr = a.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
                return cString(buffer)
            }
        }
    }

    /// `10.0.0.1:1521` or `[fd00:77::1]:1521`.
    public var description: String {
        let h = host
        return h.contains(":") ? "[\(h)]:\(port)" : "\(h):\(port)"
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    /// Resolves a numeric address or a host name to its first address in getaddrinfo's
    /// order (RFC 6724's destination address selection, tuned by /etc/gai.conf), as ssh
    /// and curl try them. With `passive` (a server's bind address), an IPv4 address is
    /// preferred when a name has both. The corresponding C function is `getaddrinfo`.
    public static func resolve(host: String, port: UInt16, passive: Bool = false) throws(ResolveError) -> SocketAddress {
        let all = try resolveAll(host: host, port: port, passive: passive)
        if passive, let v4 = all.first(where: { $0.family == AF_INET }) { return v4 }
        return all[0]
    }

    /// Every address of `host`, in getaddrinfo's order (RFC 6724), each once. A client
    /// tries them in turn until one answers.
    /// The corresponding C function is `getaddrinfo`.
    public static func resolveAll(host: String, port: UInt16, passive: Bool = false) throws(ResolveError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var result: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(name.isEmpty ? nil : name, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            let reason = rc == 0 ? "no address" : String(cString: gai_strerror(rc))
            throw ResolveError(host: host, reason: reason)
        }
        defer { freeaddrinfo(result) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let c = cursor {
            cursor = c.pointee.ai_next
            let length = c.pointee.ai_addrlen
            guard length <= socklen_t(MemoryLayout<sockaddr_storage>.size) else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: c.pointee.ai_addr, count: Int(length)))
            }
            let address = SocketAddress(storage: storage, length: length)
            if !addresses.contains(where: { $0.description == address.description }) { addresses.append(address) }
        }
        guard !addresses.isEmpty else { throw ResolveError(host: host, reason: "no address") }
        return addresses
    }
}

public struct ResolveError: Error, CustomStringConvertible, Sendable {
    public let host: String
    public let reason: String
    public var description: String { "cannot resolve \(host): \(reason)" }
}

/// The text of a NUL-terminated C character array.
func cString(_ chars: [CChar]) -> String {
    let bytes = chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

public extension SocketAddress {
    /// The address without the port, as the probe packet builders take it.
    var probeAddress: ProbeAddress? {
        var s = storage
        return withUnsafeBytes(of: &s) { raw -> ProbeAddress? in
            if family == AF_INET {
                let offset = MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr) ?? 4
                return ProbeAddress(bytes: raw[offset..<offset + 4])
            }
            if family == AF_INET6 {
                let offset = MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_addr) ?? 8
                return ProbeAddress(bytes: raw[offset..<offset + 16])
            }
            return nil
        }
    }

    /// The same address with another port.
    func withPort(_ port: UInt16) -> SocketAddress {
        var s = storage
        withUnsafeMutableBytes(of: &s) { raw in
            // sin_port and sin6_port sit at the same offset, right after the family.
            raw.storeBytes(of: port.bigEndian, toByteOffset: 2, as: UInt16.self)
        }
        return SocketAddress(storage: s, length: length)
    }

    /// The local address the kernel would send from toward this one: a UDP socket is
    /// connected (no packet leaves) and asked its name. The corresponding C functions
    /// are `connect` and `getsockname`.
    func sourceAddressToward() throws(SystemError) -> SocketAddress {
        let fd = FileDescriptor(owning: try retrying("socket") { wl_probe_socket(family, 0, 0) })
        let target = withPort(9)
        _ = try retrying("connect") { target.withSockaddr { Glibc.connect(fd.rawValue, $0, $1) } }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try retrying("getsockname") {
            withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &length) }
            }
        }
        return SocketAddress(storage: storage, length: length).withPort(0)
    }
}
