@preconcurrency import Glibc

/// The name of a network interface index (`if_indextoname`), nil if none.
/// The corresponding C function is `if_indextoname`.
public func interfaceName(index: UInt32) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(index, &buffer) != nil else { return nil }
    return cString(buffer)
}
