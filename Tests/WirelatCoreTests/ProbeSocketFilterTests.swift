import Testing
@testable import WirelatCore

/// The raw sockets' kernel filters, run over real segments and echo replies as the
/// kernel runs them: the probe's answer passes, every other peer's traffic does not.
@Suite("probe socket filters (classic BPF)")
struct ProbeSocketFilterTests {
    static let target = ProbeAddress.v4(IPv4Address(10, 77, 0, 2))
    static let other = ProbeAddress.v4(IPv4Address(10, 77, 0, 3))
    static let me = ProbeAddress.v4(IPv4Address(10, 77, 0, 1))

    /// An IPv4 header (with `optionWords` words of options) followed by `payload`.
    static func ipv4(from source: ProbeAddress, to destination: ProbeAddress, protocolNumber: UInt8, optionWords: Int = 0, _ payload: [UInt8]) -> [UInt8] {
        let headerLength = 20 + 4 * optionWords
        var header = [UInt8](repeating: 0, count: headerLength)
        header[0] = 0x40 | UInt8(headerLength / 4)
        let total = headerLength + payload.count
        header[2] = UInt8(total >> 8)
        header[3] = UInt8(total & 0xFF)
        header[8] = 64
        header[9] = protocolNumber
        header.replaceSubrange(12..<16, with: source.bytes)
        header.replaceSubrange(16..<20, with: destination.bytes)
        return header + payload
    }

    /// A SYN-ACK from `port` to our `ourPort`, as the TCP header the encoder writes.
    static func synAck(from source: ProbeAddress, port: UInt16, to ourPort: UInt16) -> [UInt8] {
        TCPSYNSegment(source: source, destination: me, sourcePort: port, destinationPort: ourPort, sequenceNumber: 7).encoded()
    }

    @Test("SYN probe, IPv4: the target's segment from the probed port passes; another host's, or another port's, is dropped; IP options do not fool it")
    func tcpIPv4() {
        let program = ProbeSocketFilter.tcpReplies(from: Self.target, port: 1521)
        let run = { (packet: [UInt8]) in ProbeSocketFilter.run(program, on: packet) }
        #expect(run(Self.ipv4(from: Self.target, to: Self.me, protocolNumber: 6, Self.synAck(from: Self.target, port: 1521, to: 2000))) == 0xFFFF)
        #expect(run(Self.ipv4(from: Self.target, to: Self.me, protocolNumber: 6, optionWords: 2, Self.synAck(from: Self.target, port: 1521, to: 2000))) == 0xFFFF)
        #expect(run(Self.ipv4(from: Self.other, to: Self.me, protocolNumber: 6, Self.synAck(from: Self.other, port: 1521, to: 2000))) == 0)
        #expect(run(Self.ipv4(from: Self.target, to: Self.me, protocolNumber: 6, Self.synAck(from: Self.target, port: 5555, to: 2000))) == 0)
        #expect(run([0x45, 0, 0]) == 0, "a truncated packet is dropped, as the kernel drops a load past the end")
    }

    @Test("SYN probe, IPv6 (no IP header on the socket): by the probed port")
    func tcpIPv6() {
        let v6 = ProbeAddress.v6(IPv6Address(high: 0xfd00_0077_0000_0000, low: 2))
        let program = ProbeSocketFilter.tcpReplies(from: v6, port: 1521)
        #expect(ProbeSocketFilter.run(program, on: Self.synAck(from: v6, port: 1521, to: 2000)) == 0xFFFF)
        #expect(ProbeSocketFilter.run(program, on: Self.synAck(from: v6, port: 80, to: 2000)) == 0)
    }

    @Test("ICMP probe on a raw socket: the target's echo reply with our identifier passes; another identifier, or another host, is dropped")
    func echo() {
        let reply = { (identifier: UInt16) -> [UInt8] in
            [0, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), 0, 1] + [UInt8](repeating: 0xAB, count: 16)
        }
        let program = ProbeSocketFilter.echoReplies(from: Self.target, identifier: 0xBEEF)
        #expect(ProbeSocketFilter.run(program, on: Self.ipv4(from: Self.target, to: Self.me, protocolNumber: 1, reply(0xBEEF))) == 0xFFFF)
        #expect(ProbeSocketFilter.run(program, on: Self.ipv4(from: Self.target, to: Self.me, protocolNumber: 1, reply(0xBEEE))) == 0)
        #expect(ProbeSocketFilter.run(program, on: Self.ipv4(from: Self.other, to: Self.me, protocolNumber: 1, reply(0xBEEF))) == 0)
        let v6 = ProbeSocketFilter.echoReplies(from: .v6(IPv6Address(high: 0xfd00_0077_0000_0000, low: 2)), identifier: 0xBEEF)
        #expect(ProbeSocketFilter.run(v6, on: [129, 0, 0, 0, 0xBE, 0xEF, 0, 1]) == 0xFFFF)
        #expect(ProbeSocketFilter.run(v6, on: [129, 0, 0, 0, 0xBE, 0xEE, 0, 1]) == 0)
    }
}
