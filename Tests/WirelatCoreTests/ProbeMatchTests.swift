import Testing
import WirelatCore

@Suite("Probe reply matching")
struct ProbeMatchTests {
    /// The probe hping3 sent in ProbeCaptures.hpingSYN.
    let probe = SYNProbeExpectation(target: ProbeCaptures.server4, sourcePort: 40000, destinationPort: 7001, sequenceNumber: 1000)

    func answer(_ bytes: [UInt8], includesIPv4Header: Bool = true, from: ProbeAddress? = nil, hopLimit: Int? = nil,
                expecting: SYNProbeExpectation) -> TCPProbeAnswer? {
        bytes.withUnsafeBytes {
            ProbeMatch.tcpAnswer(datagram: $0, includesIPv4Header: includesIPv4Header, from: from, hopLimit: hopLimit, expecting: expecting)
        }
    }

    @Test("the captured SYN-ACK answers hping's SYN, with what hping prints: len=44 ttl=64 DF id=0 sport=7001 flags=SA win=64240")
    func synAck() throws {
        let a = try #require(answer(ProbeCaptures.hpingSYNACK, expecting: probe))
        #expect(a.kind == .synAck)
        #expect(a.flagsText == "SA")
        #expect(a.ipLength == 44 && a.ttl == 64 && a.dontFragment == true && a.ipID == 0)
        #expect(a.sourcePort == 7001 && a.window == 64240)
        #expect(a.acknowledgmentNumber == 1001)
    }

    @Test("a RST-ACK acknowledging ISN + 1 is RA (closed)")
    func reset() throws {
        var rst = ProbeCaptures.hpingSYNACK
        rst[33] = 0x14          // RST + ACK
        rst[34] = 0; rst[35] = 0 // window 0
        let a = try #require(answer(rst, expecting: probe))
        #expect(a.kind == .reset)
        #expect(a.flagsText == "RA")
        #expect(a.window == 0)
    }

    @Test("not ours: another ISN, another port, another host, our own SYN looped back, our kernel's RST")
    func rejects() {
        var other = probe
        other.sequenceNumber = 999
        #expect(answer(ProbeCaptures.hpingSYNACK, expecting: other) == nil)
        other = probe
        other.sourcePort = 40001
        #expect(answer(ProbeCaptures.hpingSYNACK, expecting: other) == nil)
        other = probe
        other.destinationPort = 7002
        #expect(answer(ProbeCaptures.hpingSYNACK, expecting: other) == nil)
        other = probe
        other.target = probeV4(10, 198, 77, 9)
        #expect(answer(ProbeCaptures.hpingSYNACK, expecting: other) == nil)
        #expect(answer(ProbeCaptures.hpingSYN, expecting: probe) == nil)
        #expect(answer(ProbeCaptures.kernelRST, expecting: probe) == nil)
        // A bare ACK (no SYN, no RST) acknowledging the ISN is no answer to a SYN.
        var ack = ProbeCaptures.hpingSYNACK
        ack[33] = 0x10
        #expect(answer(ack, expecting: probe) == nil)
    }

    @Test("the SYN-ACK cut at every length: no crash, and no answer until the TCP header is whole")
    func truncated() {
        let full = ProbeCaptures.hpingSYNACK
        for n in 0..<full.count {
            let a = answer(Array(full[0..<n]), expecting: probe)
            #expect((a != nil) == (n >= 40), "cut at \(n)")
        }
    }

    @Test("IPv6: the segment alone, the source and hop limit from recvmsg; len counts the 40-byte header")
    func ipv6() throws {
        let probe6 = SYNProbeExpectation(target: ProbeCaptures.server6, sourcePort: 40000, destinationPort: 7001, sequenceNumber: 1000)
        let segment = Array(ProbeCaptures.hpingSYNACK[20...])
        let a = try #require(answer(segment, includesIPv4Header: false, from: ProbeCaptures.server6, hopLimit: 63, expecting: probe6))
        #expect(a.kind == .synAck && a.ttl == 63 && a.ipLength == 64 && a.ipID == nil && a.dontFragment == nil)
        #expect(answer(segment, includesIPv4Header: false, from: ProbeCaptures.client6, hopLimit: 63, expecting: probe6) == nil)
    }

    /// An IPv4 header (20 bytes, TTL 61, protocol ICMP) from `source`, then `icmp`.
    func ipv4(_ icmp: [UInt8], from source: ProbeAddress) -> [UInt8] {
        var w = ByteWriter()
        w.uint8(0x45); w.uint8(0); w.uint16BE(UInt16(20 + icmp.count))
        w.uint16BE(1); w.uint16BE(0x4000); w.uint8(61); w.uint8(1); w.uint16BE(0)
        w.append(contentsOf: source.bytes)
        w.append(contentsOf: ProbeCaptures.client4.bytes)
        w.append(contentsOf: icmp)
        return w.bytes
    }

    /// An echo reply: our request with the type changed (the peer echoes the data back).
    func reply(_ request: ICMPEchoRequest) -> [UInt8] {
        var bytes = request.encoded()
        bytes[0] = request.isIPv6 ? 129 : 0
        return bytes
    }

    func echo(_ bytes: [UInt8], includesIPv4Header: Bool, from: ProbeAddress? = nil, _ e: ICMPEchoExpectation) -> ICMPEchoAnswer? {
        bytes.withUnsafeBytes { ProbeMatch.echoAnswer(datagram: $0, includesIPv4Header: includesIPv4Header, from: from, hopLimit: 64, expecting: e) }
    }

    @Test("echo replies on a raw IPv4 socket: header skipped, TTL from it, id, seq and nonce checked; our own request ignored")
    func echoRaw() throws {
        let request = ICMPEchoRequest(isIPv6: false, identifier: 0x1234, sequenceNumber: 3, payloadBytes: 56, nonce: 42)
        let e = ICMPEchoExpectation(target: ProbeCaptures.server4, identifier: 0x1234, sequenceNumber: 3, payloadBytes: 56, nonce: 42)
        let a = try #require(echo(ipv4(reply(request), from: ProbeCaptures.server4), includesIPv4Header: true, e))
        #expect(a.bytes == 64 && a.ttl == 61 && a.sequenceNumber == 3)

        #expect(echo(ipv4(request.encoded(), from: ProbeCaptures.server4), includesIPv4Header: true, e) == nil, "the echo request itself")
        #expect(echo(ipv4(reply(request), from: probeV4(10, 1, 1, 1)), includesIPv4Header: true, e) == nil, "another host")
        var otherID = request
        otherID.identifier = 0x1235
        #expect(echo(ipv4(reply(otherID), from: ProbeCaptures.server4), includesIPv4Header: true, e) == nil, "another ping's identifier")
        var otherNonce = request
        otherNonce.nonce = 43
        #expect(echo(ipv4(reply(otherNonce), from: ProbeCaptures.server4), includesIPv4Header: true, e) == nil, "another run's nonce")
        var otherSeq = request
        otherSeq.sequenceNumber = 2
        #expect(echo(ipv4(reply(otherSeq), from: ProbeCaptures.server4), includesIPv4Header: true, e) == nil, "a late reply to probe 2")
    }

    @Test("echo replies on a ping socket: no IP header, and the kernel's identifier is not compared")
    func echoPingSocket() throws {
        let request = ICMPEchoRequest(isIPv6: true, identifier: 999, sequenceNumber: 1, payloadBytes: 16, nonce: 7)
        let e = ICMPEchoExpectation(target: ProbeCaptures.server6, identifier: nil, sequenceNumber: 1, payloadBytes: 16, nonce: 7)
        let a = try #require(echo(reply(request), includesIPv4Header: false, from: ProbeCaptures.server6, e))
        #expect(a.bytes == 24 && a.ttl == 64 && a.identifier == 999)
        for n in 0..<24 {
            #expect(echo(Array(reply(request)[0..<n]), includesIPv4Header: false, from: ProbeCaptures.server6, e) == nil, "cut at \(n)")
        }
    }
}
