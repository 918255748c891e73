import Foundation
import Testing
import WirelatCore

// Decoders tested the tcpdump way: annotated hex, and every fixture packet cut
// at every offset.

/// Ethernet + IPv4 + TCP SYN with MSS, SACK-permitted, timestamps, NOP, window scale.
private let tcpSYN: [UInt8] = [
    0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,  // dst MAC, src MAC, EtherType IPv4
    0x45, 0x00, 0x00, 0x3C,  // version 4, IHL 5, TOS 0, total length 60
    0x12, 0x34, 0x40, 0x00,  // identification, DF
    0x40, 0x06, 0x00, 0x00,  // TTL 64, protocol TCP, checksum (unchecked)
    10, 0, 0, 1, 10, 0, 0, 2,  // 10.0.0.1 > 10.0.0.2
    0xC8, 0x84, 0x1B, 0x59,  // ports 51332 > 7001
    0x00, 0x00, 0x03, 0xE8,  // sequence 1000
    0x00, 0x00, 0x00, 0x00,  // acknowledgment 0
    0xA0, 0x02, 0xFA, 0xF0,  // data offset 10 (40 bytes), SYN, window 64240
    0x00, 0x00, 0x00, 0x00,  // checksum, urgent pointer
    0x02, 0x04, 0x05, 0xB4,  // MSS 1460
    0x04, 0x02,  // SACK permitted
    0x08, 0x0A, 0, 0, 0, 1, 0, 0, 0, 0,  // TSval 1, TSecr 0
    0x01,  // NOP
    0x03, 0x03, 0x07,  // window scale 7
]

/// Ethernet + 802.1Q + IPv6 + hop-by-hop + UDP 1000 > 2000, 4 data bytes.
private let udpOverVLANWithHopByHop: [UInt8] = [
    0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01,
    0x81, 0x00, 0x00, 0x05, 0x86, 0xDD,  // 802.1Q, VID 5, EtherType IPv6
    0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x40,  // version 6, payload 20, next header hop-by-hop, hop limit 64
    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  // fd00::1
    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,  // fd00::2
    0x11, 0x00, 0x01, 0x04, 0, 0, 0, 0,  // next header UDP, length 0 (8 bytes), PadN
    0x03, 0xE8, 0x07, 0xD0, 0x00, 0x0C, 0x00, 0x00,  // UDP 1000 > 2000, length 12
    0x61, 0x62, 0x63, 0x64,  // "abcd"
]

/// Ethernet + ARP request: who has 10.0.0.2, tell 10.0.0.1.
private let arpRequest: [UInt8] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,  // Ethernet, IPv4, hln 6, pln 4, request
    0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1,  // sender MAC, IP
    0, 0, 0, 0, 0, 0, 10, 0, 0, 2,  // target MAC (unknown), IP
]

/// Raw IPv4 ICMP echo request, id 3, seq 1, 4 data bytes.
private let icmpEcho: [UInt8] = [
    0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00,
    10, 0, 0, 1, 10, 0, 0, 2,
    0x08, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01,  // type 8, code 0, checksum, id 3, seq 1
    0x78, 0x78, 0x78, 0x78,
]

private func decode(_ frame: [UInt8], _ linkType: LinkType = .ethernet) -> DecodedPacket {
    frame.withUnsafeBytes { PacketDecoder.decode($0, linkType: linkType) }
}

@Suite("Packet decoders")
struct PacketDecoderTests {
    @Test("IPv4 TCP SYN: every header field and option")
    func tcpSyn() throws {
        let packet = decode(tcpSYN)
        #expect(packet.problem == nil)
        guard case .ipv4(let ip)? = packet.network, case .tcp(let tcp)? = packet.transport else {
            Issue.record("expected IPv4/TCP, got \(packet)")
            return
        }
        #expect(ip.source == IPv4Address(10, 0, 0, 1) && ip.destination == IPv4Address(10, 0, 0, 2))
        #expect(ip.totalLength == 60 && ip.headerLength == 20 && ip.dontFragment && !ip.isLaterFragment)
        #expect(ip.timeToLive == 64 && ip.identification == 0x1234)
        #expect(tcp.sourcePort == 51332 && tcp.destinationPort == 7001)
        #expect(tcp.sequenceNumber == 1000 && tcp.flags == [.syn] && tcp.window == 64240 && tcp.headerLength == 40)
        #expect(packet.payloadLength == 0 && packet.payloadOffset == tcpSYN.count)
        var options: [TCPOption] = []
        tcpSYN.withUnsafeBytes { raw in
            var reader = TCPOptionReader(packet: raw, header: tcp)
            while let o = reader.next() { options.append(o) }
            #expect(reader.stoppedBy == nil)
            #expect(tcp.timestamps(in: raw)! == (1, 0))
        }
        #expect(options == [.maximumSegmentSize(1460), .sackPermitted, .timestamps(value: 1, echoReply: 0),
                            .noOperation, .windowScale(7)])
        #expect(tcp.sequenceLength(payloadLength: 0) == 1)
    }

    @Test("802.1Q, IPv6 hop-by-hop, UDP")
    func vlanIPv6UDP() {
        let packet = decode(udpOverVLANWithHopByHop)
        #expect(packet.problem == nil)
        #expect(packet.link?.vlanTagCount == 1 && packet.link?.outerVLANTag == 5 && packet.link?.headerLength == 18)
        guard case .ipv6(let chain)? = packet.network, case .udp(let udp)? = packet.transport else {
            Issue.record("expected IPv6/UDP")
            return
        }
        #expect(chain.extensionCount == 1 && chain.upperProtocol == IPProtocolNumber.udp && !chain.isFragment)
        #expect(chain.header.source.description == "fd00::1")
        #expect(udp.sourcePort == 1000 && udp.destinationPort == 2000 && udp.payloadLength == 4)
        #expect(packet.payloadLength == 4)
    }

    @Test("ARP request")
    func arp() {
        let packet = decode(arpRequest)
        guard case .arp(let arp)? = packet.network else {
            Issue.record("expected ARP")
            return
        }
        #expect(arp.operation == ARPPacket.request && arp.hardwareLength == 6 && arp.protocolLength == 4)
        arpRequest.withUnsafeBytes { raw in
            #expect(arp.senderIPv4(in: raw) == IPv4Address(10, 0, 0, 1))
            #expect(arp.targetIPv4(in: raw) == IPv4Address(10, 0, 0, 2))
        }
    }

    @Test("raw IPv4 ICMP echo")
    func icmpEchoRequest() {
        let packet = decode(icmpEcho, .rawLinkType)
        guard case .icmp(let icmp)? = packet.transport else {
            Issue.record("expected ICMP")
            return
        }
        #expect(icmp.isEcho && icmp.type == ICMPHeader.echoRequest && icmp.identifier == 3 && icmp.sequenceNumber == 1)
        #expect(packet.payloadLength == 4)
    }

    @Test("a later IPv4 fragment has no transport header")
    func laterFragment() {
        var frame = icmpEcho
        frame[6] = 0x00
        frame[7] = 0x05  // fragment offset 40 bytes
        let packet = decode(frame, .ipv4)
        #expect(packet.isLaterFragment && packet.transport == nil && packet.problem == nil)
    }

    @Test("NULL link: the address family in either byte order")
    func nullLink() {
        for family: [UInt8] in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let packet = decode(family + icmpEcho, .null)
            #expect(packet.link?.payload == .ipv4)
            if case .icmp? = packet.transport {} else { Issue.record("no ICMP for \(family)") }
        }
    }

    @Test("IPv6 text follows tcpdump's addrtostr6",
          arguments: [
            ([0, 0, 0, 0, 0, 0, 0, 1], "::1"), ([0, 0, 0, 0, 0, 0, 0, 0], "::"),
            ([0xfe80, 0, 0, 0, 1, 0, 0, 1], "fe80::1:0:0:1"), ([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"),
            ([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], "::ffff:1.2.3.4"), ([0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::1.2.3.4"),
            ([1, 0, 0, 1, 0, 0, 0, 1], "1:0:0:1::1"), ([1, 0, 1, 0, 1, 0, 1, 0], "1:0:1:0:1:0:1:0"),
            ([0xfd00, 0x99, 0, 0, 0, 0, 0, 0], "fd00:99::"),
          ] as [([UInt16], String)])
    func ipv6Text(_ groups: [UInt16], _ text: String) {
        #expect(IPv6Address(groups: groups).description == text)
    }

    /// Every packet of every fixture, cut at every length: the decoder and the
    /// printer must return, and a cut that ends inside a header must say so.
    @Test("every fixture packet truncated at every offset")
    func truncateEverywhere() throws {
        var cuts = 0, flagged = 0
        var printer = TcpdumpPrinter()
        var sink: [UInt8] = []
        for capture in PacketFixtures.captures() {
            for p in packets(of: try PacketFixtures.bytes(capture)) {
                let full = p.bytes.withUnsafeBytes { PacketDecoder.decode($0, linkType: p.linkType) }
                let headerEnd = full.problem == nil ? full.payloadOffset : 0
                for n in 0...p.bytes.count {
                    let cut = Array(p.bytes[0..<n])
                    let decoded = cut.withUnsafeBytes { PacketDecoder.decode($0, linkType: p.linkType) }
                    cut.withUnsafeBytes { raw in
                        printer.print(timestamp: p.timestamp, data: raw, wireLength: p.wireLength,
                                      linkType: p.linkType, into: &sink)
                    }
                    sink.removeAll(keepingCapacity: true)
                    cuts += 1
                    if n < headerEnd {
                        if case .truncated? = decoded.problem?.kind { flagged += 1 } else {
                            Issue.record("\(capture.lastPathComponent): cut at \(n) < \(headerEnd) not reported as truncated")
                            return
                        }
                    }
                }
            }
        }
        #expect(cuts > 10_000)
        #expect(flagged > 1_000)
    }

    @Test("random bytes on every link type never trap")
    func fuzz() {
        var generator = SystemRandomNumberGenerator()
        var printer = TcpdumpPrinter()
        var sink: [UInt8] = []
        let types: [LinkType] = [.ethernet, .null, .loop, .raw, .ipv4, .ipv6, .linuxSLL, .linuxSLL2]
        for i in 0..<20_000 {
            let base: [UInt8] = [tcpSYN, udpOverVLANWithHopByHop, arpRequest, icmpEcho][i % 4]
            var frame = base
            for _ in 0..<(1 + i % 6) { frame[Int.random(in: 0..<frame.count, using: &generator)] = .random(in: 0...255, using: &generator) }
            let type = types[i % types.count]
            _ = decode(frame, type)
            frame.withUnsafeBytes { raw in
                printer.print(timestamp: CaptureTimestamp(seconds: 0, fraction: 0, unit: .microseconds), data: raw,
                              wireLength: frame.count + i % 3, linkType: type, into: &sink)
            }
            sink.removeAll(keepingCapacity: true)
        }
    }
}

@Suite("Packet capture file reader")
struct PacketCaptureFileTests {
    private func load(_ name: String) throws -> [UInt8] {
        try PacketFixtures.bytes(PacketFixtures.directory.appendingPathComponent(name))
    }

    private func summary(_ bytes: [UInt8]) throws -> [String] {
        try bytes.withUnsafeBytes { raw in
            var reader = try PcapFileReader(bytes: raw)
            var lines: [String] = []
            while let p = try reader.next() {
                lines.append("\(p.timestamp.nanosecondsSinceEpoch) \(p.capturedLength) \(p.wireLength) \(p.linkType.rawValue)")
            }
            return lines
        }
    }

    @Test("pcap and pcapng of the same packets read the same")
    func pcapngMatchesPcap() throws {
        #expect(try summary(load("veth.pcap")) == summary(load("veth.pcapng")))
        #expect(try summary(load("ping-nano.pcap")) == summary(load("ping-nano.pcapng")))
        try load("ping-nano.pcapng").withUnsafeBytes { raw in
            let reader = try PcapFileReader(bytes: raw)
            #expect(reader.format == .pcapng && reader.filePrecision == .nanoseconds && reader.linkType == .ethernet)
        }
    }

    @Test("big- and little-endian pcap read the same")
    func byteOrders() throws {
        #expect(try summary(load("tcp6.pcap")) == summary(load("tcp6-bigendian.pcap")))
    }

    @Test("a record running past the end of the file is an error, not a trap")
    func truncatedFile() throws {
        let bytes = try load("tcp4.pcap")
        for n in [0, 3, 23, 24, 30, 40, bytes.count - 1] {
            let cut = Array(bytes[0..<n])
            var read = 0
            var failed = false
            cut.withUnsafeBytes { raw in
                do throws(PcapFileError) {
                    var reader = try PcapFileReader(bytes: raw)
                    while try reader.next() != nil { read += 1 }
                } catch {
                    failed = true
                }
            }
            #expect(failed || n == 24, "cut at \(n): read \(read)")
        }
    }

    @Test("nanosecond files keep nanoseconds; micro files scale")
    func precision() throws {
        try load("ping-nano.pcap").withUnsafeBytes { raw in
            var reader = try PcapFileReader(bytes: raw)
            let p = try #require(try reader.next())
            #expect(reader.filePrecision == .nanoseconds && p.timestamp.unit == .nanoseconds)
            #expect(p.timestamp.fraction(in: .microseconds) == Int64(p.timestamp.fraction) / 1000)
        }
        let t = CaptureTimestamp(seconds: 1, fraction: 5, unit: .microseconds)
        #expect(t.fraction(in: .nanoseconds) == 5000 && t.nanosecondsSinceEpoch == 1_000_005_000)
    }
}

@Suite("Packet printer speed", .enabled(if: ProcessInfo.processInfo.environment["WIRELAT_SPEED"] != nil))
struct PacketSpeedTests {
    /// 100 000 synthetic Ethernet frames: TCP data with timestamps, pure ACKs,
    /// IPv6 UDP and ICMP echo over 100 connections, printed into one buffer.
    @Test("packets per second printing a 100k-packet capture")
    func printingRate() {
        var frames: [[UInt8]] = []
        for i in 0..<100_000 {
            var frame = [UInt8](tcpSYN)
            let flow = UInt8(i % 100)
            frame[29] = flow  // source address low byte
            switch i % 4 {
            case 0:
                frame[47] = 0x18  // PSH|ACK with 12 data bytes
                frame[16] = 0; frame[17] = 72
                frame += [UInt8](repeating: 0x78, count: 12)
            case 1:
                frame[47] = 0x10
            case 2:
                frame = udpOverVLANWithHopByHop
            default:
                frame = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00] + icmpEcho
            }
            frames.append(frame)
        }
        var printer = TcpdumpPrinter()
        var output: [UInt8] = []
        output.reserveCapacity(16 << 20)
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        for round in 0..<5 {
            output.removeAll(keepingCapacity: true)
            let start = clock.now
            for (i, frame) in frames.enumerated() {
                frame.withUnsafeBytes { raw in
                    printer.print(timestamp: CaptureTimestamp(seconds: 1_700_000_000 + Int64(round), fraction: UInt32(i * 7), unit: .microseconds),
                                  data: raw, wireLength: frame.count, linkType: .ethernet, into: &output)
                }
            }
            best = min(best, clock.now - start)
        }
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
        let rate = Double(frames.count) / seconds
        print("printer: \(frames.count) packets in \(best) (best of 5): \(Int(rate)) packets/s, \(output.count) bytes of text")
        #expect(rate > 0)
    }
}
