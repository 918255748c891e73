import Foundation
import Testing
import WirelatCore

/// Bytes from a hex dump such as tcpdump -x prints ("4500 0028 5e52 ..."); spaces,
/// newlines and `//` comments are ignored.
func probeHex(_ text: String) -> [UInt8] {
    var digits: [UInt8] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let code = line.components(separatedBy: "//")[0]
        for c in code.unicodeScalars where CharacterSet(charactersIn: "0123456789abcdefABCDEF").contains(c) {
            digits.append(UInt8(String(c), radix: 16)!)
        }
    }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

func probeV4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> ProbeAddress { .v4(IPv4Address(a, b, c, d)) }
func probeV6(_ groups: [UInt16]) -> ProbeAddress { .v6(IPv6Address(groups: groups)) }

/// Captured with `tcpdump -x -vv` on a veth between two namespaces.
enum ProbeCaptures {
    /// `hping3 -S -p 7001 -s 40000 -M 1000 10.198.77.1`; tcpdump: "cksum 0xdb03 (correct)".
    /// hping leaves a random acknowledgment number (0x5692113c) in its SYN and offers window 512.
    static let hpingSYN = probeHex("""
        4500 0028 5e52 0000 4006 6cef 0ac6 4d02  // IPv4, total 40, id 0x5e52, ttl 64, TCP, checksum 0x6cef, src 10.198.77.2
        0ac6 4d01                                // dst 10.198.77.1
        9c40 1b59 0000 03e8 5692 113c 5002 0200  // sport 40000, dport 7001, seq 1000, ack 0x5692113c, offset 5, SYN, win 512
        db03 0000                                // checksum 0xdb03, urgent 0
        """)

    /// The SYN-ACK the peer's kernel answered it with (its checksum left to the NIC: not checked here).
    static let hpingSYNACK = probeHex("""
        4500 002c 0000 4000 4006 8b3d 0ac6 4d01  // IPv4, total 44, id 0, DF, ttl 64, TCP, src 10.198.77.1
        0ac6 4d02                                // dst 10.198.77.2
        1b59 9c40 eb68 9662 0000 03e9 6012 faf0  // sport 7001, dport 40000, seq 3949500002, ack 1001, offset 6, SYN+ACK, win 64240
        afad 0000 0204 05b4                      // checksum, urgent, MSS 1460
        """)

    /// Our kernel's RST to that SYN-ACK (it knows nothing of the connection).
    static let kernelRST = probeHex("""
        4500 0028 0000 4000 4006 8b41 0ac6 4d02 0ac6 4d01
        9c40 1b59 0000 03e9 0000 0000 5004 0000 44cf 0000
        """)

    /// `wirelat probe syn fd00:198:77::1 --port 7001`, the TCP segment after the IPv6 header;
    /// tcpdump: "cksum 0xc7fe (correct)".
    static let wirelatSYN6 = probeHex("""
        2fe4 1b59 2150 8243 0000 0000 5002 faf0  // sport 12260, dport 7001, seq 558924355, ack 0, SYN, win 64240
        c7fe 0000
        """)

    /// `ping -c1 -s 16 fd00:198:77::1`, the ICMPv6 message; tcpdump: "icmp6 sum ok".
    static let pingEcho6 = probeHex("""
        8000 a1c8 6a87 0001                      // echo request, checksum 0xa1c8, id 27271, seq 1
        eaee 016b 0000 0000 7edf 0a00 0000 0000  // ping's timeval
        """)

    /// `ping -c1 -s 16 10.198.77.1`, the ICMP message.
    static let pingEcho4 = probeHex("""
        0800 9334 6a88 0001 eaee 016b 0000 0000 03e8 0a00 0000 0000
        """)

    static let client4 = probeV4(10, 198, 77, 2)
    static let server4 = probeV4(10, 198, 77, 1)
    static let client6 = probeV6([0xfd00, 0x198, 0x77, 0, 0, 0, 0, 2])
    static let server6 = probeV6([0xfd00, 0x198, 0x77, 0, 0, 0, 0, 1])
}

@Suite("Probe packets: checksums and SYN/echo builders")
struct ProbePacketTests {
    @Test("RFC 1071 §3's worked example, however the bytes are split")
    func rfc1071Example() {
        let bytes: [UInt8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]
        #expect(InternetChecksum.of(bytes) == ~UInt16(0xddf2))
        for split in 0...bytes.count {
            var c = InternetChecksum()
            c.add(bytes[0..<split])
            c.add(bytes[split...])
            #expect(c.value == ~UInt16(0xddf2), "split at \(split)")
        }
        // An odd length pads with a zero byte.
        #expect(InternetChecksum.of([0x01]) == ~UInt16(0x0100))
    }

    @Test("hping3's SYN as captured: the IPv4 header and the TCP pseudo-header sums verify to 0")
    func capturedHpingVerifies() {
        let packet = ProbeCaptures.hpingSYN
        #expect(InternetChecksum.of(packet[0..<20]) == 0)
        #expect(InternetChecksum.withPseudoHeader(packet[20...], source: ProbeCaptures.client4,
                                                  destination: ProbeCaptures.server4, protocolNumber: 6) == 0)
        var zeroed = Array(packet[20...])
        zeroed[16] = 0
        zeroed[17] = 0
        #expect(InternetChecksum.withPseudoHeader(zeroed, source: ProbeCaptures.client4, destination: ProbeCaptures.server4,
                                                  protocolNumber: 6) == 0xdb03)
    }

    @Test("our IPv4 SYN with hping's fields is hping's SYN, byte for byte")
    func ipv4SYNMatchesHping() {
        let syn = TCPSYNSegment(source: ProbeCaptures.client4, destination: ProbeCaptures.server4, sourcePort: 40000,
                                destinationPort: 7001, sequenceNumber: 1000, acknowledgmentNumber: 0x5692_113c, window: 512)
        #expect(syn.encoded() == Array(ProbeCaptures.hpingSYN[20...]))
    }

    @Test("our IPv6 SYN is the one tcpdump judged correct, and re-verifies to 0 with RFC 8200's pseudo-header")
    func ipv6SYN() {
        let syn = TCPSYNSegment(source: ProbeCaptures.client6, destination: ProbeCaptures.server6, sourcePort: 12260,
                                destinationPort: 7001, sequenceNumber: 558_924_355)
        let bytes = syn.encoded()
        #expect(bytes == ProbeCaptures.wirelatSYN6)
        #expect(InternetChecksum.withPseudoHeader(bytes, source: ProbeCaptures.client6, destination: ProbeCaptures.server6,
                                                  protocolNumber: 6) == 0)
        // The same SYN checksummed as if it were IPv4 does not verify: the pseudo-header matters.
        #expect(InternetChecksum.withPseudoHeader(bytes, source: ProbeCaptures.client4, destination: ProbeCaptures.server4,
                                                  protocolNumber: 6) != 0)
    }

    @Test("every SYN we build decodes back to its fields and verifies, for any ports and ISN")
    func synRoundTrip() throws {
        for _ in 0..<200 {
            let sport = UInt16.random(in: 1...UInt16.max), dport = UInt16.random(in: 1...UInt16.max)
            let isn = UInt32.random(in: 0...UInt32.max)
            for (src, dst) in [(ProbeCaptures.client4, ProbeCaptures.server4), (ProbeCaptures.client6, ProbeCaptures.server6)] {
                let bytes = TCPSYNSegment(source: src, destination: dst, sourcePort: sport, destinationPort: dport,
                                          sequenceNumber: isn).encoded()
                #expect(InternetChecksum.withPseudoHeader(bytes, source: src, destination: dst, protocolNumber: 6) == 0)
                let header = try bytes.withUnsafeBytes { raw in
                    var r = ByteReader(raw)
                    return try TCPHeader(decoding: &r)
                }
                #expect(header.sourcePort == sport && header.destinationPort == dport)
                #expect(header.sequenceNumber == isn && header.acknowledgmentNumber == 0)
                #expect(header.flags == .syn && header.headerLength == 20)
            }
        }
    }

    @Test("ping's echo requests as captured verify: ICMP (RFC 792) alone, ICMPv6 (RFC 4443 §2.3) with the pseudo-header")
    func capturedPingVerifies() {
        #expect(InternetChecksum.of(ProbeCaptures.pingEcho4) == 0)
        #expect(InternetChecksum.withPseudoHeader(ProbeCaptures.pingEcho6, source: ProbeCaptures.client6,
                                                  destination: ProbeCaptures.server6, protocolNumber: 58) == 0)
    }

    @Test("our echo requests: type, identifier, sequence, nonce, size and a checksum that verifies")
    func echoRequests() {
        let v4 = ICMPEchoRequest(isIPv6: false, identifier: 0x6a88, sequenceNumber: 1, payloadBytes: 56,
                                 nonce: 0x0102_0304_0506_0708).encoded()
        #expect(v4.count == 64)
        #expect(Array(v4[0..<2]) == [8, 0])
        #expect(Array(v4[4..<8]) == [0x6a, 0x88, 0x00, 0x01])
        #expect(Array(v4[8..<16]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(v4[16] == 0x18, "ping's pattern continues after the nonce")
        #expect(InternetChecksum.of(v4) == 0)

        let v6 = ICMPEchoRequest(isIPv6: true, identifier: 7, sequenceNumber: 0xffff, payloadBytes: 3, nonce: 1)
            .encoded(source: ProbeCaptures.client6, destination: ProbeCaptures.server6)
        #expect(v6.count == 11)
        #expect(v6[0] == 128)
        #expect(InternetChecksum.withPseudoHeader(v6, source: ProbeCaptures.client6, destination: ProbeCaptures.server6,
                                                  protocolNumber: 58) == 0)
        // Without the addresses the kernel fills the ICMPv6 checksum in: we leave 0.
        let bare = ICMPEchoRequest(isIPv6: true, identifier: 7, sequenceNumber: 1, payloadBytes: 0, nonce: 1).encoded()
        #expect(bare[2] == 0 && bare[3] == 0)
    }

    @Test("ProbeAddress reads and writes network-order bytes")
    func addresses() {
        #expect(ProbeAddress(bytes: [10, 198, 77, 2]) == ProbeCaptures.client4)
        #expect(ProbeCaptures.client6.bytes.count == 16)
        #expect(ProbeAddress(bytes: ProbeCaptures.client6.bytes) == ProbeCaptures.client6)
        #expect(ProbeAddress(bytes: [1, 2, 3]) == nil)
        #expect(ProbeCaptures.client6.description == "fd00:198:77::2")
    }
}
