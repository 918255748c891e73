import Testing
@testable import WirelatCore

private func text(_ buffer: OutputBuffer) -> String {
    buffer.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
}

private func written(_ body: (inout OutputBuffer) -> Void) -> String {
    var buffer = OutputBuffer(capacity: 0)
    body(&buffer)
    return text(buffer)
}

@Suite("OutputBuffer: the printers' byte buffer")
struct OutputBufferTests {
    /// Every power of ten, one below and one above it: where the digit count changes.
    static let digitEdges: [UInt64] = {
        var values: [UInt64] = [0, 1, 9, UInt64(UInt32.max), UInt64(Int64.max), UInt64.max, UInt64.max - 1]
        var power: UInt64 = 10
        while true {
            values += [power - 1, power, power + 1]
            let (next, overflow) = power.multipliedReportingOverflow(by: 10)
            if overflow { break }
            power = next
        }
        return values
    }()

    @Test("%u: every digit-count edge from 0 to UInt64.max", arguments: digitEdges)
    func decimal(_ value: UInt64) {
        #expect(written { $0.appendDecimal(value) } == String(value))
        #expect(written { $0.appendDecimal(value, minimumDigits: 1) } == String(value))
    }

    @Test("%u of narrow and signed types")
    func decimalTypes() {
        #expect(written { $0.appendDecimal(UInt8.max) } == "255")
        #expect(written { $0.appendDecimal(UInt16.max) } == "65535")
        #expect(written { $0.appendDecimal(UInt32.max) } == "4294967295")
        // As C's %u of a negative int: the bits read as unsigned.
        #expect(written { $0.appendDecimal(-1 as Int) } == "18446744073709551615")
    }

    @Test("%0Nu pads with zeros and never cuts",
          arguments: [
            (0, 0, "0"), (0, 1, "0"), (0, 6, "000000"), (5, 2, "05"), (42, 2, "42"), (123, 2, "123"),
            (999_999, 6, "999999"), (1_000_000, 6, "1000000"), (7, 9, "000000007"), (4_294_967_295, 6, "4294967295"),
            (UInt64.max, 20, "18446744073709551615"), (UInt64.max, 25, "0000018446744073709551615"),
            (1, 40, String(repeating: "0", count: 39) + "1"),
          ] as [(UInt64, Int, String)])
    func padded(_ value: UInt64, _ minimumDigits: Int, _ expected: String) {
        #expect(written { $0.appendDecimal(value, minimumDigits: minimumDigits) } == expected)
    }

    @Test("two-digit fields")
    func twoDigits() {
        #expect(written { for v in [0, 5, 10, 59, 99] { $0.appendTwoDigits(v) } } == "0005105999")
    }

    @Test("%d")
    func signed() {
        #expect(written { $0.appendSignedDecimal(0) } == "0")
        #expect(written { $0.appendSignedDecimal(-7) } == "-7")
        #expect(written { $0.appendSignedDecimal(Int64.min) } == "-9223372036854775808")
        #expect(written { $0.appendSignedDecimal(Int64.max) } == "9223372036854775807")
    }

    @Test("%x and %0Nx")
    func hex() {
        #expect(written { $0.appendHex(0) } == "0")
        #expect(written { $0.appendHex(0, minimumDigits: 4) } == "0000")
        #expect(written { $0.appendHex(0xABC, minimumDigits: 2) } == "abc")
        #expect(written { $0.appendHex(0x800, minimumDigits: 4) } == "0800")
        #expect(written { $0.appendHex(UInt64.max) } == "ffffffffffffffff")
        #expect(written { $0.appendHex(1 << 60, minimumDigits: 20) } == "00001000000000000000")
        #expect(written { for b: UInt8 in [0, 0x0F, 0xA0, 0xFF] { $0.appendHexByte(b) } } == "000fa0ff")
    }

    @Test("literals of every short length, and one a scalar literal")
    func literals() {
        #expect(written { $0.appendASCII("") } == "")
        #expect(written { $0.appendASCII("]") } == "]")
        #expect(written { $0.appendASCII(StaticString(unicodeScalarLiteral: "x")) } == "x")
        #expect(written { $0.appendASCII(", options [") } == ", options [")
        #expect(written { $0.appendASCII("shared secret not supplied with -M, ") } == "shared secret not supplied with -M, ")
        // A name chosen at run time is copied without knowing its length in advance.
        for kind: UInt8 in 0...255 {
            let name = TcpdumpPrinter.tcpOptionName(kind)
            #expect(written { $0.appendASCII(name) } == name.description)
        }
    }

    @Test("the short copy, every length from 0 to 40")
    func shortCopies() {
        let source = (0..<40).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        for n in 0...40 {
            var buffer = OutputBuffer(capacity: 0)
            buffer.appendASCII("<")
            source.withUnsafeBytes { buffer.appendBytes(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            buffer.appendASCII(">")
            #expect(buffer.bytes == [UInt8(ascii: "<")] + source[0..<n] + [UInt8(ascii: ">")], "length \(n)")
        }
    }

    @Test("dotted quads")
    func ipv4() {
        for (raw, expected) in [(UInt32(0), "0.0.0.0"), (0xFFFF_FFFF, "255.255.255.255"), (0x7F00_0001, "127.0.0.1"),
                                (0x0A63_6409, "10.99.100.9")] {
            #expect(written { $0.appendIPv4(IPv4Address(raw)) } == expected)
        }
        for octet in 0...255 {
            let a = UInt8(octet)
            #expect(written { $0.appendIPv4(IPv4Address(a, a, 0, a)) } == "\(octet).\(octet).0.\(octet)")
        }
    }

    @Test("IPv6 groups of one to four hex digits, and the longest text")
    func ipv6() {
        #expect(written { $0.appendIPv6(IPv6Address(groups: [1, 0x22, 0x333, 0x4444, 0xa, 0xbb, 0xccc, 0xdddd])) }
                == "1:22:333:4444:a:bb:ccc:dddd")
        #expect(written { $0.appendIPv6(IPv6Address(high: .max, low: .max)) } == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        #expect(written { $0.appendIPv6(IPv6Address(groups: [0, 0, 0, 0, 0, 0xffff, 0xFFFF, 0xFFFF])) }
                == "::ffff:255.255.255.255")
    }

    @Test("growth past the first capacity keeps every byte")
    func growth() {
        var buffer = OutputBuffer(capacity: 0)
        var expected = ""
        for i in 0..<5_000 {
            buffer.appendDecimal(UInt64(i) * 1_000_003, minimumDigits: 7)
            expected += String(repeating: "0", count: max(0, 7 - String(UInt64(i) * 1_000_003).count)) + String(UInt64(i) * 1_000_003)
            buffer.appendASCII(" > ")
            expected += " > "
            buffer.appendIPv6(IPv6Address(high: UInt64(i), low: .max))
            expected += IPv6Address(high: UInt64(i), low: .max).description
            buffer.appendByte(UInt8(ascii: "\n"))
            expected += "\n"
        }
        #expect(buffer.count == expected.utf8.count)
        #expect(text(buffer) == expected)
        buffer.removeAll()
        #expect(buffer.isEmpty)
        buffer.append("again")
        #expect(text(buffer) == "again")
    }

    @Test("a copy is a value: writing to one leaves the other alone")
    func copies() {
        var a = OutputBuffer(capacity: 0)
        a.append("shared")
        var b = a
        b.append(" b")
        a.append(contentsOf: " a".utf8)
        #expect(text(a) == "shared a")
        #expect(text(b) == "shared b")
        var c = b
        c.makeUnique()
        c.appendASCII("!")
        #expect(text(b) == "shared b")
        #expect(text(c) == "shared b!")
    }

    @Test("appending from sequences, contiguous or not, and truncating")
    func sequences() {
        var buffer = OutputBuffer()
        buffer.append(contentsOf: "tcp".utf8)
        buffer.append(contentsOf: [UInt8(ascii: " ")])
        buffer.append(contentsOf: (0..<3).lazy.map { UInt8(ascii: "0") + UInt8($0) })
        buffer.append([UInt8(ascii: "!")])
        #expect(text(buffer) == "tcp 012!")
        buffer.truncate(to: 3)
        #expect(text(buffer) == "tcp")
        buffer.appendRepeating(UInt8(ascii: " "), count: 2)
        buffer.appendRepeating(UInt8(ascii: " "), count: -1)
        buffer.appendLeftAligned(Array("lo".utf8), width: 5)
        buffer.appendRightAligned("In", width: 3)
        #expect(text(buffer) == "tcp  lo    In")
    }
}

@Suite("TcpdumpPrinter into an OutputBuffer")
struct PrinterOutputBufferTests {
    @Test("the same text as into an array, packet after packet")
    func sameAsArray() throws {
        let bytes = try PacketFixtures.bytes(PacketFixtures.directory.appendingPathComponent("tcp4.pcap"))
        var intoArray = TcpdumpPrinter(options: TcpdumpOptions(timestampStyle: .sincePrevious))
        var intoBuffer = TcpdumpPrinter(options: TcpdumpOptions(timestampStyle: .sincePrevious))
        var array: [UInt8] = []
        var buffer = OutputBuffer(capacity: 0)
        for p in packets(of: bytes) {
            p.bytes.withUnsafeBytes { raw in
                intoArray.print(timestamp: p.timestamp, data: raw, wireLength: p.wireLength, linkType: p.linkType, into: &array)
                intoBuffer.print(timestamp: p.timestamp, data: raw, wireLength: p.wireLength, linkType: p.linkType, into: &buffer)
            }
        }
        #expect(!array.isEmpty)
        #expect(buffer.bytes == array)
        let expected = try readLines(PacketFixtures.directory.appendingPathComponent("tcp4.ttt.txt"))
        expectSameLines(text(buffer).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init),
                        expected, "tcp4.pcap -ttt into an OutputBuffer")
    }

    @Test("the local offset is asked again when the second changes")
    func offsetPerSecond() throws {
        let bytes = try PacketFixtures.bytes(PacketFixtures.directory.appendingPathComponent("tcp4.pcap"))
        let packet = try #require(packets(of: bytes, limit: 1).first)
        // A zone that moves its clocks forward an hour at 1_000_000_000 (2001-09-09 01:46:40 UTC).
        var printer = TcpdumpPrinter(options: TcpdumpOptions(timestampStyle: .dateAndTime,
                                                             utcOffset: { $0 < 1_000_000_000 ? 0 : 3600 }))
        var out = OutputBuffer()
        for (seconds, fraction) in [(Int64(999_999_999), UInt32(999_999)), (999_999_999, 999_999), (1_000_000_000, 0)] {
            packet.bytes.withUnsafeBytes { raw in
                printer.print(timestamp: CaptureTimestamp(seconds: seconds, fraction: fraction, unit: .microseconds),
                              data: raw, wireLength: packet.wireLength, linkType: packet.linkType, into: &out)
            }
        }
        let lines = text(out).split(separator: "\n").map { String($0.prefix(26)) }
        #expect(lines == ["2001-09-09 01:46:39.999999", "2001-09-09 01:46:39.999999", "2001-09-09 02:46:40.000000"])
    }
}
