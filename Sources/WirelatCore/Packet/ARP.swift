/// An ARP packet, RFC 826 ("Packet format"); also reverse ARP (RFC 903) and
/// inverse ARP (RFC 2390) operations. Addresses stay in the packet: the offsets
/// say where, the lengths come from the header.
public struct ARPPacket: Sendable, Equatable {
    /// Hardware address space, `ar$hrd` (RFC 826): 1 for Ethernet.
    public var hardwareType: UInt16
    /// Protocol address space, `ar$pro` (RFC 826): an EtherType, 0x0800 for IPv4.
    public var protocolType: UInt16
    /// Hardware address length, `ar$hln` (RFC 826).
    public var hardwareLength: Int
    /// Protocol address length, `ar$pln` (RFC 826).
    public var protocolLength: Int
    /// Opcode, `ar$op` (RFC 826): 1 request, 2 reply; 3/4 reverse (RFC 903); 8/9 inverse (RFC 2390).
    public var operation: UInt16
    /// Offsets in the packet buffer of `ar$sha`, `ar$spa`, `ar$tha`, `ar$tpa`.
    public var senderHardwareOffset: Int
    public var senderProtocolOffset: Int
    public var targetHardwareOffset: Int
    public var targetProtocolOffset: Int

    public static let fixedLength = 8
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2

    /// Bytes the whole packet occupies: 8 + 2 × (hln + pln).
    public var length: Int { Self.fixedLength + 2 * (hardwareLength + protocolLength) }

    /// Decodes the fixed part and locates the addresses. Throws `.truncated`
    /// unless the 8 fixed bytes and every address byte were captured.
    public init(decoding r: inout ByteReader) throws(DecodeError) {
        let start = r.offset
        if r.remaining < Self.fixedLength { throw DecodeError(.truncated, at: r.offset + r.remaining) }
        hardwareType = try r.uint16BE()
        protocolType = try r.uint16BE()
        hardwareLength = Int(try r.uint8())
        protocolLength = Int(try r.uint8())
        operation = try r.uint16BE()
        senderHardwareOffset = start + 8
        senderProtocolOffset = senderHardwareOffset + hardwareLength
        targetHardwareOffset = senderProtocolOffset + protocolLength
        targetProtocolOffset = targetHardwareOffset + hardwareLength
        let end = targetProtocolOffset + protocolLength
        if end > r.bytes.count { throw DecodeError(.truncated, at: r.bytes.count) }
        try r.skip(end - r.offset)
    }

    /// The sender's IPv4 address when the protocol is IPv4 with 4-byte addresses.
    public func senderIPv4(in packet: UnsafeRawBufferPointer) -> IPv4Address? {
        ipv4(at: senderProtocolOffset, in: packet)
    }

    /// The target's IPv4 address when the protocol is IPv4 with 4-byte addresses.
    public func targetIPv4(in packet: UnsafeRawBufferPointer) -> IPv4Address? {
        ipv4(at: targetProtocolOffset, in: packet)
    }

    private func ipv4(at offset: Int, in packet: UnsafeRawBufferPointer) -> IPv4Address? {
        guard protocolType == EtherType.ipv4, protocolLength == 4 else { return nil }
        var r = ByteReader(packet, offset: offset)
        return try? r.ipv4Address()
    }
}
