import Foundation
import Testing
import WirelatCore
import WirelatTestSupport

/// A small deterministic generator (SplitMix64) so every scenario can be replayed.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random but plausible TCP conversations: handshakes with resent SYNs, data both ways,
/// cumulative, partial and duplicate ACKs with SACK blocks, retransmissions with the
/// same or merged boundaries, reordering, keep-alives, FINs, port reuse, sequence numbers
/// near 2^32, equal timestamps; optionally segments without the ACK bit.
private struct TCPScenario {
    var rng: SplitMix64
    var frames: [(timeNanoseconds: Int64, bytes: [UInt8])] = []
    var time: Int64 = RTTHarness.epochNanoseconds
    let withoutACKBit: Bool

    struct Direction {
        var from: RTTEndpoint
        var to: RTTEndpoint
        var next: UInt32
        var sent: [(start: UInt32, end: UInt32)] = []
        /// The acknowledgment number this side sends.
        var ack: UInt32 = 0
    }

    init(seed: UInt64, withoutACKBit: Bool) {
        rng = SplitMix64(state: seed)
        self.withoutACKBit = withoutACKBit
    }

    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }

    mutating func emit(_ frame: [UInt8]) {
        if !chance(8) { time += Int64.random(in: 1...60_000, using: &rng) }
        frames.append((time, frame))
    }

    mutating func isn() -> UInt32 {
        chance(30) ? UInt32.max &- UInt32.random(in: 0...3000, using: &rng) : UInt32.random(in: 0...UInt32.max, using: &rng)
    }

    mutating func connection(_ client: RTTEndpoint, _ server: RTTEndpoint, steps: Int) {
        var c = Direction(from: client, to: server, next: isn())
        var s = Direction(from: server, to: client, next: isn())
        let syn = RTTWire.tcp(client, server, seq: c.next, flags: [.syn], mss: 1460)
        emit(syn)
        if chance(25) { emit(syn) }
        c.sent.append((c.next, c.next &+ 1))
        c.next &+= 1
        s.ack = c.next
        let synAck = RTTWire.tcp(server, client, seq: s.next, ack: s.ack, flags: [.syn, .ack], mss: 1460)
        emit(synAck)
        if chance(15) { emit(synAck) }
        s.sent.append((s.next, s.next &+ 1))
        s.next &+= 1
        c.ack = s.next
        emit(RTTWire.tcp(client, server, seq: c.next, ack: c.ack))

        for _ in 0..<steps {
            let clientActs = chance(55)
            if clientActs { step(&c, &s) } else { step(&s, &c) }
        }
        emit(RTTWire.tcp(client, server, seq: c.next, ack: c.ack, flags: [.fin, .ack]))
        c.next &+= 1
        s.ack = c.next
        emit(RTTWire.tcp(server, client, seq: s.next, ack: s.ack, flags: [.fin, .ack]))
        s.next &+= 1
        c.ack = s.next
        emit(RTTWire.tcp(client, server, seq: c.next, ack: c.ack))
    }

    /// One action by `me`; `peer` is the other direction.
    mutating func step(_ me: inout Direction, _ peer: inout Direction) {
        let action = Int.random(in: 0..<100, using: &rng)
        switch action {
        case 0..<35:
            send(&me, flags: chance(50) ? [.psh, .ack] : [.ack])
        case 35..<60:
            acknowledge(&me, peer)
        case 60..<68:
            // Resend a recent segment, alone or merged with its successor.
            guard let index = me.sent.indices.suffix(8).randomElement(using: &rng) else { return }
            var segment = me.sent[index]
            if index + 1 < me.sent.count && chance(30) { segment.end = me.sent[index + 1].end }
            let length = Int(segment.end &- segment.start)
            guard length > 0 && length < 3000 else { return }
            emit(RTTWire.tcp(me.from, me.to, seq: segment.start, ack: me.ack, payload: length))
        case 68..<74:
            // Two new segments captured in the opposite order.
            let first = newSegment(&me)
            let second = newSegment(&me)
            emit(RTTWire.tcp(me.from, me.to, seq: second.start, ack: me.ack, payload: Int(second.end &- second.start)))
            emit(RTTWire.tcp(me.from, me.to, seq: first.start, ack: me.ack, payload: Int(first.end &- first.start)))
        case 74..<77:
            emit(RTTWire.tcp(me.from, me.to, seq: me.next &- 1, ack: me.ack, payload: chance(50) ? 1 : 0))
        case 77..<80 where withoutACKBit:
            let segment = newSegment(&me)
            let field = chance(50) ? peer.next : UInt32.random(in: 0...UInt32.max, using: &rng)
            emit(RTTWire.tcp(me.from, me.to, seq: segment.start, ack: field, flags: [.psh],
                             payload: Int(segment.end &- segment.start)))
        default:
            send(&me, flags: [.ack])
        }
    }

    mutating func newSegment(_ me: inout Direction) -> (start: UInt32, end: UInt32) {
        let length = UInt32(chance(20) ? Int.random(in: 1...3, using: &rng) : Int.random(in: 1...1400, using: &rng))
        let segment = (start: me.next, end: me.next &+ length)
        me.sent.append(segment)
        me.next = segment.end
        return segment
    }

    mutating func send(_ me: inout Direction, flags: TCPFlags) {
        let segment = newSegment(&me)
        emit(RTTWire.tcp(me.from, me.to, seq: segment.start, ack: me.ack, flags: flags,
                         payload: Int(segment.end &- segment.start)))
    }

    /// `me` acknowledges the peer's data: all of it, to a segment boundary, into the
    /// middle of a segment, or the same number again, sometimes with SACK blocks.
    mutating func acknowledge(_ me: inout Direction, _ peer: Direction) {
        let outstanding = peer.sent.filter { Int32(bitPattern: me.ack &- $0.end) < 0 }
        let choice = Int.random(in: 0..<100, using: &rng)
        if choice < 40 {
            me.ack = peer.next
        } else if choice < 70, let segment = outstanding.randomElement(using: &rng) {
            me.ack = segment.end
        } else if choice < 85, let segment = outstanding.randomElement(using: &rng), segment.end &- segment.start > 1 {
            me.ack = segment.start &+ UInt32.random(in: 1..<(segment.end &- segment.start), using: &rng)
        }
        var sack: [(UInt32, UInt32)] = []
        if chance(30), let block = outstanding.randomElement(using: &rng) { sack.append((block.start, block.end)) }
        emit(RTTWire.tcp(me.from, me.to, seq: me.next, ack: me.ack, sack: sack))
    }

    /// Several conversations, interleaved by capture time, with one 4-tuple reused.
    static func capture(seed: UInt64, withoutACKBit: Bool) -> [(timeNanoseconds: Int64, bytes: [UInt8])] {
        var all: [(timeNanoseconds: Int64, bytes: [UInt8])] = []
        let pairs = [
            (RTTEndpoint("10.1.0.1", 40001), RTTEndpoint("10.1.0.2", 9000)),
            (RTTEndpoint("fd00:1::1", 40002), RTTEndpoint("fd00:1::2", 9000)),
            (RTTEndpoint("10.1.0.3", 40003), RTTEndpoint("10.1.0.2", 9000)),
        ]
        for (i, pair) in pairs.enumerated() {
            var scenario = TCPScenario(seed: seed &* 31 &+ UInt64(i), withoutACKBit: withoutACKBit)
            scenario.connection(pair.0, pair.1, steps: 120)
            if i == 0 {
                scenario.time += 1_000_000
                scenario.connection(pair.0, pair.1, steps: 40)
            }
            all += scenario.frames
        }
        return all.enumerated().sorted { ($0.element.timeNanoseconds, $0.offset) < ($1.element.timeNanoseconds, $1.offset) }
            .map(\.element)
    }
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("wirelat-rtt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private struct AckSample: Equatable, CustomStringConvertible {
    var frame: UInt64
    var acked: UInt64
    var nanoseconds: UInt64
    var description: String { "frame \(frame) acks \(acked): \(nanoseconds) ns" }
}

private func ackSamples(_ samples: [RTTSample]) -> [AckSample] {
    samples.filter { $0.method == .ack }.map {
        AckSample(frame: $0.closingPacketNumber, acked: $0.openingPacketNumber, nanoseconds: $0.rttNanoseconds)
    }
}

private func tsharkSamples(_ file: URL) throws -> [AckSample] {
    try RTTTools.tsharkAckRTT(file.path).map { AckSample(frame: $0.frame, acked: $0.acked, nanoseconds: $0.nanoseconds) }
}

/// Reports the first difference between two sample lists, not thousands of lines.
private func expectSameSamples(_ engine: [AckSample], _ tshark: [AckSample], _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    if let i = zip(engine, tshark).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record("\(what): sample \(i) differs: engine \(engine[i]), tshark \(tshark[i])", sourceLocation: sourceLocation)
    } else if engine.count != tshark.count {
        Issue.record("\(what): engine \(engine.count) samples, tshark \(tshark.count)", sourceLocation: sourceLocation)
    }
}

@Suite("RTT against tshark")
struct RTTTsharkTests {
    /// Generated conversations full of retransmissions, reordering and partial ACKs:
    /// the tshark rule gives exactly tshark's ack_rtt, frame for frame; Karn's rule gives
    /// a subset, missing only ACKs that covered resent or reordered data.
    @Test(.enabled(if: RTTTools.haveTshark), arguments: [(1, false), (2, false), (3, false), (4, true), (5, true)])
    func tsharkRTTGeneratedConversations(_ seed: UInt64, _ withoutACKBit: Bool) throws {
        let frames = TCPScenario.capture(seed: seed, withoutACKBit: withoutACKBit)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("generated.pcap")
        let bytes = RTTPcapWriter.file(frames)
        try Data(bytes).write(to: file)
        let expected = try tsharkSamples(file)
        #expect(expected.count > 50)

        var tsharkRule = RTTConfiguration()
        tsharkRule.ackRule = .tshark
        let exact = RTTTools.engineSamples(bytes, configuration: tsharkRule)
        expectSameSamples(ackSamples(exact.samples), expected, "seed \(seed)")
        #expect(exact.engine.counters.retransmissions > 0)

        guard !withoutACKBit else { return }
        let karn = ackSamples(RTTTools.engineSamples(bytes, configuration: RTTConfiguration()).samples)
        var remaining = expected[...]
        for sample in karn {
            guard let at = remaining.firstIndex(of: sample) else {
                Issue.record("seed \(seed): Karn sample \(sample) is not one of tshark's")
                break
            }
            remaining = remaining[(at + 1)...]
        }
        #expect(karn.count < expected.count)
        #expect(karn.count > expected.count / 4)
    }

    /// A real capture of TCP over loopback (IPv4 and IPv6, request/response exchanges,
    /// bulk transfers, a refused connection) and of ping, taken with tcpdump: the ack
    /// method equals tshark's `tcp.analysis.ack_rtt` one for one, in frame order, at the
    /// microsecond resolution tcpdump writes; the icmp method equals `icmp.resptime`.
    @Test(.enabled(if: RTTTools.canCaptureLoopback))
    func tsharkRTTLoopbackCaptureMatchesAckRTT() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("loopback.pcap")
        let script = directory.appendingPathComponent("traffic.py")
        try Self.traffic.write(to: script, atomically: true, encoding: .utf8)
        // Three ports free now, below the other suites' servers (20 000 up) and the
        // kernel's ephemeral range (32 768 up), where another suite's connections live.
        let base = (0..<500).lazy.map { _ in Int.random(in: 10_000...19_997) }
            .first { b in (0..<3).allSatisfy { loopbackPortIsFree(UInt16(b + $0)) } } ?? 15_000
        let ports = [base, base + 1, base + 2]

        let tcpdump = try RTTTools.start(RTTTools.path("tcpdump")!, [
            "-i", "lo", "-U", "-s", "256", "-B", "8192", "-w", file.path,
            "tcp port \(ports[0]) or tcp port \(ports[1]) or tcp port \(ports[2]) or icmp or icmp6",
        ])
        defer { tcpdump.kill() }
        Thread.sleep(forTimeInterval: 1.5)
        let output = try RTTTools.run(RTTTools.path("python3")!, [script.path] + ports.map(String.init))
        #expect(output.contains("done"))
        let ping = RTTTools.path("ping")!
        _ = try RTTTools.run(ping, ["-c", "3", "-i", "0.2", "127.0.0.1"])
        _ = try RTTTools.run(ping, ["-6", "-c", "3", "-i", "0.2", "::1"])
        // tcpdump -U writes each packet as it reads it, and packets it has not read when
        // SIGINT comes are lost: wait (at most 10 s) until the six echo exchanges are in
        // the file, however slowly a busy machine lets tcpdump catch up.
        for _ in 0..<100 {
            let written = [UInt8]((try? Data(contentsOf: file)) ?? Data())
            if RTTTools.engineSamples(written, configuration: RTTConfiguration()).samples.filter({ $0.method == .icmp }).count >= 6 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        tcpdump.signal(SIGINT)
        for _ in 0..<100 where tcpdump.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!tcpdump.isRunning, "tcpdump did not stop on SIGINT")

        let bytes = [UInt8](try Data(contentsOf: file))
        let expected = try tsharkSamples(file)
        #expect(expected.count > 50)
        var tsharkRule = RTTConfiguration()
        tsharkRule.ackRule = .tshark
        expectSameSamples(ackSamples(RTTTools.engineSamples(bytes, configuration: tsharkRule).samples), expected, "tshark rule")
        let karn = RTTTools.engineSamples(bytes, configuration: RTTConfiguration())
        let counters = karn.engine.counters
        if counters.retransmissions == 0 && counters.outOfOrder == 0 && counters.keepAlives == 0 {
            expectSameSamples(ackSamples(karn.samples), expected, "Karn rule")
        }
        let report = karn.engine.report(target: "lo")
        // Four connections and two refused ones.
        #expect(report.method(.handshake)?.samples == 6)
        #expect((report.method(.reqresp)?.samples ?? 0) >= 60)
        #expect((report.method(.tsecr)?.samples ?? 0) > 10)

        let icmp = try RTTTools.run(RTTTools.path("tshark")!, [
            "-r", file.path, "-Y", "icmp.resptime or icmpv6.resptime", "-T", "fields",
            "-e", "frame.number", "-e", "icmp.resptime", "-e", "icmpv6.resptime",
        ])
        let tsharkEchoes = icmp.split(separator: "\n").map { line -> (UInt64, Double) in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: true)
            return (UInt64(fields[0])!, Double(fields[1])!)
        }
        let echoes = karn.samples.filter { $0.method == .icmp }
        #expect(echoes.map(\.closingPacketNumber) == tsharkEchoes.map(\.0))
        for (sample, (_, milliseconds)) in zip(echoes, tsharkEchoes) {
            #expect(abs(Double(sample.rttNanoseconds) / 1e6 - milliseconds) < 0.0005)
        }
        #expect(echoes.count >= 6)
    }

    /// Sync request/response exchanges and a 2 MB upload per connection, twice over IPv4
    /// and twice over IPv6, then a connection to a closed port on each.
    static let traffic = """
        import random, socket, sys, threading
        p4, p6, closed = map(int, sys.argv[1:4])
        random.seed(7)

        def recvall(c, n):
            data = b""
            while len(data) < n:
                chunk = c.recv(n - len(data))
                if not chunk:
                    return None
                data += chunk
            return data

        def serve(listener):
            for _ in range(2):
                c, _ = listener.accept()
                with c:
                    while True:
                        header = recvall(c, 8)
                        if not header:
                            break
                        size, reply = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
                        recvall(c, size)
                        c.sendall(b"r" * reply)
            listener.close()

        def client(family, address, port):
            for _ in range(2):
                c = socket.socket(family, socket.SOCK_STREAM)
                c.connect((address, port))
                for _ in range(15):
                    size, reply = random.choice([10, 200, 3000, 70000]), random.choice([5, 500, 20000])
                    c.sendall(size.to_bytes(4, "big") + reply.to_bytes(4, "big") + b"q" * size)
                    recvall(c, reply)
                c.sendall((2000000).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"b" * 2000000)
                recvall(c, 2)
                c.close()

        threads = []
        for family, address, port in [(socket.AF_INET, "127.0.0.1", p4), (socket.AF_INET6, "::1", p6)]:
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(8)
            t = threading.Thread(target=serve, args=(listener,))
            t.start()
            threads.append(t)
            client(family, address, port)
        for t in threads:
            t.join()
        for family, address in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
            try:
                socket.socket(family, socket.SOCK_STREAM).connect((address, closed))
            except ConnectionRefusedError:
                pass
        print("done")
        """
}
