// tcpstat(1) interval statistics, reproduced byte for byte: the same packets
// land in the same intervals, the same doubles are computed in the same order,
// and the same text is printed. The behaviour mirrored is tcpstat 1.5 as Debian
// ships it (tcpstat.c, process.c and utils.c), reading a file with `-r`.

/// Why a tcpstat `-o` format string was refused.
public struct TcpStatFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    /// Offset of the offending `%` or `\`, in UTF-8 bytes from the start of the format.
    public let offset: Int

    public init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { message }
}

/// A parsed tcpstat `-o` format string.
///
/// Mirrors `show_interval()` in tcpstat.c: `%X` substitutes a field, `\a \b \f
/// \n \r \t \v` are control characters and a backslash before any other
/// character yields that character. Two of tcpstat's quirks are kept so output
/// stays identical: `%%` prints `%%` (not `%` as the man page says), and `%1`
/// ("switch to file descriptor 1", which is where the output already goes) prints
/// nothing. Where tcpstat would echo an unknown `%X` or write to another file
/// descriptor, parsing fails instead.
public struct TcpStatFormat: Sendable, Equatable, CustomStringConvertible {
    /// One tcpstat substitution, named by its `%` letter.
    public enum Field: UInt8, CaseIterable, Sendable {
        /// `%A`: ARP packets (Ethernet only; reverse ARP and tagged frames are not counted).
        case arpPackets = 0x41
        /// `%a`: average packet size in bytes, `%.2f`.
        case averageSize = 0x61
        /// `%B`: bytes per second, `%.2f`.
        case bytesPerSecond = 0x42
        /// `%b`: bits per second, `%.2f`.
        case bitsPerSecond = 0x62
        /// `%C`: ICMP and ICMPv6 packets.
        case icmpPackets = 0x43
        /// `%d`: standard deviation of the packet size in bytes, `%.2f`.
        case sizeStandardDeviation = 0x64
        /// `%I`: IPv4 packets.
        case ipv4Packets = 0x49
        /// `%l`: the one-minute load, bits per second relative to the peak so far, `%.2f`.
        case load = 0x6C
        /// `%M`: largest packet size in bytes.
        case maximumSize = 0x4D
        /// `%m`: smallest packet size in bytes.
        case minimumSize = 0x6D
        /// `%N`: bytes, `%.0f`.
        case bytes = 0x4E
        /// `%n`: packets.
        case packets = 0x6E
        /// `%p`: packets per second, `%.2f`.
        case packetsPerSecond = 0x70
        /// `%R`: the interval's middle, whole seconds after the first packet.
        case secondsSinceFirstPacket = 0x52
        /// `%r`: the interval's middle, seconds after the first packet, `%.6f`.
        case timeSinceFirstPacket = 0x72
        /// `%S`: the interval's middle, whole seconds since the epoch.
        case epochSeconds = 0x53
        /// `%s`: the interval's middle, seconds since the epoch, `%.6f`.
        case epochTime = 0x73
        /// `%T`: TCP packets.
        case tcpPackets = 0x54
        /// `%U`: UDP packets.
        case udpPackets = 0x55
        /// `%V`: IPv6 packets.
        case ipv6Packets = 0x56

        /// The letter after `%`.
        public var letter: Character { Character(Unicode.Scalar(rawValue)) }
    }

    enum Piece: Sendable, Equatable {
        case text(String)
        case field(Field)
    }

    /// The format as given, before escapes are processed.
    public let source: String
    let pieces: [Piece]

    /// tcpstat's `DEFAULT_FORMAT`, used when `-o` is absent.
    public static let defaultSource = #"Time:%S\tn=%n\tavg=%a\tstddev=%d\tbps=%b\n"#
    public static let `default` = try! TcpStatFormat(defaultSource)

    /// The fields the format substitutes, in order.
    public var fields: [Field] {
        pieces.compactMap { if case .field(let f) = $0 { return f } else { return nil } }
    }

    public var description: String { source }

    public init(_ source: String) throws(TcpStatFormatError) {
        self.source = source
        let bytes = Array(source.utf8)
        var pieces: [Piece] = []
        var text: [UInt8] = []
        func flush() {
            if !text.isEmpty {
                pieces.append(.text(String(decoding: text, as: UTF8.self)))
                text.removeAll(keepingCapacity: true)
            }
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                guard i + 1 < bytes.count else {
                    throw TcpStatFormatError("the format ends with a lone '%' (tcpstat fields are \(Self.fieldList))", at: i)
                }
                let f = bytes[i + 1]
                if let field = Field(rawValue: f) {
                    flush()
                    pieces.append(.field(field))
                    i += 2
                } else if f == UInt8(ascii: "%") {
                    // tcpstat's default case prints "%" and the character: "%%".
                    text.append(contentsOf: [f, f])
                    i += 2
                } else if f >= UInt8(ascii: "0") && f <= UInt8(ascii: "9") {
                    var j = i + 1
                    while j < bytes.count, bytes[j] >= UInt8(ascii: "0"), bytes[j] <= UInt8(ascii: "9") { j += 1 }
                    let digits = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
                    guard Int(digits) == 1 else {
                        throw TcpStatFormatError(
                            "%\(digits) switches tcpstat's output to file descriptor \(digits); wirelat writes every interval to standard output, so only %1 is accepted",
                            at: i)
                    }
                    i = j
                } else {
                    let shown = f < 0x80 ? String(UnicodeScalar(f)) : "\\u{\(String(f, radix: 16))}"
                    throw TcpStatFormatError(
                        "unknown tcpstat field %\(shown) at byte \(i) of the format; the fields are \(Self.fieldList)", at: i)
                }
            } else if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else {
                    throw TcpStatFormatError("the format ends with a lone '\\'", at: i)
                }
                let e = bytes[i + 1]
                switch e {
                case UInt8(ascii: "a"): text.append(0x07)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "v"): text.append(0x0B)
                default: text.append(e)
                }
                i += 2
            } else {
                text.append(c)
                i += 1
            }
        }
        flush()
        self.pieces = pieces
    }

    static let fieldList = Field.allCases.map { "%\($0.letter)" }.joined(separator: " ") + " and %%"
}
