/// tcpdump's timestamp styles: the default and `-t`, `-tt`, `-ttt`, `-tttt`, `-ttttt`.
public enum TcpdumpTimestampStyle: Sendable, Equatable {
    /// `HH:MM:SS.ffffff`, local time (the default).
    case timeOfDay
    /// `-t`: no timestamp.
    case none
    /// `-tt`: seconds since the epoch, `1700000000.123456`.
    case epoch
    /// `-ttt`: delta since the previous packet, ` 00:00:00.000123` (sign column first).
    case sincePrevious
    /// `-tttt`: `2026-11-21 12:34:56.123456`, local time.
    case dateAndTime
    /// `-ttttt`: delta since the first packet.
    case sinceFirst
}

/// How `TcpdumpPrinter` formats lines; the defaults are `tcpdump -n`'s.
public struct TcpdumpOptions: Sendable {
    public var timestampStyle: TcpdumpTimestampStyle
    /// `--nano` prints nine fractional digits.
    public var precision: TimestampPrecision
    /// Seconds east of UTC at a given UTC time (seconds since the epoch), for the
    /// local-time styles. tcpdump uses the host's zone; tests pass UTC.
    public var utcOffset: @Sendable (Int64) -> Int
    /// The name of an interface index, for Linux cooked v2 captures (tcpdump asks
    /// the host it runs on with `if_indextoname`; unknown indexes print as `?`).
    public var interfaceName: @Sendable (UInt32) -> String?
    /// At most this many TCP connections are remembered for relative sequence
    /// numbers; past it the table starts over (tcpdump never forgets).
    public var maximumTrackedConnections: Int

    public init(timestampStyle: TcpdumpTimestampStyle = .timeOfDay,
                precision: TimestampPrecision = .microseconds,
                utcOffset: @escaping @Sendable (Int64) -> Int = { _ in 0 },
                interfaceName: @escaping @Sendable (UInt32) -> String? = { _ in nil },
                maximumTrackedConnections: Int = 1 << 20) {
        self.timestampStyle = timestampStyle
        self.precision = precision
        self.utcOffset = utcOffset
        self.interfaceName = interfaceName
        self.maximumTrackedConnections = maximumTrackedConnections
    }
}

/// TCP and UDP ports on which tcpdump 4.99 hands the payload to an application
/// printer (DNS, HTTP, NTP, ...). On these ports `TcpdumpPrinter` still prints the
/// plain transport line, so its output differs from tcpdump's there. Measured with
/// tcpdump 4.99.3 by sending 16- and 64-byte payloads to every port.
public enum TcpdumpApplicationPorts {
    /// UDP ports decoded when either the source or the destination port matches.
    public static let udpEitherDirection: Set<UInt16> = [
        53, 67, 68, 69, 88, 123, 161, 162, 319, 320, 496, 500, 514, 520, 521, 525, 546, 547, 646, 654, 698, 701,
        750, 921, 1589, 1645, 1646, 1700, 1701, 1812, 1813, 2103, 2104, 3503, 3799, 4342, 4500, 4789, 4790, 5060,
        5353, 5359, 6081, 6343, 6635, 6696, 6697, 7000, 7001, 7002, 7003, 7004, 7005, 7006, 7007, 7008, 7009,
        7500, 8231, 8472, 8500, 12222, 12223, 17754, 30490,
    ]
    /// UDP ports decoded only as the destination port.
    public static let udpDestinationOnly: Set<UInt16> = [1985, 3456, 3784, 3785, 4567, 4784, 6784]
    /// UDP ports decoded only as the source port.
    public static let udpSourceOnly: Set<UInt16> = [49152]
    /// UDP ports decoded only for some payloads: NFS (2049, an RPC call or reply);
    /// AppleTalk-in-UDP (200–327, 768–895, 16512–16639) when the third byte is 2.
    public static let udpPayloadDependent: Set<UInt16> = [2049]
    /// TCP ports decoded (when the segment carries data) in either direction.
    public static let tcpEitherDirection: Set<UInt16> = [
        21, 25, 43, 53, 80, 179, 323, 554, 639, 646, 1723, 6379, 6633, 6653, 8080, 8554, 10288,
    ]
    /// TCP ports decoded only for some payloads: SSH (22, "SSH-"), Telnet (23, IAC),
    /// NFS (2049, an RPC record).
    public static let tcpPayloadDependent: Set<UInt16> = [22, 23, 2049]

    /// Whether tcpdump may print something other than `UDP, length N` for this datagram.
    public static func affectsUDP(source: UInt16, destination: UInt16) -> Bool {
        udpEitherDirection.contains(source) || udpEitherDirection.contains(destination)
            || udpDestinationOnly.contains(destination) || udpSourceOnly.contains(source)
            || udpPayloadDependent.contains(source) || udpPayloadDependent.contains(destination)
            || isAppleTalkPort(source) || isAppleTalkPort(destination)
    }

    /// Whether tcpdump may append an application decode to this TCP segment's line.
    public static func affectsTCP(source: UInt16, destination: UInt16) -> Bool {
        tcpEitherDirection.contains(source) || tcpEitherDirection.contains(destination)
            || tcpPayloadDependent.contains(source) || tcpPayloadDependent.contains(destination)
    }

    static func isAppleTalkPort(_ p: UInt16) -> Bool {
        (200..<328).contains(p) || (768..<896).contains(p) || (16512..<16640).contains(p)
    }
}

/// Prints packets as `tcpdump -n` (4.99) does, one line each (tcpdump's hex dumps
/// for unknown payloads add indented lines). IPv4/IPv6 TCP, UDP, ICMP and
/// ICMPv6 echo lines are identical to tcpdump's, including relative sequence
/// numbers, TCP options and truncation markers; other protocols get a short line.
///
/// The printer keeps state across packets (the previous timestamp for `-ttt`,
/// the TCP sequence-number table), so print a capture's packets in order with
/// one printer.
public struct TcpdumpPrinter {
    public var options: TcpdumpOptions {
        didSet { lastUTCOffset = nil }
    }

    var out = OutputBuffer(capacity: 4096)
    var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
    /// tcpdump's `ndo_snapend`: the end of the bytes a printer may read.
    var snapEnd = 0
    /// tcpdump's `ndo_protocol`, named in the ` [|proto]` truncation marker.
    var protocolName: StaticString = ""
    var ipDepth = 0

    var referenceTime: (seconds: Int64, fraction: Int64) = (0, 0)
    var lastUTCOffset: (seconds: Int64, offset: Int)?
    /// The text of the last two IPv4 endpoint pairs printed, newest first.
    var recentEndpointPairs = (EndpointPairText(), EndpointPairText())
    var tcpBases4: [TCPConnectionKey4: TCPSequenceBase] = [:]
    var tcpBases6: [TCPConnectionKey6: TCPSequenceBase] = [:]
    /// The entries of `tcpBases4` and `tcpBases6` used last.
    var lastTCPBase4: (key: TCPConnectionKey4, base: TCPSequenceBase)?
    var lastTCPBase6: (key: TCPConnectionKey6, base: TCPSequenceBase)?

    /// libpcap's `MAXIMUM_SNAPLEN`; tcpdump refuses longer headers.
    static let maximumSnapshotLength: UInt32 = 262_144

    public init(options: TcpdumpOptions = TcpdumpOptions()) {
        self.options = options
    }

    /// Appends the line(s) for `packet`, each ending in a newline, to `output`.
    public mutating func print(_ packet: CapturedPacket, into output: inout OutputBuffer) {
        print(timestamp: packet.timestamp, data: packet.data, wireLength: packet.wireLength,
              linkType: packet.linkType, into: &output)
    }

    /// Appends the line(s) for one frame to `output`.
    public mutating func print(timestamp: CaptureTimestamp, data: UnsafeRawBufferPointer, wireLength: Int,
                               linkType: LinkType, into output: inout OutputBuffer) {
        swap(&out, &output)
        defer { swap(&out, &output) }
        out.makeUnique()
        printFrame(timestamp: timestamp, data: data, wireLength: wireLength, linkType: linkType)
    }

    /// Appends the line(s) for `packet`, each ending in a newline, to `output`.
    public mutating func print(_ packet: CapturedPacket, into output: inout [UInt8]) {
        print(timestamp: packet.timestamp, data: packet.data, wireLength: packet.wireLength,
              linkType: packet.linkType, into: &output)
    }

    /// Appends the line(s) for one frame to `output`.
    public mutating func print(timestamp: CaptureTimestamp, data: UnsafeRawBufferPointer, wireLength: Int,
                               linkType: LinkType, into output: inout [UInt8]) {
        out.makeUnique()
        out.removeAll()
        printFrame(timestamp: timestamp, data: data, wireLength: wireLength, linkType: linkType)
        out.withUnsafeBytes { output.append(contentsOf: $0) }
        out.removeAll()
    }

    private mutating func printFrame(timestamp: CaptureTimestamp, data: UnsafeRawBufferPointer, wireLength: Int,
                                     linkType: LinkType) {
        let captured = UInt32(truncatingIfNeeded: data.count)
        let wire = UInt32(truncatingIfNeeded: wireLength)
        if captured == 0 || wire == 0 || wire < captured || captured > Self.maximumSnapshotLength
            || wire > Self.maximumSnapshotLength
        {
            printInvalidHeader(captured: captured, wire: wire)
            return
        }
        appendTimestamp(timestamp)
        bytes = data
        snapEnd = data.count
        protocolName = ""
        ipDepth = 0
        do throws(PrintTruncated) {
            try printLinkLayer(linkType, wireLength: Int(wire))
        } catch {
            appendTruncationMarker()
        }
        bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        out.appendByte(UInt8(ascii: "\n"))
    }

    /// Forgets the previous packet's time and the TCP sequence table.
    public mutating func reset() {
        referenceTime = (0, 0)
        tcpBases4.removeAll()
        tcpBases6.removeAll()
        lastTCPBase4 = nil
        lastTCPBase6 = nil
        lastUTCOffset = nil
    }

    private mutating func printInvalidHeader(captured: UInt32, wire: UInt32) {
        var first = true
        func lead(_ out: inout OutputBuffer) {
            if first { out.appendASCII("[Invalid header:") } else { out.appendASCII(",") }
            first = false
        }
        if captured == 0 {
            out.appendASCII("[Invalid header: caplen==0")
            first = false
        }
        if wire == 0 {
            lead(&out)
            out.appendASCII(" len==0")
        } else if wire < captured {
            lead(&out)
            out.appendASCII(" len(")
            out.appendDecimal(wire)
            out.appendASCII(") < caplen(")
            out.appendDecimal(captured)
            out.appendASCII(")")
        }
        if captured > Self.maximumSnapshotLength {
            lead(&out)
            out.appendASCII(" caplen(")
            out.appendDecimal(captured)
            out.appendASCII(") > 262144")
        }
        if wire > Self.maximumSnapshotLength {
            lead(&out)
            out.appendASCII(" len(")
            out.appendDecimal(wire)
            out.appendASCII(") > 262144")
        }
        out.appendASCII("]\n")
    }

    // MARK: reading with tcpdump's bounds (GET_* macros)

    struct PrintTruncated: Error {}

    @inline(__always)
    func u8(_ o: Int) throws(PrintTruncated) -> UInt8 {
        guard o >= 0, o < snapEnd else { throw PrintTruncated() }
        return bytes[o]
    }

    @inline(__always)
    func u16(_ o: Int) throws(PrintTruncated) -> UInt16 {
        guard o >= 0, o + 2 <= snapEnd else { throw PrintTruncated() }
        return UInt16(bytes[o]) << 8 | UInt16(bytes[o + 1])
    }

    @inline(__always)
    func u32(_ o: Int) throws(PrintTruncated) -> UInt32 {
        guard o >= 0, o + 4 <= snapEnd else { throw PrintTruncated() }
        return UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
    }

    @inline(__always)
    func u64(_ o: Int) throws(PrintTruncated) -> UInt64 {
        UInt64(try u32(o)) << 32 | UInt64(try u32(o + 4))
    }

    /// `ND_TTEST_LEN`: whether `length` bytes at `o` were captured.
    @inline(__always)
    func available(_ o: Int, _ length: Int) -> Bool { o >= 0 && length >= 0 && o <= snapEnd && length <= snapEnd - o }

    /// A header of `length` bytes at `o` that was not captured whole ends the line as
    /// tcpdump's IP and TCP printers end it: ` [remaining caplen(N) < header length(M)]`.
    mutating func requireHeader(at o: Int, length: Int) throws(PrintTruncated) {
        guard !available(o, length) else { return }
        out.appendASCII(" [remaining caplen(")
        out.appendDecimal(max(0, snapEnd - o))
        out.appendASCII(") < header length(")
        out.appendDecimal(length)
        out.appendASCII(")]")
        throw PrintTruncated()
    }

    func ipv4Address(_ o: Int) throws(PrintTruncated) -> IPv4Address { IPv4Address(try u32(o)) }

    func ipv6Address(_ o: Int) throws(PrintTruncated) -> IPv6Address {
        guard available(o, 16) else { throw PrintTruncated() }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[o..<o + 16]))
        return (try? r.ipv6Address()) ?? IPv6Address(high: 0, low: 0)
    }

    /// A view of captured bytes `[o, o + length)`, clipped to the snapshot end.
    func captured(_ o: Int, _ length: Int) -> UnsafeRawBufferPointer {
        let start = min(max(o, 0), snapEnd)
        let end = min(max(start, o + max(length, 0)), snapEnd)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// `nd_print_trunc`: ` [|proto]`.
    mutating func appendTruncationMarker() {
        out.appendASCII(" [|")
        out.appendASCII(protocolName)
        out.appendASCII("]")
    }

    /// `nd_print_invalid`: ` (invalid)`.
    mutating func appendInvalid() { out.appendASCII(" (invalid)") }

    // MARK: timestamps (tcpdump's ts_print)

    private mutating func appendTimestamp(_ ts: CaptureTimestamp) {
        let precision = options.precision
        let seconds = ts.seconds
        let fraction = ts.fraction(in: precision)
        switch options.timestampStyle {
        case .none:
            return
        case .timeOfDay:
            if Self.cannotConvert(seconds) {
                out.appendASCII("[Error converting time]")
            } else {
                appendClock(local: seconds + Int64(utcOffset(at: seconds)), withDate: false)
                appendFraction(fraction)
            }
        case .dateAndTime:
            if Self.cannotConvert(seconds) {
                out.appendASCII("[Error converting time]")
            } else {
                appendClock(local: seconds + Int64(utcOffset(at: seconds)), withDate: true)
                appendFraction(fraction)
            }
        case .epoch:
            if Self.cannotConvert(seconds) {
                out.appendASCII("[Error converting time]")
            } else {
                out.appendDecimal(UInt32(truncatingIfNeeded: seconds))
                appendFraction(fraction)
            }
        case .sincePrevious, .sinceFirst:
            if referenceTime.seconds == 0 && referenceTime.fraction == 0 {
                referenceTime = (seconds, fraction)
            }
            let negative = seconds == referenceTime.seconds ? fraction < referenceTime.fraction : seconds < referenceTime.seconds
            let later = negative ? referenceTime : (seconds, fraction)
            let earlier = negative ? (seconds, fraction) : referenceTime
            var deltaSeconds = later.0 &- earlier.0
            var deltaFraction = later.1 - earlier.1
            if deltaFraction < 0 {
                deltaSeconds -= 1
                deltaFraction += precision == .nanoseconds ? 1_000_000_000 : 1_000_000
            }
            out.appendByte(negative ? UInt8(ascii: "-") : UInt8(ascii: " "))
            if Self.cannotConvert(deltaSeconds) {
                out.appendASCII("[Error converting time]")
            } else {
                appendClock(local: deltaSeconds, withDate: false)
                appendFraction(deltaFraction)
            }
            if options.timestampStyle == .sincePrevious { referenceTime = (seconds, fraction) }
        }
        out.appendByte(UInt8(ascii: " "))
    }

    /// `options.utcOffset`, asked once per distinct second: packets come in bursts
    /// within one second, and the zone's offset cannot change inside a second.
    private mutating func utcOffset(at seconds: Int64) -> Int {
        if let last = lastUTCOffset, last.seconds == seconds { return last.offset }
        let offset = options.utcOffset(seconds)
        lastUTCOffset = (seconds, offset)
        return offset
    }

    /// tcpdump refuses times whose low 32 bits have the sign bit set (`(unsigned)sec & 0x80000000`).
    @inline(__always)
    private static func cannotConvert(_ seconds: Int64) -> Bool {
        UInt32(truncatingIfNeeded: seconds) & 0x8000_0000 != 0
    }

    /// `.%06u` / `.%09u` of the fraction cast to `unsigned`, as tcpdump prints it.
    private mutating func appendFraction(_ fraction: Int64) {
        out.appendByte(UInt8(ascii: "."))
        out.appendDecimal(UInt64(UInt32(truncatingIfNeeded: fraction)), minimumDigits: options.precision == .nanoseconds ? 9 : 6)
    }

    /// `%H:%M:%S`, or `%Y-%m-%d %H:%M:%S`, of a count of (local) seconds since the epoch.
    private mutating func appendClock(local: Int64, withDate: Bool) {
        var days = local / 86_400
        var secondOfDay = local % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        if withDate {
            // Howard Hinnant's civil_from_days.
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let doe = z - era * 146_097
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
            let mp = (5 * doy + 2) / 153
            let day = doy - (153 * mp + 2) / 5 + 1
            let month = mp < 10 ? mp + 3 : mp - 9
            let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
            out.appendDecimal(UInt64(max(year, 0)), minimumDigits: 4)
            out.appendByte(UInt8(ascii: "-"))
            out.appendTwoDigits(Int(month))
            out.appendByte(UInt8(ascii: "-"))
            out.appendTwoDigits(Int(day))
            out.appendByte(UInt8(ascii: " "))
        }
        let clock = out.reserveTail(8)
        OutputBuffer.writeDigits(UInt64(secondOfDay / 3600), ending: clock + 2, digits: 2)
        clock[2] = UInt8(ascii: ":")
        OutputBuffer.writeDigits(UInt64(secondOfDay % 3600 / 60), ending: clock + 5, digits: 2)
        clock[5] = UInt8(ascii: ":")
        OutputBuffer.writeDigits(UInt64(secondOfDay % 60), ending: clock + 8, digits: 2)
        out.count &+= 8
    }
}
