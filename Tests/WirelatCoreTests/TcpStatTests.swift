import Foundation
import Testing
import WirelatTestSupport
@testable import WirelatCore

/// One line of Fixtures/tcpstat/cases.tsv: a capture and the tcpstat command
/// line whose output expected/NAME.txt holds.
struct TcpStatCase: CustomStringConvertible, Sendable {
    let name: String
    let capture: String
    let interval: String
    let options: [String]
    let format: String?

    var description: String { name }

    /// The arguments tcpstat was run with, after `-r CAPTURE`.
    var tcpstatArguments: [String] {
        options + (format.map { ["-o", $0] } ?? []) + [interval]
    }
}

enum TcpStatFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tcpstat")

    static let cases: [TcpStatCase] = {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("cases.tsv"), encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5 else { return nil }
            return TcpStatCase(
                name: f[0], capture: f[1], interval: f[2],
                options: f[3] == "-" ? [] : f[3].split(separator: " ").map(String.init),
                format: f[4] == "-" ? nil : f[4])
        }
    }()

    static let tcpstatPath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/tcpstat"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// What wirelat prints for `tcpstat -r capture arguments...` (the same
    /// options tcpstat takes: -e, -l, -R SECONDS, -o FORMAT, INTERVAL or -1).
    static func wirelatOutput(capture: URL, arguments: [String]) throws -> String {
        var format = TcpStatFormat.default
        var printsEmpty = true
        var countsLinkLayer = false
        var relative = 0.0
        var interval = 5.0
        var rest = arguments[...]
        while let a = rest.popFirst() {
            switch a {
            case "-e": printsEmpty = false
            case "-l": countsLinkLayer = true
            case "-R": relative = Double(rest.popFirst()!)!
            case "-o": format = try TcpStatFormat(rest.popFirst()!)
            default: interval = Double(a)!
            }
        }
        var accumulator = interval == -1
            ? TcpStatAccumulator.wholeCapture(format: format, printsEmptyIntervals: printsEmpty, relativeSeconds: relative)
            : TcpStatAccumulator(intervalSeconds: interval, format: format,
                                 printsEmptyIntervals: printsEmpty, relativeSeconds: relative)
        var classifier = TcpStatClassifier(countsLinkLayer: countsLinkLayer)
        var out = ""
        let data = try Data(contentsOf: capture)
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var reader = try PcapFileReader(bytes: bytes)
            do {
                try accumulator.consume(&reader, classifier: &classifier) { out += $0 }
            } catch {
                // tcpstat reports a damaged file on stderr and prints what it counted.
            }
        }
        return out
    }

    /// Runs the installed tcpstat; nil when it is not installed or outlives `timeout`.
    static func tcpstatOutput(capture: URL, arguments: [String], timeout: TimeInterval = 30) throws -> String? {
        guard let path = tcpstatPath else { return nil }
        return try TestChild.output(path, ["-r", capture.path] + arguments, timeout: .seconds(Int64(timeout)))?.output
    }
}

@Suite("tcpstat")
struct TcpStatTests {
    // MARK: golden comparisons

    @Test("output equals tcpstat's saved output, and tcpstat's own when installed",
          arguments: TcpStatFixtures.cases)
    func golden(_ c: TcpStatCase) throws {
        let capture = TcpStatFixtures.directory.appendingPathComponent(c.capture)
        let expected = try String(
            contentsOf: TcpStatFixtures.directory.appendingPathComponent("expected/\(c.name).txt"), encoding: .utf8)
        let ours = try TcpStatFixtures.wirelatOutput(capture: capture, arguments: c.tcpstatArguments)
        #expect(ours == expected, "\(c.name): tcpstat -r \(c.capture) \(c.tcpstatArguments)")
        if TcpStatFixtures.tcpstatPath == nil {
            print("note: tcpstat is not installed; \(c.name) compared with the saved output only")
        } else if let live = try TcpStatFixtures.tcpstatOutput(capture: capture, arguments: c.tcpstatArguments) {
            #expect(ours == live, "\(c.name): differs from the installed tcpstat")
        }
    }

    @Test("the fixture list is there")
    func fixturesPresent() {
        #expect(TcpStatFixtures.cases.count >= 40)
    }

    /// Every capture of a directory (set WIRELAT_TCPSTAT_CORPUS, e.g. to the
    /// tcpdump test corpus) against the installed tcpstat.
    @Test("a whole corpus against the installed tcpstat (WIRELAT_TCPSTAT_CORPUS)",
          .enabled(if: ProcessInfo.processInfo.environment["WIRELAT_TCPSTAT_CORPUS"] != nil
                       && TcpStatFixtures.tcpstatPath != nil))
    func corpus() throws {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["WIRELAT_TCPSTAT_CORPUS"]!)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        let format = #"%A %a %B %b %C %d %I %l %M %m %N %n %p %R %r %S %s %T %U %V\n"#
        var compared = 0
        var skipped: [String] = []
        for name in names {
            let capture = dir.appendingPathComponent(name)
            if (try? Data(contentsOf: capture)).map({ data in
                data.withUnsafeBytes { (try? PcapFileReader(bytes: $0)) == nil }
            }) ?? true {
                skipped.append(name)
                continue
            }
            // Fuzzed timestamps decades apart would print millions of empty intervals: skip those.
            let span = try Self.timeSpanSeconds(capture)
            for interval in ["1", "0.5", "-1"] {
                let arguments = ["-o", format, interval]
                if interval != "-1", span / Double(interval)! > 200_000 {
                    skipped.append("\(name) \(interval)")
                    continue
                }
                let ours = try TcpStatFixtures.wirelatOutput(capture: capture, arguments: arguments)
                guard let theirs = try TcpStatFixtures.tcpstatOutput(capture: capture, arguments: arguments, timeout: 20)
                else {
                    skipped.append("\(name) \(interval)")
                    continue
                }
                #expect(ours == theirs, "\(name) at \(interval)")
                compared += 1
            }
        }
        print("tcpstat corpus: \(compared) comparisons, \(skipped.count) skipped: \(skipped.joined(separator: ", "))")
    }

    /// Set WIRELAT_TCPSTAT_BENCH (and build with `-c release`) to time 2 million
    /// packets through classifier and accumulator against tcpstat on the same file.
    @Test("throughput against tcpstat (WIRELAT_TCPSTAT_BENCH)",
          .enabled(if: ProcessInfo.processInfo.environment["WIRELAT_TCPSTAT_BENCH"] != nil
                       && TcpStatFixtures.tcpstatPath != nil))
    func throughput() throws {
        let count = 2_000_000
        let frames: [[UInt8]] = [
            Self.macs + [0x08, 0x00] + Self.ipv4TCP, Self.macs + [0x08, 0x00] + Self.ipv4UDP,
            Self.macs + [0x86, 0xDD] + Self.ipv6(58, Self.zeros8), Self.macs + [0x08, 0x06] + Self.arp,
        ]
        var file: [UInt8] = []
        file.reserveCapacity(24 + count * 80)
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { file += $0 } }
        le32(0xA1B2_C3D4); file += [2, 0, 4, 0]; le32(0); le32(0); le32(65535); le32(1)
        for i in 0..<count {
            let frame = frames[i & 3]
            let micros = UInt64(i) * 10
            le32(1_700_000_000 + UInt32(micros / 1_000_000)); le32(UInt32(micros % 1_000_000))
            le32(UInt32(frame.count)); le32(UInt32(frame.count + i % 1000))
            file += frame
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wirelat-tcpstat-bench.pcap")
        try Data(file).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }

        let clock = ContinuousClock()
        var ours = ""
        let oursTime = try clock.measure {
            ours = try TcpStatFixtures.wirelatOutput(capture: path, arguments: ["1"])
        }
        var theirs: String?
        let theirsTime = try clock.measure {
            theirs = try TcpStatFixtures.tcpstatOutput(capture: path, arguments: ["1"], timeout: 120)
        }
        #expect(ours == theirs)
        var packets = 0
        let readingTime = try clock.measure {
            let data = try Data(contentsOf: path)
            try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                var reader = try PcapFileReader(bytes: bytes)
                while try reader.next() != nil { packets += 1 }
            }
        }
        #expect(packets == count)
        print("tcpstat throughput: reading the file alone takes \(readingTime) of wirelat's time")
        let ratio = theirsTime / oursTime
        print("tcpstat throughput: wirelat \(oursTime), tcpstat \(theirsTime) for \(count) packets; wirelat is \(String(format: "%.2f", ratio))x tcpstat's speed")
    }

    /// From the first packet to the latest one, in seconds: how far tcpstat's intervals run.
    static func timeSpanSeconds(_ capture: URL) throws -> Double {
        let data = try Data(contentsOf: capture)
        return data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Double in
            guard var reader = try? PcapFileReader(bytes: bytes) else { return 0 }
            var first: Double?
            var latest = -Double.infinity
            while let packet = try? reader.next() {
                let f = PacketFacts.classify(packet)
                let t = Double(f.timestampSeconds) + Double(f.timestampMicroseconds) / 1e6
                if first == nil { first = t }
                latest = max(latest, t)
            }
            return first.map { latest - $0 } ?? 0
        }
    }

    // MARK: format

    @Test("the default format is tcpstat's")
    func defaultFormat() {
        #expect(TcpStatFormat.default.source == #"Time:%S\tn=%n\tavg=%a\tstddev=%d\tbps=%b\n"#)
        #expect(TcpStatFormat.default.fields == [.epochSeconds, .packets, .averageSize, .sizeStandardDeviation, .bitsPerSecond])
    }

    @Test("every field tcpstat's man page lists parses")
    func allFields() throws {
        let format = try TcpStatFormat("%A%a%B%b%C%d%I%l%M%m%N%n%p%R%r%S%s%T%U%V")
        #expect(format.fields.map(\.letter) == Array("AaBbCdIlMmNnpRrSsTUV"))
    }

    @Test("escapes, %% and %1 print as tcpstat prints them")
    func escapes() throws {
        let format = try TcpStatFormat(#"a\tb\n\\\q\a\b\f\r\v%%|%1|%01|é\é"#)
        #expect(format.pieces == [.text("a\tb\n\\q\u{07}\u{08}\u{0C}\r\u{0B}%%|||é\u{E9}")])
    }

    @Test("unknown fields, file descriptors and dangling characters are refused", arguments: [
        ("%q", 0, "unknown tcpstat field %q"),
        ("n=%n %x", 5, "unknown tcpstat field %x"),
        ("%", 0, "lone '%'"),
        ("abc\\", 3, "lone '\\'"),
        ("%2", 0, "file descriptor 2"),
        ("%0", 0, "file descriptor 0"),
        ("%12", 0, "file descriptor 12"),
        ("%D", 0, "unknown tcpstat field %D"),
    ])
    func formatErrors(source: String, offset: Int, message: String) {
        let error = #expect(throws: TcpStatFormatError.self) { try TcpStatFormat(source) }
        #expect(error?.offset == offset)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("the unknown-field error names every field")
    func errorListsFields() {
        do {
            _ = try TcpStatFormat("%Z")
            Issue.record("accepted %Z")
        } catch {
            #expect(error.description.contains("%A %a %B %b %C %d %I %l %M %m %N %n %p %R %r %S %s %T %U %V and %%"))
        }
    }

    // MARK: classification

    static let ipv4TCP = bytes("4500 0028 0001 0000 4006 0000 0a000001 0a000002") + [UInt8](repeating: 0, count: 20)
    static let ipv4UDP = bytes("4500 001c 0001 0000 4011 0000 0a000001 0a000002") + [UInt8](repeating: 0, count: 8)
    static let ipv4ICMP = bytes("4500 001c 0001 0000 4001 0000 0a000001 0a000002") + [UInt8](repeating: 0, count: 8)
    static let ipv4GRE = bytes("4500 0018 0001 0000 402f 0000 0a000001 0a000002") + [UInt8](repeating: 0, count: 4)
    static func ipv6(_ next: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF), next, 64]
            + [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0, count: 15) + [2] + payload
    }
    static let macs = bytes("020000000002 020000000001")
    static let arp = bytes("0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002")

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    static func facts(_ frame: [UInt8], link: LinkType, wire: Int? = nil, countsLinkLayer: Bool = false) -> PacketFacts {
        frame.withUnsafeBytes { data in
            PacketFacts.classify(
                CapturedPacket(timestamp: CaptureTimestamp(seconds: 1_700_000_000, fraction: 250_000, unit: .microseconds),
                               wireLength: wire ?? frame.count, linkType: link, interfaceID: 0, data: data),
                countsLinkLayer: countsLinkLayer)
        }
    }

    static let zeros20 = [UInt8](repeating: 0, count: 20)
    static let zeros8 = [UInt8](repeating: 0, count: 8)
    static let ethernetFrames: [(String, [UInt8], PacketFacts.Protocols)] = [
        ("IPv4 TCP", macs + [0x08, 0x00] + ipv4TCP, [.ipv4, .tcp]),
        ("IPv4 UDP", macs + [0x08, 0x00] + ipv4UDP, [.ipv4, .udp]),
        ("IPv4 ICMP", macs + [0x08, 0x00] + ipv4ICMP, [.ipv4, .icmp]),
        ("IPv4 GRE", macs + [0x08, 0x00] + ipv4GRE, [.ipv4]),
        ("IPv6 TCP", macs + [0x86, 0xDD] + ipv6(6, zeros20), [.ipv6, .tcp]),
        ("IPv6 UDP", macs + [0x86, 0xDD] + ipv6(17, zeros8), [.ipv6, .udp]),
        ("ICMPv6 counts as ICMP", macs + [0x86, 0xDD] + ipv6(58, [128, 0, 0, 0, 0, 1, 0, 1]), [.ipv6, .icmp]),
        ("hop-by-hop before ICMPv6 is not ICMP", macs + [0x86, 0xDD] + ipv6(0, [58, 0, 5, 2, 0, 0, 1, 0] + zeros8), [.ipv6]),
        ("ARP", macs + [0x08, 0x06] + arp, [.arp]),
        ("reverse ARP counts nowhere", macs + [0x80, 0x35] + arp, []),
        ("802.1Q-tagged IPv4 counts nowhere", macs + [0x81, 0x00, 0x00, 0x05, 0x08, 0x00] + ipv4TCP, []),
        ("802.3 LLC counts nowhere", macs + [0x00, 0x26, 0x42, 0x42, 0x03] + zeros20, []),
    ]

    @Test("Ethernet: size is the wire length less 14, protocols from the first EtherType",
          arguments: ethernetFrames)
    func ethernet(name: String, frame: [UInt8], protocols: PacketFacts.Protocols) {
        let f = Self.facts(frame, link: .ethernet)
        #expect(f.protocols == protocols, "\(name)")
        #expect(f.sizeBytes == UInt32(frame.count - 14), "\(name)")
        #expect(Self.facts(frame, link: .ethernet, countsLinkLayer: true).sizeBytes == UInt32(frame.count), "\(name) with -l")
        #expect(f.timestampSeconds == 1_700_000_000 && f.timestampMicroseconds == 250_000)
        #expect(f.timestampNanoseconds == 1_700_000_000_250_000_000)
    }

    @Test("Ethernet: the wire length counts, not the captured length; shorter than 14 wraps")
    func ethernetLengths() {
        #expect(Self.facts(Self.macs + [0x08, 0x00] + Self.ipv4TCP, link: .ethernet, wire: 9014).sizeBytes == 9000)
        #expect(Self.facts(Self.macs + [0x08, 0x00] + Self.ipv4TCP, link: .ethernet, wire: 10).sizeBytes == UInt32.max - 3)
    }

    @Test("Linux cooked captures and raw IP: whole wire length, no protocol column", arguments: [
        LinkType.linuxSLL, .linuxSLL2, .raw, .rawLinkType, .ipv4, .ipv6, .loop,
    ])
    func otherLinks(link: LinkType) {
        let sll = Self.bytes("0000 0304 0006 000000000000 0000 0800") + Self.ipv4TCP
        let f = Self.facts(link == .raw || link == .rawLinkType || link == .ipv4 ? Self.ipv4TCP : sll, link: link, wire: 1234)
        #expect(f.sizeBytes == 1234)
        #expect(f.protocols == [])
    }

    static let nullFamilies: [([UInt8], PacketFacts.Protocols)] = [
        ([2, 0, 0, 0], [.ipv4, .tcp]),
        ([10, 0, 0, 0], [.ipv6, .tcp]),
        ([24, 0, 0, 0], []),
        ([30, 0, 0, 0], []),
        ([0, 0, 0, 2], []),
    ]

    @Test("NULL: host-order family, only Linux's AF_INET and AF_INET6; the header counts in the size",
          arguments: nullFamilies)
    func null(family: [UInt8], protocols: PacketFacts.Protocols) {
        let payload = family[0] == 10 ? Self.ipv6(6, Self.zeros20) : Self.ipv4TCP
        let f = Self.facts(family + payload, link: .null)
        #expect(f.protocols == protocols)
        #expect(f.sizeBytes == UInt32(4 + payload.count))
    }

    @Test("PPP: size less 4, 0x0021 IPv4, 0x0057 IPv6")
    func ppp() {
        let link = LinkType(rawValue: 9)
        let v4 = Self.facts([0xFF, 0x03, 0x00, 0x21] + Self.ipv4UDP, link: link)
        #expect(v4.protocols == [.ipv4, .udp] && v4.sizeBytes == UInt32(Self.ipv4UDP.count))
        let v6 = Self.facts([0xFF, 0x03, 0x00, 0x57] + Self.ipv6(58, [128, 0, 0, 0]), link: link)
        #expect(v6.protocols == [.ipv6, .icmp])
        #expect(Self.facts([0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4], link: link).protocols == [])
    }

    @Test("a frame cut inside its headers reads what the previous packet left, as tcpstat does")
    func staleBytes() {
        var classifier = TcpStatClassifier()
        func classify(_ frame: [UInt8], wire: Int) -> PacketFacts {
            frame.withUnsafeBytes { data in
                classifier.classify(CapturedPacket(
                    timestamp: CaptureTimestamp(seconds: 1, fraction: 0, unit: .microseconds),
                    wireLength: wire, linkType: .ethernet, interfaceID: 0, data: data))
            }
        }
        let tcp = Self.macs + [0x08, 0x00] + Self.ipv4TCP
        #expect(classify(tcp, wire: tcp.count).protocols == [.ipv4, .tcp])
        // 20 bytes: the IPv4 protocol byte (frame offset 23) was not captured.
        let cutUDP = Array((Self.macs + [0x08, 0x00] + Self.ipv4UDP)[..<20])
        #expect(classify(cutUDP, wire: 42).protocols == [.ipv4, .tcp])
        // Nothing captured: the EtherType and protocol are the last ones seen.
        let empty = classify([], wire: 0)
        #expect(empty.protocols == [.ipv4, .tcp])
        #expect(empty.sizeBytes == UInt32.max - 13)
        // A fresh classifier starts from zeroed buffers.
        #expect(Self.facts([], link: .ethernet, wire: 0).protocols == [])
    }

    @Test("nanosecond captures are truncated to microseconds toward zero, as libpcap scales them")
    func nanosecondTimestamps() {
        let frame = Self.macs + [0x08, 0x00] + Self.ipv4TCP
        func micro(_ fraction: UInt32) -> Int64 {
            frame.withUnsafeBytes { data in
                PacketFacts.classify(CapturedPacket(
                    timestamp: CaptureTimestamp(seconds: 5, fraction: fraction, unit: .nanoseconds),
                    wireLength: frame.count, linkType: .ethernet, interfaceID: 0, data: data)).timestampMicroseconds
            }
        }
        #expect(micro(999_999_999) == 999_999)
        #expect(micro(1_999) == 1)
        #expect(micro(UInt32(bitPattern: -4096)) == -4)
    }

    @Test("facts from nanoseconds since the epoch")
    func factsFromNanoseconds() {
        let f = PacketFacts(timestampNanoseconds: 1_700_000_000_123_456_789, sizeBytes: 60, protocols: .udp)
        #expect(f.timestampSeconds == 1_700_000_000 && f.timestampMicroseconds == 123_456)
        let g = PacketFacts(timestampNanoseconds: -1_500, sizeBytes: 60, protocols: [])
        #expect(g.timestampSeconds == -1 && g.timestampMicroseconds == 999_998)
    }

    // MARK: accumulator

    static func lines(_ interval: Double, _ format: String, _ packets: [(Int64, Int64, UInt32)],
                      printsEmpty: Bool = true) throws -> [String] {
        var acc = TcpStatAccumulator(intervalSeconds: interval, format: try TcpStatFormat(format),
                                     printsEmptyIntervals: printsEmpty)
        var out: [String] = []
        for (s, us, size) in packets {
            acc.add(PacketFacts(timestampSeconds: s, timestampMicroseconds: us, sizeBytes: size, protocols: []),
                    emit: { out.append($0) })
        }
        acc.finish { out.append($0) }
        return out
    }

    @Test("intervals start at the first packet; one on the boundary stays in; gaps print empty intervals")
    func intervals() throws {
        let out = try Self.lines(1, #"%r %n %N %m %M\n"#, [
            (100, 250_000, 60), (101, 250_000, 40), (101, 250_001, 100), (104, 0, 1500),
        ])
        #expect(out == [
            "0.500000 2 100 40 60\n", "1.500000 1 100 100 100\n", "2.500000 0 0 0 0\n",
            "3.500000 1 1500 1500 1500\n",
        ])
    }

    @Test("a gap of up to maximumEmptyIntervals prints every empty interval; a longer one prints none, is reported, and the times go on")
    func longGapSkipped() throws {
        func run(_ packets: [(Int64, Int64)]) throws -> (lines: [String], skipped: [TcpStatAccumulator.SkippedIntervals]) {
            var acc = TcpStatAccumulator(intervalSeconds: 1, format: try TcpStatFormat(#"%S %n\n"#))
            acc.maximumEmptyIntervals = 3
            var out: [String] = []
            var skipped: [TcpStatAccumulator.SkippedIntervals] = []
            for (s, us) in packets {
                acc.add(PacketFacts(timestampSeconds: s, timestampMicroseconds: us, sizeBytes: 60, protocols: []),
                        emit: { out.append($0) }, skipped: { skipped.append($0) })
            }
            acc.finish { out.append($0) }
            return (out, skipped)
        }
        let printed = try run([(100, 0), (104, 500_000)])
        #expect(printed.lines == ["101 1\n", "102 0\n", "103 0\n", "104 0\n", "105 1\n"])
        #expect(printed.skipped.isEmpty)
        let skipped = try run([(100, 0), (105, 500_000), (106, 0)])
        #expect(skipped.lines == ["101 1\n", "106 2\n"])
        #expect(skipped.skipped == [TcpStatAccumulator.SkippedIntervals(count: 4, fromSeconds: 101, toSeconds: 105)])
    }

    @Test("a timestamp 10 years ahead in 1 s intervals: two lines and one report of 315359998 skipped, not 315 million lines")
    func tenYearJump() {
        var acc = TcpStatAccumulator(intervalSeconds: 1)
        var lines = 0
        var skipped: [Int] = []
        for s: Int64 in [1_700_000_000, 1_700_000_000 + 315_360_000] {
            acc.add(PacketFacts(timestampSeconds: s, timestampMicroseconds: 0, sizeBytes: 60, protocols: []),
                    emit: { _ in lines += 1 }, skipped: { skipped.append($0.count) })
        }
        acc.finish { _ in lines += 1 }
        #expect(lines == 2)
        #expect(skipped == [315_359_998])
    }

    @Test("-e leaves out empty intervals")
    func noEmpty() throws {
        let out = try Self.lines(1, #"%R %n\n"#, [(100, 0, 60), (104, 500_000, 60)], printsEmpty: false)
        #expect(out == ["1 1\n", "5 1\n"])
    }

    @Test("a packet earlier than the interval start joins the current interval")
    func outOfOrder() throws {
        let out = try Self.lines(1, #"%n %p %a %d\n"#, [(100, 0, 60), (99, 0, 100), (100, 500_000, 80)])
        #expect(out == ["3 3.00 80.00 16.33\n"])
    }

    @Test("whole-capture mode divides by the capture's span")
    func wholeCapture() throws {
        var acc = TcpStatAccumulator.wholeCapture(format: try TcpStatFormat(#"%n %p %B %r\n"#))
        var out = ""
        acc.add(PacketFacts(timestampSeconds: 10, timestampMicroseconds: 0, sizeBytes: 100, protocols: [])) { out += $0 }
        acc.add(PacketFacts(timestampSeconds: 12, timestampMicroseconds: 0, sizeBytes: 300, protocols: [])) { out += $0 }
        acc.finish { out += $0 }
        #expect(out == "2 1.00 200.00 1.000000\n")
    }

    @Test("an empty capture prints one interval starting at time 0, as tcpstat does")
    func emptyCapture() {
        var acc = TcpStatAccumulator(intervalSeconds: 1)
        var out = ""
        acc.finish { out += $0 }
        #expect(out == "Time:1\tn=0\tavg=0.00\tstddev=0.00\tbps=0.00\n")
    }

    @Test("an interval in nanoseconds is the double atof gives for the same decimal", arguments: [
        ("0.1", Int64(100_000_000)), ("0.3", 300_000_000), ("0.001", 1_000_000), ("2.5", 2_500_000_000),
        ("0.7", 700_000_000), ("1.1", 1_100_000_000), ("0.000001", 1_000),
    ])
    func intervalNanoseconds(decimal: String, nanoseconds: Int64) {
        #expect(TcpStatAccumulator(intervalNanoseconds: nanoseconds).intervalSeconds == Double(decimal)!)
    }

    // MARK: number formatting

    @Test("%.Nf matches glibc's printf for awkward doubles")
    func fixedFormatting() {
        var values: [Double] = [
            0, -0.0, 0.005, 0.015, 0.025, 0.125, 0.375, 2.5, 3.5, 1e-7, 5e-7, 4.9999995, 1234.5650000000001,
            1_700_000_000.4999995, 1_795_285_635.490541, 4_294_967_282, 17_179_888_784, 1e15 + 0.3, 2e16,
            9.999999999999999e22, 1.8e19, 123_456_789_012_345_680, .greatestFiniteMagnitude,
            .leastNonzeroMagnitude, .leastNormalMagnitude, 0.5, 1.5, -2.675, .infinity, -.infinity,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            values.append(Double(bitPattern: generator.next() & 0x7FFF_FFFF_FFFF_FFFF))
            values.append(Double.random(in: 0..<1e6, using: &generator))
            values.append(Double(Int.random(in: 0..<10_000_000, using: &generator)) / 1000)
        }
        for v in values where !v.isNaN {
            for decimals in [0, 2, 6] {
                var ours = ""
                CFormat.appendFixed(v, decimals: decimals, to: &ours)
                let glibc = String(format: "%.\(decimals)f", v)
                #expect(ours == glibc, "\(v.bitPattern) with \(decimals) decimals")
            }
        }
        var nan = ""
        CFormat.appendFixed(-Double.nan, decimals: 2, to: &nan)
        #expect(nan == "-nan")
    }

    @Test("(int) casts truncate, and give INT_MIN out of range as x86-64 does")
    func intCast() {
        #expect(CFormat.int(1.9) == 1)
        #expect(CFormat.int(-1.9) == -1)
        #expect(CFormat.int(2_147_483_647.9) == Int32.max)
        #expect(CFormat.int(2_147_483_648) == Int32.min)
        #expect(CFormat.int(-2_147_483_648.5) == Int32.min)
        #expect(CFormat.int(-2_147_483_649) == Int32.min)
        #expect(CFormat.int(.nan) == Int32.min)
    }
}
