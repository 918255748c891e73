import Testing
import WirelatCore

@Suite("Durations")
struct DurationParsingTests {
    @Test("every unit", arguments: [
        ("7ns", Duration.nanoseconds(7)),
        ("250us", .microseconds(250)),
        ("250\u{00B5}s", .microseconds(250)),
        ("250\u{03BC}s", .microseconds(250)),
        ("3ms", .milliseconds(3)),
        ("2s", .seconds(2)),
        ("1m", .seconds(60)),
        ("2h", .seconds(7_200)),
        ("0s", .zero),
        ("0", .zero),
    ])
    func everyUnit(text: String, expected: Duration) throws {
        #expect(try parseDuration(text) == expected)
    }

    @Test("decimals are exact to the nanosecond", arguments: [
        ("1.5ms", Duration.nanoseconds(1_500_000)),
        ("0.1s", .nanoseconds(100_000_000)),
        ("2.5us", .nanoseconds(2_500)),
        (".5ms", .nanoseconds(500_000)),
        ("0.000000001s", .nanoseconds(1)),
        ("1.25h", .seconds(4_500)),
        ("0.1m", .seconds(6)),
        ("1.0000000005s", .nanoseconds(1_000_000_001)),
        ("1.0000000004999s", .nanoseconds(1_000_000_000)),
        ("0.4ns", .zero),
        ("0.123456789123456789123s", .nanoseconds(123_456_789)),
        ("720h", .seconds(30 * 86_400)),
    ])
    func decimals(text: String, expected: Duration) throws {
        #expect(try parseDuration(text) == expected)
    }

    @Test("a bare number is read in the bare unit")
    func bareNumbers() throws {
        #expect(try parseDuration("5") == .seconds(5))
        #expect(try parseDuration("5", bareUnit: .seconds) == .seconds(5))
        #expect(try parseDuration("5", bareUnit: .milliseconds) == .milliseconds(5))
        #expect(try parseDuration("5", bareUnit: .microseconds) == .microseconds(5))
        #expect(try parseDuration("5", bareUnit: .nanoseconds) == .nanoseconds(5))
        #expect(try parseDuration("1.5", bareUnit: .milliseconds) == .microseconds(1_500))
        #expect(try parseDuration("5s", bareUnit: .milliseconds) == .seconds(5))
    }

    @Test("malformed durations are refused", arguments: [
        "1.5.5s", "s", "", "1x", "12xs", "inf", "nan", "infs", "1e3ms", " 1s", "1s ", "1.s", ".s",
        "+1s", "1 s", "1S", "30d", "0x10s", "1,5ms", "--1s", "-inf", "-",
    ])
    func rejectsJunk(text: String) {
        #expect(throws: UnitParseError.invalidDuration(text)) { try parseDuration(text) }
    }

    @Test("negative durations are refused", arguments: ["-1s", "-0.5ms", "-0", "-.5s"])
    func rejectsNegative(text: String) {
        #expect(throws: UnitParseError.negativeDuration(text)) { try parseDuration(text) }
    }

    @Test("durations above 30 days are refused", arguments: [
        "99999999h", "721h", "720.000000000001h", "2592000.000000001s", "99999999999999999999999ns",
        "18446744073709551616s",
    ])
    func rejectsTooLarge(text: String) {
        #expect(throws: UnitParseError.durationTooLarge(text)) { try parseDuration(text) }
    }

    @Test("error messages name the input and show valid spellings")
    func messages() {
        #expect(UnitParseError.invalidDuration("12xs").description
            == "invalid duration \"12xs\": expected a number with a unit such as 250us, 1.5ms, 2s, 1m")
        #expect(UnitParseError.negativeDuration("-1s").description.contains("negative"))
        #expect(UnitParseError.durationTooLarge("800h").description.contains("30 days"))
        #expect(UnitParseError.invalidByteCount("1q").description.hasPrefix("invalid byte count \"1q\""))
    }
}

@Suite("Duration formatting")
struct DurationFormattingTests {
    @Test("shortest human spelling", arguments: [
        (Duration.microseconds(250), "250us"),
        (.nanoseconds(1_500_000), "1.5ms"),
        (.seconds(2), "2s"),
        (.seconds(60), "1m"),
        (.zero, "0s"),
        (.milliseconds(100), "100ms"),
        (.milliseconds(500), "500ms"),
        (.milliseconds(1_500), "1.5s"),
        (.seconds(90), "90s"),
        (.seconds(5_400), "90m"),
        (.seconds(3_600), "1h"),
        (.seconds(20), "20s"),
        (.nanoseconds(1), "1ns"),
        (.nanoseconds(1_001), "1001ns"),
        (.nanoseconds(1_000_100), "1.0001ms"),
        (.nanoseconds(1_000_000_001), "1.000000001s"),
        (.nanoseconds(1_250_000), "1.25ms"),
        (.nanoseconds(-1_500_000), "-1.5ms"),
    ])
    func spelling(duration: Duration, expected: String) {
        #expect(formatDuration(duration) == expected)
    }

    @Test("formatDuration round-trips through parseDuration")
    func roundTrip() throws {
        var values: [Int64] = [
            1, 7, 10, 999, 1_000, 1_001, 250_000, 1_500_000, 999_999_999, 1_000_000_001,
            20_000_000_000, 40_000_000_000, 60_000_000_000, 90_000_000_000, 100_000_000_000,
            3_600_000_000_000, 5_400_000_000_000, 2_592_000_000_000_000,
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0 ..< 2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let magnitude = Int64((state >> 33) % 16)
            var scale: Int64 = 1
            for _ in 0 ..< magnitude { scale *= 10 }
            values.append(Int64(state >> 40) % scale + 1)
            values.append(Int64(state >> 50) * 1_000_000)
        }
        for nanoseconds in values where nanoseconds <= 2_592_000_000_000_000 {
            let duration = Duration.nanoseconds(nanoseconds)
            let text = formatDuration(duration)
            #expect(try parseDuration(text) == duration, "\(nanoseconds) ns spelled \(text)")
            #expect(!text.hasPrefix("0."), "\(text) starts below one unit")
        }
    }

    @Test("Duration.nanoseconds is whole and saturating")
    func nanosecondsProperty() {
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect(Duration.nanoseconds(1_500_000).nanoseconds == 1_500_000)
        #expect(Duration.nanoseconds(-5).nanoseconds == -5)
        #expect(Duration.zero.nanoseconds == 0)
        #expect(Duration.seconds(Int64.max).nanoseconds == Int64.max)
        #expect(Duration.seconds(Int64.min).nanoseconds == Int64.min)
    }

    @Test("milliseconds the way oratcptest prints latency")
    func milliseconds() {
        #expect(formatMilliseconds(21_000) == "0.021")
        #expect(formatMilliseconds(9_820_000) == "9.820")
        #expect(formatMilliseconds(0) == "0.000")
        #expect(formatMilliseconds(1_234_567, decimals: 1) == "1.2")
        #expect(formatMilliseconds(2_000_000, decimals: 0) == "2")
    }

    @Test("byte quantities the way oratcptest prints them", arguments: [
        (1_048_576.0, "1 Mbyte"),
        (250, "250 bytes"),
        (65_536, "64 Kbytes"),
        (1, "1 byte"),
        (0, "0 bytes"),
        (1_536, "1.5 Kbytes"),
        (1_023, "1023 bytes"),
        (1_024, "1 Kbyte"),
        (101.832 * 1_048_576, "101.832 Mbytes"),
        (2.25 * 1_073_741_824, "2.25 Gbytes"),
        (1_048_575.9, "1 Mbyte"),
        (250.5, "250.5 bytes"),
        (1.0 / 3.0 * 1_048_576, "341.333 Kbytes"),
    ] as [(Double, String)])
    func bytesHuman(bytes: Double, expected: String) {
        #expect(formatBytesHuman(bytes) == expected)
    }
}

@Suite("Byte counts")
struct ByteCountTests {
    @Test("plain integers and 1024-based suffixes", arguments: [
        ("0", 0),
        ("250", 250),
        ("65536", 65_536),
        ("64k", 65_536),
        ("64K", 65_536),
        ("1m", 1_048_576),
        ("1M", 1_048_576),
        ("2g", 2_147_483_648),
        ("2G", 2_147_483_648),
        ("8589934591g", 9_223_372_035_781_033_984),
        ("9223372036854775807", Int.max),
    ])
    func accepts(text: String, expected: Int) throws {
        #expect(try parseByteCount(text) == expected)
    }

    @Test("malformed byte counts are refused", arguments: [
        "", "k", "1.5k", "12q", "1kb", " 1", "1 ", "+1", "1e3", "0x10", "1kk", "--1", "-", "-k",
    ])
    func rejectsJunk(text: String) {
        #expect(throws: UnitParseError.invalidByteCount(text)) { try parseByteCount(text) }
    }

    @Test("negative byte counts are refused", arguments: ["-1", "-64k", "-0"])
    func rejectsNegative(text: String) {
        #expect(throws: UnitParseError.negativeByteCount(text)) { try parseByteCount(text) }
    }

    @Test("byte counts that overflow Int are refused", arguments: [
        "9223372036854775808", "99999999999999999999999", "8589934592g", "9999999999999999m",
    ])
    func rejectsOverflow(text: String) {
        #expect(throws: UnitParseError.byteCountTooLarge(text)) { try parseByteCount(text) }
    }
}
