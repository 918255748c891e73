import Foundation

// tcpstat(1) interval statistics, reproduced byte for byte: the same packets
// land in the same intervals, the same doubles are computed in the same order,
// and the same text is printed. The behaviour mirrored is tcpstat 1.5 as Debian
// ships it (tcpstat.c, process.c and utils.c), reading a file with `-r`.

// MARK: - Output format

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

// MARK: - Per-packet facts

/// What tcpstat learns from one packet: its time, the size it counts and which
/// protocol counters it bumps.
public struct PacketFacts: Sendable, Equatable {
    /// The protocol counters a packet adds to (utils.c's `is_*_packet`).
    public struct Protocols: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// `%A`
        public static let arp = Protocols(rawValue: 1 << 0)
        /// `%I`
        public static let ipv4 = Protocols(rawValue: 1 << 1)
        /// `%V`
        public static let ipv6 = Protocols(rawValue: 1 << 2)
        /// `%T`
        public static let tcp = Protocols(rawValue: 1 << 3)
        /// `%U`
        public static let udp = Protocols(rawValue: 1 << 4)
        /// `%C`
        public static let icmp = Protocols(rawValue: 1 << 5)
    }

    /// Capture time as libpcap hands it to tcpstat: seconds and microseconds,
    /// the microseconds not normalised (a file may hold 1 000 000, or a negative value).
    public var timestampSeconds: Int64
    public var timestampMicroseconds: Int64
    /// tcpstat's `packet_len`: the wire length, less 14 on Ethernet and 4 on PPP
    /// unless `-l`; a C `u_int`, so a frame shorter than its link header wraps.
    public var sizeBytes: UInt32
    public var protocols: Protocols

    public init(timestampSeconds: Int64, timestampMicroseconds: Int64, sizeBytes: UInt32, protocols: Protocols) {
        self.timestampSeconds = timestampSeconds
        self.timestampMicroseconds = timestampMicroseconds
        self.sizeBytes = sizeBytes
        self.protocols = protocols
    }

    /// From a time in nanoseconds since the epoch, truncated to microseconds as libpcap does.
    public init(timestampNanoseconds: Int64, sizeBytes: UInt32, protocols: Protocols) {
        var seconds = timestampNanoseconds / 1_000_000_000
        var rest = timestampNanoseconds % 1_000_000_000
        if rest < 0 {
            seconds -= 1
            rest += 1_000_000_000
        }
        self.init(timestampSeconds: seconds, timestampMicroseconds: rest / 1000, sizeBytes: sizeBytes, protocols: protocols)
    }

    /// The capture time in nanoseconds since the epoch (microsecond resolution).
    public var timestampNanoseconds: Int64 {
        timestampSeconds &* 1_000_000_000 &+ timestampMicroseconds &* 1000
    }

    /// The facts for one packet read on its own, as tcpstat sees the first
    /// packet of a file. Use a `TcpStatClassifier` across a whole file: for
    /// frames cut short inside their headers tcpstat reads bytes the previous
    /// packets left behind, and the classifier remembers them.
    public static func classify(_ packet: CapturedPacket, countsLinkLayer: Bool = false) -> PacketFacts {
        var classifier = TcpStatClassifier(countsLinkLayer: countsLinkLayer)
        return classifier.classify(packet)
    }
}

/// Turns captured packets into `PacketFacts` exactly as tcpstat's
/// `process_pcap()` and utils.c do. This is deliberately not a protocol decoder:
///
/// - Ethernet (`DLT_EN10MB`): the size is the wire length less 14 (`-l`: the
///   wire length). Only the first EtherType is looked at: 0x0800 is IPv4,
///   0x86DD IPv6, 0x0806 ARP; a VLAN- or QinQ-tagged frame counts in no
///   protocol column.
/// - PPP (`DLT_PPP`): wire length less 4; protocol 0x0021 is IPv4, 0x0057 IPv6.
/// - NULL (`DLT_NULL`): the whole wire length, header included; the family is
///   read in little-endian host order, and only Linux's AF_INET (2) and
///   AF_INET6 (10) count, so BSD captures' IPv6 families 24/28/30 do not.
/// - Every other link type (Linux cooked v1/v2, raw IP, LOOP, ...): the whole
///   wire length, and no protocol column counts.
/// - TCP, UDP and ICMP come from the IPv4 protocol field or the IPv6 *first*
///   next-header field (no extension-header walk): a hop-by-hop header in front
///   of ICMPv6 is not ICMP. ICMPv6 counts as ICMP. Fragments count like first fragments.
/// - When a frame is captured too short to hold those bytes, tcpstat reads
///   what earlier packets left in libpcap's buffer and in its own copy; this
///   classifier keeps those bytes too (it assumes both buffers started zeroed,
///   and models classic pcap's single record buffer).
public struct TcpStatClassifier: Sendable {
    /// tcpstat `-l`: count the Ethernet and PPP headers in the size.
    public var countsLinkLayer: Bool

    /// The first 24 bytes of libpcap's record buffer as the last packets left them.
    private var buffer = StickyBytes()
    /// tcpstat's `pdata.data.raw[9]` (IPv4 protocol) and `raw[6]` (IPv6 next header).
    private var rawProtocolByte: UInt8 = 0
    private var rawNextHeaderByte: UInt8 = 0

    public init(countsLinkLayer: Bool = false) {
        self.countsLinkLayer = countsLinkLayer
    }

    /// tcpstat's `PAK_SIZ`: the most bytes it copies from a packet.
    private static let copyLimit = 32768

    private enum NetworkClass {
        case none, ipv4, ipv6, arp
    }

    public mutating func classify(_ packet: CapturedPacket) -> PacketFacts {
        let data = packet.data
        let captured = data.count
        buffer.store(data)

        let wire = UInt32(truncatingIfNeeded: packet.wireLength)
        var size = wire
        var network = NetworkClass.none
        let copyStart: Int
        let copyLength: Int
        switch packet.linkType.rawValue {
        case 1:  // DLT_EN10MB
            let type = UInt16(buffer[12]) << 8 | UInt16(buffer[13])
            switch type {
            case EtherType.ipv4: network = .ipv4
            case EtherType.ipv6: network = .ipv6
            case EtherType.arp: network = .arp
            default: break
            }
            if !countsLinkLayer { size = wire &- 14 }
            copyStart = 14
            copyLength = captured >= 14 ? captured - 14 : Self.copyLimit
        case 9:  // DLT_PPP
            let proto = UInt16(buffer[2]) << 8 | UInt16(buffer[3])
            if proto == 0x0021 { network = .ipv4 } else if proto == 0x0057 { network = .ipv6 }
            if !countsLinkLayer { size = wire &- 4 }
            copyStart = 4
            copyLength = captured >= 4 ? captured - 4 : Self.copyLimit
        case 0:  // DLT_NULL, read as a host-order (little-endian) int
            let family = UInt32(buffer[0]) | UInt32(buffer[1]) << 8 | UInt32(buffer[2]) << 16 | UInt32(buffer[3]) << 24
            if family == 2 { network = .ipv4 } else if family == 10 { network = .ipv6 }
            copyStart = 4
            copyLength = captured
        default:
            copyStart = 0
            copyLength = captured
        }
        // bcopy(packet, pdata.data.raw, min(length, PAK_SIZ)): only bytes inside the copy change.
        let copied = min(copyLength, Self.copyLimit)
        if copied > 6 { rawNextHeaderByte = buffer[copyStart + 6] }
        if copied > 9 { rawProtocolByte = buffer[copyStart + 9] }

        var protocols: PacketFacts.Protocols = []
        let upper: UInt8
        switch network {
        case .arp:
            protocols = .arp
            upper = 0
        case .ipv4:
            protocols = .ipv4
            upper = rawProtocolByte
        case .ipv6:
            protocols = .ipv6
            upper = rawNextHeaderByte
        case .none:
            upper = 0
        }
        if network != .arp {
            switch upper {
            case IPProtocolNumber.tcp: protocols.insert(.tcp)
            case IPProtocolNumber.udp: protocols.insert(.udp)
            case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6: protocols.insert(.icmp)
            default: break
            }
        }

        let stamp = packet.timestamp
        let fraction = Int64(Int32(bitPattern: stamp.fraction))
        // libpcap hands tcpstat microseconds; a nanosecond file is scaled down by a
        // truncating (toward zero) division of the signed field.
        let microseconds = stamp.unit == .nanoseconds ? fraction / 1000 : fraction
        return PacketFacts(timestampSeconds: stamp.seconds, timestampMicroseconds: microseconds,
                           sizeBytes: size, protocols: protocols)
    }
}

/// 24 bytes kept across packets: each packet overwrites only the bytes it has.
private struct StickyBytes: Sendable {
    private var lanes: (UInt64, UInt64, UInt64) = (0, 0, 0)

    @inline(__always)
    mutating func store(_ data: UnsafeRawBufferPointer) {
        if data.count >= 24 {
            lanes = (UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                     UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                     UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
            return
        }
        let n = data.count
        var i = 0
        while i < n {
            set(i, data[i])
            i += 1
        }
    }

    @inline(__always)
    private mutating func set(_ i: Int, _ byte: UInt8) {
        let shift = UInt64((i & 7) * 8)
        let mask = ~(UInt64(0xFF) << shift)
        let value = UInt64(byte) << shift
        switch i >> 3 {
        case 0: lanes.0 = lanes.0 & mask | value
        case 1: lanes.1 = lanes.1 & mask | value
        default: lanes.2 = lanes.2 & mask | value
        }
    }

    @inline(__always)
    subscript(_ i: Int) -> UInt8 {
        let shift = UInt64((i & 7) * 8)
        switch i >> 3 {
        case 0: return UInt8(truncatingIfNeeded: lanes.0 >> shift)
        case 1: return UInt8(truncatingIfNeeded: lanes.1 >> shift)
        default: return UInt8(truncatingIfNeeded: lanes.2 >> shift)
        }
    }
}

// MARK: - Intervals

/// tcpstat's interval statistics (`my_hook()`, `do_the_printing()` and
/// `show_interval()` in tcpstat.c):
///
/// - The first interval starts at the first packet's timestamp; intervals are
///   not aligned to whole seconds.
/// - A packet belongs to the current interval while `ts − begin ≤ interval`
///   (a packet exactly on the boundary stays in); a later one closes it, and
///   every interval wholly skipped over is printed with zero counts, unless
///   `printsEmptyIntervals` is off (tcpstat `-e`). A packet earlier than the
///   interval start joins the current interval.
/// - A gap between packets longer than `maximumEmptyIntervals` intervals (a
///   timestamp that jumps years ahead: a clock step, a flipped bit) prints none
///   of its empty intervals, where tcpstat prints them all; `add` reports it
///   through `skipped` instead, and the intervals after it go on from there.
/// - Rates divide by the nominal interval length, including for the last,
///   partial interval, which `finish` prints. A file with no packets prints one
///   interval starting at time 0.
/// - Times print the interval's middle: `%S`/`%R` as `(int)(middle + 0.5)`.
/// - Sizes are `int` (`%m` is 0 for an empty interval), sums are doubles,
///   `%d` is `sqrt(Σx²/n − avg²)`, floats print with `%.2f` (`%N` `%.0f`,
///   `%s %r` `%.6f`), `inf` and `-nan` as glibc prints them.
public struct TcpStatAccumulator: Sendable {
    public let format: TcpStatFormat
    /// The interval in seconds; −1 means the whole capture is one interval (tcpstat's `-1`).
    public let intervalSeconds: Double
    /// tcpstat prints empty intervals unless given `-e`.
    public let printsEmptyIntervals: Bool
    /// tcpstat `-R`: seconds subtracted from the printed times.
    public let relativeSeconds: Double
    /// The longest run of empty intervals one gap between packets prints, as tcpstat
    /// prints them; a longer gap is skipped and reported through `add`'s `skipped`.
    /// The default, a million, keeps every gap of a real capture — 11 days of
    /// silence at 1 s, 2.7 hours at 10 ms — identical to tcpstat's output, and
    /// bounds the time and output one bad timestamp costs (10 years at 1 s would
    /// be 315 million lines) to about a second and a million lines.
    public var maximumEmptyIntervals = 1_000_000

    /// A gap between two packets too long to print (see `maximumEmptyIntervals`).
    public struct SkippedIntervals: Sendable, Equatable {
        /// How many empty intervals were not printed.
        public var count: Int
        /// Where the skipped intervals begin and end, in seconds since the epoch.
        public var fromSeconds: Double
        public var toSeconds: Double
    }

    private struct Counts: Sendable {
        var packets: Int32 = 0
        var arp: Int32 = 0
        var ipv4: Int32 = 0
        var ipv6: Int32 = 0
        var tcp: Int32 = 0
        var udp: Int32 = 0
        var icmp: Int32 = 0
        var maximumSize: Int32 = 0
        var minimumSize: Int32 = 0
        var sum: Double = 0
        var sumOfSquares: Double = 0
    }

    private var counts = Counts()
    private var intervalBegin: Double = 0
    private var firstPacket: Double = 0
    /// tcpstat's `ts_now`, which it never initialises: with no packet read it
    /// holds a tiny positive leftover, so an empty capture in whole-capture mode
    /// divides by a near-zero span and prints zero rates. The smallest positive
    /// double reproduces that output.
    private var lastPacket: Double = .leastNonzeroMagnitude
    private var load: Double = -1
    private var peakBitsPerSecond: Double = 0
    /// `1 − exp(−interval/60)`, the load's smoothing factor per interval.
    private let loadFactor: Double

    /// - Parameter intervalSeconds: must be positive (tcpstat refuses the rest).
    public init(intervalSeconds: Double, format: TcpStatFormat = .default,
                printsEmptyIntervals: Bool = true, relativeSeconds: Double = 0) {
        precondition(intervalSeconds > 0, "tcpstat intervals are positive")
        self.init(validInterval: intervalSeconds, format: format,
                  printsEmptyIntervals: printsEmptyIntervals, relativeSeconds: relativeSeconds)
    }

    /// The interval in nanoseconds; `Double(ns) / 1e9` is the double tcpstat's
    /// `atof` gives for the same decimal interval.
    public init(intervalNanoseconds: Int64, format: TcpStatFormat = .default,
                printsEmptyIntervals: Bool = true, relativeSeconds: Double = 0) {
        precondition(intervalNanoseconds > 0, "tcpstat intervals are positive")
        self.init(validInterval: Double(intervalNanoseconds) / 1e9, format: format,
                  printsEmptyIntervals: printsEmptyIntervals, relativeSeconds: relativeSeconds)
    }

    /// tcpstat's interval `-1`: one interval from the first packet to the last;
    /// rates divide by that span (so a single packet gives `inf`).
    public static func wholeCapture(format: TcpStatFormat = .default, printsEmptyIntervals: Bool = true,
                                    relativeSeconds: Double = 0) -> TcpStatAccumulator {
        TcpStatAccumulator(validInterval: -1, format: format,
                           printsEmptyIntervals: printsEmptyIntervals, relativeSeconds: relativeSeconds)
    }

    private init(validInterval: Double, format: TcpStatFormat, printsEmptyIntervals: Bool, relativeSeconds: Double) {
        self.intervalSeconds = validInterval
        self.format = format
        self.printsEmptyIntervals = printsEmptyIntervals
        self.relativeSeconds = relativeSeconds
        self.loadFactor = validInterval > 0 ? 1.0 - exp(-validInterval / 60.0) : 0
    }

    private var isWholeCapture: Bool { intervalSeconds == -1.0 }

    /// Adds one packet; first prints, through `emit`, the interval it closes and
    /// any empty intervals between, one at a time as each closes (so memory stays
    /// bounded whatever the gap). Each call of `emit` gets one interval's text,
    /// exactly as tcpstat writes it (it ends in a newline only if the format does).
    /// A gap of more than `maximumEmptyIntervals` goes to `skipped` instead.
    public mutating func add(_ facts: PacketFacts, emit: (String) -> Void,
                             skipped: (SkippedIntervals) -> Void = { _ in }) {
        let ts = Double(facts.timestampSeconds) + Double(facts.timestampMicroseconds) / 1.0e6
        if intervalBegin == 0.0 {
            counts = Counts()
            intervalBegin = ts
            firstPacket = ts
        }
        let elapsed = ts - intervalBegin
        if elapsed > intervalSeconds && !isWholeCapture {
            closeInterval(elapsed: elapsed, upTo: ts, emit: emit, skipped: skipped)
        }
        lastPacket = ts
        let size = facts.sizeBytes
        counts.packets &+= 1
        counts.sum += Double(size)
        counts.sumOfSquares += Double(size) * Double(size)
        let p = facts.protocols
        if p.contains(.arp) {
            counts.arp &+= 1
        } else {
            if p.contains(.ipv4) { counts.ipv4 &+= 1 }
            if p.contains(.ipv6) { counts.ipv6 &+= 1 }
            if p.contains(.tcp) { counts.tcp &+= 1 }
            if p.contains(.udp) { counts.udp &+= 1 }
            if p.contains(.icmp) { counts.icmp &+= 1 }
        }
        let signed = Int32(bitPattern: size)
        if signed > counts.maximumSize { counts.maximumSize = signed }
        if signed < counts.minimumSize || counts.minimumSize == 0 { counts.minimumSize = signed }
    }

    /// Prints the last interval (tcpstat does this at the end of the file, also
    /// for an empty file).
    public mutating func finish(emit: (String) -> Void) {
        let span = intervalSeconds <= 0.0 ? lastPacket - firstPacket : intervalSeconds
        closeInterval(elapsed: span, upTo: lastPacket, emit: emit, skipped: { _ in })
    }

    /// Feeds every packet of a capture file through `classifier` and then
    /// finishes, as `tcpstat -r FILE` does. When the file turns out unreadable
    /// part way, tcpstat still prints the interval it was counting: so does this,
    /// before it rethrows the error.
    public mutating func consume(_ reader: inout PcapFileReader, classifier: inout TcpStatClassifier,
                                 emit: (String) -> Void) throws(PcapFileError) {
        do {
            while let packet = try reader.next() {
                add(classifier.classify(packet), emit: emit)
            }
        } catch {
            finish(emit: emit)
            throw error
        }
        finish(emit: emit)
    }

    /// `do_the_printing()`.
    private mutating func closeInterval(elapsed measured: Double, upTo ts: Double, emit: (String) -> Void,
                                        skipped: (SkippedIntervals) -> Void) {
        let elapsed = intervalSeconds > 0.0 ? intervalSeconds : measured
        let bps = (counts.sum / elapsed) * 8.0
        if bps > peakBitsPerSecond { peakBitsPerSecond = bps }
        if load == -1.0 { load = bps }
        let factor = intervalSeconds > 0.0 ? loadFactor : 1.0 - exp(-elapsed / 60.0)
        load += (bps - load) * factor

        if printsEmptyIntervals || counts.packets > 0 {
            let deltaT = isWholeCapture ? lastPacket - intervalBegin : elapsed
            emit(render(counts, begin: intervalBegin, deltaT: deltaT, load: load))
        }
        intervalBegin += elapsed

        var emptyLoad = load
        // The loop below runs once per empty interval: count them first.
        let gap = ((ts - intervalBegin) / intervalSeconds).rounded(.up) - 1
        if !isWholeCapture && gap > Double(maximumEmptyIntervals) {
            let from = intervalBegin
            intervalBegin += gap * intervalSeconds
            emptyLoad *= pow(1 - loadFactor, gap)
            skipped(SkippedIntervals(count: Int(exactly: gap) ?? .max, fromSeconds: from, toSeconds: intervalBegin))
        } else if !isWholeCapture {
            let empty = Counts()
            var x = intervalBegin + intervalSeconds
            while x < ts {
                let emptyBegin = x - intervalSeconds
                intervalBegin += intervalSeconds
                emptyLoad -= emptyLoad * loadFactor
                if printsEmptyIntervals {
                    emit(render(empty, begin: emptyBegin, deltaT: intervalSeconds, load: emptyLoad))
                }
                x += intervalSeconds
            }
        }
        load = emptyLoad
        counts = Counts()
    }

    /// `show_interval()`.
    private func render(_ c: Counts, begin: Double, deltaT: Double, load: Double) -> String {
        let average: Double
        let deviation: Double
        if c.packets == 0 {
            average = 0
            deviation = 0
        } else {
            average = c.sum / Double(c.packets)
            deviation = (c.sumOfSquares / Double(c.packets) - average * average).squareRoot()
        }
        let middle = begin + deltaT / 2.0
        var out = ""
        out.reserveCapacity(64)
        for piece in format.pieces {
            switch piece {
            case .text(let t):
                out += t
            case .field(let field):
                switch field {
                case .arpPackets: out += String(c.arp)
                case .averageSize: CFixed.append(average, decimals: 2, to: &out)
                case .bytesPerSecond: CFixed.append(c.sum / deltaT, decimals: 2, to: &out)
                case .bitsPerSecond: CFixed.append(c.sum / deltaT * 8.0, decimals: 2, to: &out)
                case .icmpPackets: out += String(c.icmp)
                case .sizeStandardDeviation: CFixed.append(deviation, decimals: 2, to: &out)
                case .ipv4Packets: out += String(c.ipv4)
                case .load: CFixed.append(peakBitsPerSecond == 0.0 ? 1.0 : load / peakBitsPerSecond, decimals: 2, to: &out)
                case .maximumSize: out += String(c.maximumSize)
                case .minimumSize: out += String(c.minimumSize)
                case .bytes: CFixed.append(c.sum, decimals: 0, to: &out)
                case .packets: out += String(c.packets)
                case .packetsPerSecond: CFixed.append(Double(c.packets) / deltaT, decimals: 2, to: &out)
                case .epochSeconds: out += String(CFixed.int(middle + 0.5 - relativeSeconds))
                case .epochTime: CFixed.append(middle - relativeSeconds, decimals: 6, to: &out)
                case .secondsSinceFirstPacket: out += String(CFixed.int(middle + 0.5 - (relativeSeconds + firstPacket)))
                case .timeSinceFirstPacket: CFixed.append(middle - (relativeSeconds + firstPacket), decimals: 6, to: &out)
                case .tcpPackets: out += String(c.tcp)
                case .udpPackets: out += String(c.udp)
                case .ipv6Packets: out += String(c.ipv6)
                }
            }
        }
        return out
    }
}

// MARK: - C number formatting

/// The conversions tcpstat's `snprintf` calls make, reproduced without libc:
/// `%.Nf` of a double (exact decimal value, rounded half to even, as glibc
/// prints it) and the `(int)` cast of a double (x86-64 `cvttsd2si`: truncation,
/// and INT_MIN when the value does not fit).
enum CFixed {
    private static let powersOfTen: [UInt64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    /// `(int)value`.
    static func int(_ value: Double) -> Int32 {
        guard value > -2_147_483_649.0, value < 2_147_483_648.0 else { return Int32.min }
        return Int32(value)
    }

    /// Appends `value` as `printf("%.<decimals>f")` writes it; decimals 0...8.
    static func append(_ value: Double, decimals: Int, to out: inout String) {
        if value.isNaN {
            out += value.sign == .minus ? "-nan" : "nan"
            return
        }
        if value.sign == .minus { out += "-" }
        let v = value.magnitude
        if v.isInfinite {
            out += "inf"
            return
        }
        let bits = v.bitPattern
        let biased = Int(bits >> 52)
        var significand = bits & ((1 << 52) - 1)
        let exponent: Int
        if biased == 0 {
            exponent = -1074
        } else {
            significand |= 1 << 52
            exponent = biased - 1075
        }
        let scale = powersOfTen[decimals]
        if let scaled = scaledFast(significand, exponent, scale) {
            appendDigits(String(scaled), decimals: decimals, to: &out)
        } else {
            var big = BigDecimalDigits(significand)
            big.multiply(by: scale)
            if exponent >= 0 { big.shiftLeft(exponent) } else { big.shiftRightRoundingHalfEven(-exponent) }
            appendDigits(big.decimalString(), decimals: decimals, to: &out)
        }
    }

    /// `significand × scale × 2^exponent` rounded half to even, when it fits 64 bits.
    private static func scaledFast(_ significand: UInt64, _ exponent: Int, _ scale: UInt64) -> UInt64? {
        if significand == 0 { return 0 }
        if exponent >= 0 {
            guard exponent <= 10 else { return nil }
            let (product, overflow) = (significand << UInt64(exponent)).multipliedReportingOverflow(by: scale)
            return overflow ? nil : product
        }
        let shift = -exponent
        let (high, low) = significand.multipliedFullWidth(by: scale)
        // significand × 10^8 < 2^80, so past 81 bits of shift the value is below one half.
        if shift > 81 { return 0 }
        let quotient: UInt64
        let belowHalf: Bool
        let isHalf: Bool
        if shift >= 64 {
            let s = shift - 64
            quotient = s == 0 ? high : high >> UInt64(s)
            // remainder = (high mod 2^s) · 2^64 + low, compared with 2^(shift−1)
            let remainderHigh = s == 0 ? 0 : high & ((1 << UInt64(s)) - 1)
            if s == 0 {
                isHalf = low == 1 << 63
                belowHalf = low < 1 << 63
            } else {
                let halfHigh: UInt64 = 1 << UInt64(s - 1)
                isHalf = remainderHigh == halfHigh && low == 0
                belowHalf = remainderHigh < halfHigh
            }
        } else {
            guard high >> UInt64(shift) == 0 else { return nil }
            quotient = high << UInt64(64 - shift) | low >> UInt64(shift)
            let remainder = low & ((1 << UInt64(shift)) - 1)
            let half: UInt64 = 1 << UInt64(shift - 1)
            isHalf = remainder == half
            belowHalf = remainder < half
        }
        if belowHalf || (isHalf && quotient & 1 == 0) { return quotient }
        let (rounded, overflow) = quotient.addingReportingOverflow(1)
        return overflow ? nil : rounded
    }

    private static func appendDigits(_ digits: String, decimals: Int, to out: inout String) {
        let count = digits.utf8.count
        if decimals == 0 {
            out += digits
            return
        }
        if count <= decimals {
            out += "0."
            out += String(repeating: "0", count: decimals - count)
            out += digits
        } else {
            let split = digits.index(digits.startIndex, offsetBy: count - decimals)
            out += digits[..<split]
            out += "."
            out += digits[split...]
        }
    }
}

/// An unsigned integer of any size, for the rare doubles whose exact scaled
/// value does not fit 64 bits. Little-endian 32-bit limbs.
private struct BigDecimalDigits {
    var limbs: [UInt32]

    init(_ value: UInt64) {
        limbs = [UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)]
    }

    mutating func multiply(by factor: UInt64) {
        precondition(factor <= UInt64(UInt32.max))
        var carry: UInt64 = 0
        for i in limbs.indices {
            let p = UInt64(limbs[i]) * factor + carry
            limbs[i] = UInt32(truncatingIfNeeded: p)
            carry = p >> 32
        }
        while carry != 0 {
            limbs.append(UInt32(truncatingIfNeeded: carry))
            carry >>= 32
        }
    }

    mutating func shiftLeft(_ bits: Int) {
        let whole = bits / 32
        let part = bits % 32
        if part != 0 {
            var carry: UInt32 = 0
            for i in limbs.indices {
                let v = limbs[i]
                limbs[i] = v << UInt32(part) | carry
                carry = v >> UInt32(32 - part)
            }
            if carry != 0 { limbs.append(carry) }
        }
        limbs.insert(contentsOf: repeatElement(0, count: whole), at: 0)
    }

    private func bit(_ index: Int) -> Bool {
        let limb = index / 32
        return limb < limbs.count && (limbs[limb] >> UInt32(index % 32)) & 1 == 1
    }

    private func anyBitBelow(_ index: Int) -> Bool {
        var i = 0
        while i < index {
            if i % 32 == 0, index - i >= 32 {
                if i / 32 < limbs.count, limbs[i / 32] != 0 { return true }
                i += 32
            } else {
                if bit(i) { return true }
                i += 1
            }
        }
        return false
    }

    /// Divides by 2^bits, rounding the exact quotient half to even.
    mutating func shiftRightRoundingHalfEven(_ bits: Int) {
        let half = bit(bits - 1)
        let sticky = anyBitBelow(bits - 1)
        let whole = bits / 32
        let part = bits % 32
        if whole >= limbs.count {
            limbs = [0]
        } else {
            limbs.removeFirst(whole)
            if part != 0 {
                for i in limbs.indices {
                    let next: UInt32 = i + 1 < limbs.count ? limbs[i + 1] : 0
                    limbs[i] = limbs[i] >> UInt32(part) | next << UInt32(32 - part)
                }
            }
        }
        let odd = limbs[0] & 1 == 1
        if half && (sticky || odd) {
            var i = 0
            while true {
                if i == limbs.count {
                    limbs.append(1)
                    break
                }
                let (v, o) = limbs[i].addingReportingOverflow(1)
                limbs[i] = v
                if !o { break }
                i += 1
            }
        }
    }

    func decimalString() -> String {
        var work = limbs
        while work.count > 1, work.last == 0 { work.removeLast() }
        if work == [0] { return "0" }
        var chunks: [UInt32] = []
        while !(work.count == 1 && work[0] == 0) {
            var remainder: UInt64 = 0
            for i in work.indices.reversed() {
                let v = remainder << 32 | UInt64(work[i])
                work[i] = UInt32(v / 1_000_000_000)
                remainder = v % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while work.count > 1, work.last == 0 { work.removeLast() }
        }
        var s = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let c = String(chunk)
            s += String(repeating: "0", count: 9 - c.utf8.count) + c
        }
        return s
    }
}
