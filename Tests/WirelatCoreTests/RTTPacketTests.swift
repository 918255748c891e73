import Foundation
import Testing
@testable import WirelatCore

// The engine reads its fields straight from the frame (RTTPacket(frame:linkType:)); the
// results may not depend on that shortcut. Every test here holds it to the full decoder
// (PacketDecoder, then RTTPacket(decoded:frame:)): the same fields for every frame, and
// the same samples and report for every capture.

/// Both readers' verdict on one frame: equal fields when the engine takes the frame,
/// both refusing it otherwise (a refused frame's other fields mean nothing).
private func readersAgree(_ frame: [UInt8], _ linkType: LinkType) -> Bool {
    frame.withUnsafeBytes { raw in
        let lean = RTTPacket(frame: raw, linkType: linkType)
        let full = RTTPacket(decoded: PacketDecoder.decode(raw, linkType: linkType), frame: raw)
        return lean.kind == .ignored ? full.kind == .ignored : lean == full
    }
}

/// The capture files the tests read: the fixtures, and tcpdump's corpus when present.
private func allCaptures() -> [URL] { PacketFixtures.captures() + corpusCaptures() }

private func corpusCaptures() -> [URL] {
    ((try? FileManager.default.contentsOfDirectory(atPath: PacketFixtures.corpusDirectory.path)) ?? [])
        .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        .map { PacketFixtures.corpusDirectory.appendingPathComponent($0) }
}

/// Frames that reach every branch of the reader once mutated: each names its link type.
private let templates: [(LinkType, [UInt8])] = [
    // Ethernet, IPv4, TCP ACK with NOP NOP Timestamps (TSval 7, TSecr 5) and 4 data bytes.
    (.ethernet, [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
                 0x45, 0x00, 0x00, 0x38, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
                 10, 0, 0, 1, 10, 0, 0, 2,
                 0xC8, 0x84, 0x1B, 0x59, 0, 0, 0x03, 0xE8, 0, 0, 0x07, 0xD0,
                 0x80, 0x18, 0xFA, 0xF0, 0, 0, 0, 0,
                 0x01, 0x01, 0x08, 0x0A, 0, 0, 0, 7, 0, 0, 0, 5,
                 0x61, 0x62, 0x63, 0x64]),
    // Ethernet, 802.1ad + 802.1Q, IPv6, hop-by-hop, destination options, TCP SYN, MSS option.
    (.ethernet, [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01,
                 0x88, 0xA8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x05, 0x86, 0xDD,
                 0x60, 0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x40,
                 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                 0x3C, 0x00, 0x01, 0x04, 0, 0, 0, 0,  // hop-by-hop → destination options
                 0x06, 0x00, 0x01, 0x04, 0, 0, 0, 0,  // destination options → TCP
                 0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0,
                 0x60, 0x02, 0xFF, 0xFF, 0, 0, 0, 0, 0x02, 0x04, 0x05, 0xB4]),
    // Raw IPv6 with a Fragment header (offset 0, M set) before TCP.
    (.rawLinkType, [0x60, 0x00, 0x00, 0x00, 0x00, 0x1C, 0x2C, 0x40,
                    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                    0x06, 0x00, 0x00, 0x01, 0, 0, 0, 9,
                    0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]),
    // Raw IPv6 with four extension headers (hop-by-hop, routing, two destination options), TCP.
    (.rawLinkType, [0x60, 0x00, 0x00, 0x00, 0x00, 0x34, 0x00, 0x40,
                    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                    0x2B, 0x00, 0x01, 0x04, 0, 0, 0, 0, 0x3C, 0x00, 0x00, 0x00, 0, 0, 0, 0,
                    0x3C, 0x00, 0x01, 0x04, 0, 0, 0, 0, 0x06, 0x00, 0x01, 0x04, 0, 0, 0, 0,
                    0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]),
    // The same with a fifth (one more than IPv6HeaderChain walks).
    (.rawLinkType, [0x60, 0x00, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x40,
                    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                    0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                    0x2B, 0x00, 0x01, 0x04, 0, 0, 0, 0, 0x3C, 0x00, 0x00, 0x00, 0, 0, 0, 0,
                    0x3C, 0x00, 0x01, 0x04, 0, 0, 0, 0, 0x3C, 0x00, 0x01, 0x04, 0, 0, 0, 0,
                    0x06, 0x00, 0x01, 0x04, 0, 0, 0, 0,
                    0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]),
    // Raw IPv4 ICMP echo request, id 3, seq 1.
    (.ipv4, [0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00,
             10, 0, 0, 1, 10, 0, 0, 2, 0x08, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01,
             0x78, 0x78, 0x78, 0x78]),
    // Cooked v1, IPv6 ICMPv6 echo reply, id 9, seq 2.
    (.linuxSLL, [0x00, 0x00, 0x03, 0x04, 0x00, 0x06, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xDD,
                 0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3A, 0x40,
                 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                 0x81, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x02]),
    // Cooked v2 with an 802.1Q tag, IPv4 with options (IHL 6), TCP.
    (.linuxSLL2, [0x81, 0x00, 0, 0, 0, 0, 0, 1, 0x00, 0x01, 0x00, 0x06, 2, 0, 0, 0, 0, 1, 0, 0,
                  0x00, 0x05, 0x08, 0x00,
                  0x46, 0x00, 0x00, 0x2C, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
                  10, 0, 0, 1, 10, 0, 0, 2, 0x01, 0x01, 0x01, 0x00,
                  0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x11, 0xFF, 0xFF, 0, 0, 0, 0]),
    // BSD loopback (AF_INET6 = 30, host order), IPv6 TCP.
    (.null, [30, 0, 0, 0,
             0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40,
             0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
             0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
             0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x04, 0xFF, 0xFF, 0, 0, 0, 0]),
]

@Suite("RTT packet reader")
struct RTTPacketTests {
    /// Each template is read as the engine needs it (a sanity check on the templates).
    @Test func templatesAreRead() {
        let kinds = templates.map { linkType, frame in
            frame.withUnsafeBytes { RTTPacket(frame: $0, linkType: linkType).kind }
        }
        #expect(kinds == [.tcp, .tcp, .ignored, .tcp, .ignored, .echo, .echo, .tcp, .tcp])
        let first = templates[0].1.withUnsafeBytes { RTTPacket(frame: $0, linkType: .ethernet) }
        #expect(first.hasTimestamps && first.timestampValue == 7 && first.timestampEchoReply == 5)
        #expect(first.payloadLength == 4 && first.ipBytes == 56 && first.isIPv4)
    }

    /// The fixtures' packets (and the first 20 of each corpus capture), whole and cut at
    /// every length up to 160 bytes (past every header the reader looks at).
    @Test("the reader agrees with PacketDecoder on capture packets cut at every length")
    func capturesCutEverywhere() throws {
        var frames = 0, taken = 0
        let captures = PacketFixtures.captures().map { ($0, 300) } + corpusCaptures().map { ($0, 20) }
        for (capture, limit) in captures {
            for p in packets(of: try PacketFixtures.bytes(capture), limit: limit) {
                for n in Array(0...min(p.bytes.count, 160)) + (p.bytes.count > 160 ? [p.bytes.count] : []) {
                    let cut = Array(p.bytes[0..<n])
                    frames += 1
                    if !readersAgree(cut, p.linkType) {
                        Issue.record("\(capture.lastPathComponent): a packet cut at \(n) of \(p.bytes.count) bytes")
                        return
                    }
                    if n == p.bytes.count, cut.withUnsafeBytes({ RTTPacket(frame: $0, linkType: p.linkType).kind }) != .ignored {
                        taken += 1
                    }
                }
            }
        }
        #expect(frames > 30_000)
        #expect(taken > 200)
    }

    /// Templates with random bytes changed (mostly in the headers) and random cuts, on
    /// every link type.
    @Test("the reader agrees with PacketDecoder on mutated frames")
    func mutatedFrames() {
        var generator = SystemRandomNumberGenerator()
        let types: [LinkType] = [.ethernet, .null, .loop, .raw, .rawLinkType, .ipv4, .ipv6, .linuxSLL, .linuxSLL2]
        var taken = 0
        for i in 0..<200_000 {
            let (nativeType, base) = templates[i % templates.count]
            var frame = base
            for _ in 0..<(1 + i % 4) {
                let limit = Bool.random(using: &generator) ? min(frame.count, 80) : frame.count
                frame[Int.random(in: 0..<limit, using: &generator)] = .random(in: 0...255, using: &generator)
            }
            if i % 3 == 0 { frame.removeLast(Int.random(in: 0...frame.count, using: &generator)) }
            let linkType = i % 5 == 0 ? types[Int.random(in: 0..<types.count, using: &generator)] : nativeType
            if !readersAgree(frame, linkType) {
                Issue.record("\(linkType) frame \(frame.map { String($0, radix: 16) })")
                return
            }
            if frame.withUnsafeBytes({ RTTPacket(frame: $0, linkType: linkType).kind }) != .ignored { taken += 1 }
        }
        #expect(taken > 50_000)
    }

    /// The Timestamps walk against TCPOptionReader's on random option bytes, lengths and cuts.
    @Test("the Timestamps option is found where TCPOptionReader finds it")
    func timestampWalk() {
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [[0], [1], [2, 4, 5, 0xB4], [3, 3, 7], [4, 2], [8, 10, 0, 0, 0, 9, 0, 0, 0, 3],
                                 [8, 9, 1, 2, 3, 4, 5, 6, 7], [5, 10, 0, 0, 0, 1, 0, 0, 0, 2], [30, 1], [99, 0]]
        var found = 0, mismatched = 0
        for _ in 0..<50_000 {
            var options: [UInt8] = []
            while options.count < 40 && Int.random(in: 0..<6, using: &generator) != 0 {
                options += pieces.randomElement(using: &generator)!
            }
            if Bool.random(using: &generator), !options.isEmpty {
                options[Int.random(in: 0..<options.count, using: &generator)] = .random(in: 0...255, using: &generator)
            }
            let dataOffset = UInt8(min(15, 5 + (options.count + Int.random(in: -4...4, using: &generator)) / 4))
            var segment: [UInt8] = [0x1F, 0x90, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, dataOffset << 4, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]
            segment += options
            segment.removeLast(Int.random(in: 0...min(segment.count - 20, 12), using: &generator))
            segment.withUnsafeBytes { raw in
                var r = ByteReader(raw)
                guard let header = try? TCPHeader(decoding: &r) else { return }
                var reader = TCPOptionReader(packet: raw, header: header)
                var expected: (UInt32, UInt32)?
                while let option = reader.next() {
                    if case .timestamps(let value, let echo) = option {
                        expected = (value, echo)
                        break
                    }
                }
                let walked = header.timestamps(in: raw)
                if walked?.value != expected?.0 || walked?.echoReply != expected?.1 { mismatched += 1 }
                if walked != nil { found += 1 }
            }
        }
        #expect(mismatched == 0)
        #expect(found > 1_000)
    }

    /// The engine fed captured packets (its own reader) and fed PacketDecoder's output:
    /// the same samples, in order, and the same report, for every capture.
    @Test("process(CapturedPacket) and process(DecodedPacket) give the same samples and report")
    func enginePathsAgree() throws {
        var samples = 0
        for capture in allCaptures() {
            let bytes = try PacketFixtures.bytes(capture)
            let viaReader = RTTSampleBox()
            let viaDecoder = RTTSampleBox()
            var lean = RTTEngine { viaReader.samples.append($0) }
            var full = RTTEngine { viaDecoder.samples.append($0) }
            bytes.withUnsafeBytes { raw in
                guard var reader = try? PcapFileReader(bytes: raw) else { return }
                while let packet = try? reader.next() {
                    lean.process(packet)
                    full.process(PacketDecoder.decode(packet.data, linkType: packet.linkType), frame: packet.data,
                                 timeNanoseconds: packet.timestamp.nanosecondsSinceEpoch)
                }
            }
            samples += viaReader.samples.count
            guard viaReader.samples == viaDecoder.samples,
                  lean.report(target: "t") == full.report(target: "t")
            else {
                Issue.record("\(capture.lastPathComponent): the two paths differ")
                return
            }
        }
        #expect(samples > 100)
    }
}
