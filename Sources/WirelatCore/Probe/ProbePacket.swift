/// An IPv4 or IPv6 address, as a probe's packets carry it.
public enum ProbeAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    /// The address in network order: 4 or 16 bytes.
    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 16)
        switch self {
        case .v4(let a): w.uint32BE(a.rawValue)
        case .v6(let a): w.uint64BE(a.high); w.uint64BE(a.low)
        }
        return w.bytes
    }

    /// Reads 4 (IPv4) or 16 (IPv6) bytes in network order; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        switch b.count {
        case 4:
            self = .v4(IPv4Address(b[0], b[1], b[2], b[3]))
        case 16:
            var high: UInt64 = 0
            var low: UInt64 = 0
            for i in 0..<8 { high = high << 8 | UInt64(b[i]) }
            for i in 8..<16 { low = low << 8 | UInt64(b[i]) }
            self = .v6(IPv6Address(high: high, low: low))
        default:
            return nil
        }
    }

    /// Dotted quad or RFC 5952 text.
    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }
}

/// The Internet checksum, RFC 1071: the ones' complement of the ones' complement
/// sum of 16-bit big-endian words, an odd last byte padded with zero.
public struct InternetChecksum: Sendable {
    private var sum: UInt64 = 0
    private var oddByte: UInt8?

    public init() {}

    /// Adds bytes in order; a byte left over is paired with the next call's first byte.
    public mutating func add<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        for b in bytes {
            if let high = oddByte {
                sum &+= UInt64(high) << 8 | UInt64(b)
                oddByte = nil
            } else {
                oddByte = b
            }
        }
    }

    public mutating func add(uint16 value: UInt16) { add([UInt8(value >> 8), UInt8(truncatingIfNeeded: value)]) }

    public mutating func add(uint32 value: UInt32) {
        add(uint16: UInt16(value >> 16))
        add(uint16: UInt16(truncatingIfNeeded: value))
    }

    /// The checksum to put in the header field.
    public var value: UInt16 {
        var s = sum
        if let high = oddByte { s &+= UInt64(high) << 8 }
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return ~UInt16(s)
    }

    /// RFC 1071 over `bytes` alone (the IPv4 header, ICMP for IPv4).
    public static func of<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var c = InternetChecksum()
        c.add(bytes)
        return c.value
    }

    /// The checksum of an upper-layer segment with its pseudo-header: for IPv4 source,
    /// destination, zero, protocol and TCP length (RFC 9293 §3.1); for IPv6 source,
    /// destination, upper-layer length (32 bits), three zero bytes and next header
    /// (RFC 8200 §8.1, used by TCP and by ICMPv6, RFC 4443 §2.3). Over a segment whose
    /// checksum field holds the right value, the result is 0.
    public static func withPseudoHeader<C: Collection>(
        _ segment: C, source: ProbeAddress, destination: ProbeAddress, protocolNumber: UInt8
    ) -> UInt16 where C.Element == UInt8 {
        var c = InternetChecksum()
        c.add(source.bytes)
        c.add(destination.bytes)
        if source.isIPv6 {
            c.add(uint32: UInt32(segment.count))
            c.add([0, 0, 0, protocolNumber])
        } else {
            c.add([0, protocolNumber])
            c.add(uint16: UInt16(truncatingIfNeeded: segment.count))
        }
        c.add(segment)
        return c.value
    }
}

/// A TCP SYN as `hping3 -S -p PORT` sends it: a 20-byte header with no options and
/// no data (RFC 9293 §3.1), its checksum over the pseudo-header computed here,
/// because a raw socket leaves the TCP checksum to the sender.
public struct TCPSYNSegment: Sendable, Equatable {
    public var source: ProbeAddress
    public var destination: ProbeAddress
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// Initial sequence number (RFC 9293 §3.4.1); the reply must acknowledge this + 1.
    public var sequenceNumber: UInt32
    /// Acknowledgment Number: ignored without the ACK flag (RFC 9293 §3.1); 0 here,
    /// though hping3 leaves a random value in it.
    public var acknowledgmentNumber: UInt32
    /// Window (RFC 9293 §3.1). 64240 is what Linux offers on a 1500-byte link.
    public var window: UInt16

    public static let headerLength = 20

    public init(source: ProbeAddress, destination: ProbeAddress, sourcePort: UInt16, destinationPort: UInt16,
                sequenceNumber: UInt32, acknowledgmentNumber: UInt32 = 0, window: UInt16 = 64240) {
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.window = window
    }

    /// The 20 header bytes, checksum filled in (RFC 9293 §3.1: source port, destination
    /// port, sequence, acknowledgment, data offset 5, flags SYN, window, checksum,
    /// urgent pointer 0).
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.headerLength)
        w.uint16BE(sourcePort)
        w.uint16BE(destinationPort)
        w.uint32BE(sequenceNumber)
        w.uint32BE(acknowledgmentNumber)
        w.uint8(UInt8(Self.headerLength / 4) << 4)
        w.uint8(TCPFlags.syn.rawValue)
        w.uint16BE(window)
        w.uint16BE(0)
        w.uint16BE(0)
        var bytes = w.bytes
        let sum = InternetChecksum.withPseudoHeader(bytes, source: source, destination: destination,
                                                    protocolNumber: IPProtocolNumber.tcp)
        bytes[16] = UInt8(sum >> 8)
        bytes[17] = UInt8(truncatingIfNeeded: sum)
        return bytes
    }
}

/// An ICMP Echo (RFC 792, type 8) or ICMPv6 Echo Request (RFC 4443 §4.1, type 128),
/// as ping sends it: identifier, sequence number and `payloadBytes` of data. The data
/// starts with an 8-byte nonce (when it has room) so that a reply to another ping
/// with the same identifier is not taken for ours; the rest is ping's 0x10, 0x11, …
/// pattern.
public struct ICMPEchoRequest: Sendable, Equatable {
    public var isIPv6: Bool
    public var identifier: UInt16
    public var sequenceNumber: UInt16
    public var payloadBytes: Int
    public var nonce: UInt64

    public init(isIPv6: Bool, identifier: UInt16, sequenceNumber: UInt16, payloadBytes: Int, nonce: UInt64) {
        self.isIPv6 = isIPv6
        self.identifier = identifier
        self.sequenceNumber = sequenceNumber
        self.payloadBytes = payloadBytes
        self.nonce = nonce
    }

    /// The data after the 8-byte header.
    public static func payload(bytes: Int, nonce: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(0, bytes))
        for i in 0..<out.count { out[i] = UInt8(truncatingIfNeeded: 0x10 + i) }
        if out.count >= 8 {
            for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: nonce >> (56 - 8 * UInt64(i))) }
        }
        return out
    }

    /// Header and data. The ICMP (IPv4) checksum is RFC 792's, over the message; the
    /// ICMPv6 one (RFC 4443 §2.3) includes the pseudo-header and is computed only when
    /// both addresses are given (a raw ICMPv6 or ping socket has the kernel fill it in).
    public func encoded(source: ProbeAddress? = nil, destination: ProbeAddress? = nil) -> [UInt8] {
        var w = ByteWriter(capacity: 8 + payloadBytes)
        w.uint8(isIPv6 ? ICMPv6Header.echoRequest : ICMPHeader.echoRequest)
        w.uint8(0)
        w.uint16BE(0)
        w.uint16BE(identifier)
        w.uint16BE(sequenceNumber)
        w.append(contentsOf: Self.payload(bytes: payloadBytes, nonce: nonce))
        var bytes = w.bytes
        let sum: UInt16?
        if !isIPv6 {
            sum = InternetChecksum.of(bytes)
        } else if let source, let destination {
            sum = InternetChecksum.withPseudoHeader(bytes, source: source, destination: destination,
                                                    protocolNumber: IPProtocolNumber.icmpv6)
        } else {
            sum = nil
        }
        if let sum {
            bytes[2] = UInt8(sum >> 8)
            bytes[3] = UInt8(truncatingIfNeeded: sum)
        }
        return bytes
    }
}
