@preconcurrency import Glibc

/// The name of a network interface index (`if_indextoname`), nil if none.
/// The corresponding C function is `if_indextoname`.
public func interfaceName(index: UInt32) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(index, &buffer) != nil else { return nil }
    return cString(buffer)
}

/// The numeric text of every IPv4 and IPv6 address of this host's interfaces, each once,
/// in the kernel's order: `127.0.0.1`, `10.77.0.1`, `::1`, `fe80::fc:ff:fe00:1` (no
/// `%zone` suffix). Interfaces that are down still count. Empty if the list cannot be read.
/// The corresponding C functions are `getifaddrs` and `inet_ntop`.
public func localInterfaceAddresses() -> [String] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return [] }
    defer { freeifaddrs(list) }
    var addresses: [String] = []
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    var cursor: UnsafeMutablePointer<ifaddrs>? = first
    while let entry = cursor {
        cursor = entry.pointee.ifa_next
        guard let address = entry.pointee.ifa_addr else { continue }
        let family = CInt(address.pointee.sa_family)
        var converted: UnsafePointer<CChar>?
        if family == AF_INET {
            converted = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var raw = a.pointee.sin_addr
                return inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
            }
        } else if family == AF_INET6 {
            converted = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                var raw = a.pointee.sin6_addr
                return inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
            }
        } else {
            continue
        }
        guard converted != nil else { continue }
        let text = cString(buffer)
        if !addresses.contains(text) { addresses.append(text) }
    }
    return addresses
}
