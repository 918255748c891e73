import RealModule

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
        self.loadFactor = validInterval > 0 ? 1.0 - Double.exp(-validInterval / 60.0) : 0
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
        let factor = intervalSeconds > 0.0 ? loadFactor : 1.0 - Double.exp(-elapsed / 60.0)
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
            emptyLoad *= Double.pow(1 - loadFactor, gap)
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
                case .averageSize: CFormat.appendFixed(average, decimals: 2, to: &out)
                case .bytesPerSecond: CFormat.appendFixed(c.sum / deltaT, decimals: 2, to: &out)
                case .bitsPerSecond: CFormat.appendFixed(c.sum / deltaT * 8.0, decimals: 2, to: &out)
                case .icmpPackets: out += String(c.icmp)
                case .sizeStandardDeviation: CFormat.appendFixed(deviation, decimals: 2, to: &out)
                case .ipv4Packets: out += String(c.ipv4)
                case .load: CFormat.appendFixed(peakBitsPerSecond == 0.0 ? 1.0 : load / peakBitsPerSecond, decimals: 2, to: &out)
                case .maximumSize: out += String(c.maximumSize)
                case .minimumSize: out += String(c.minimumSize)
                case .bytes: CFormat.appendFixed(c.sum, decimals: 0, to: &out)
                case .packets: out += String(c.packets)
                case .packetsPerSecond: CFormat.appendFixed(Double(c.packets) / deltaT, decimals: 2, to: &out)
                case .epochSeconds: out += String(CFormat.int(middle + 0.5 - relativeSeconds))
                case .epochTime: CFormat.appendFixed(middle - relativeSeconds, decimals: 6, to: &out)
                case .secondsSinceFirstPacket: out += String(CFormat.int(middle + 0.5 - (relativeSeconds + firstPacket)))
                case .timeSinceFirstPacket: CFormat.appendFixed(middle - (relativeSeconds + firstPacket), decimals: 6, to: &out)
                case .tcpPackets: out += String(c.tcp)
                case .udpPackets: out += String(c.udp)
                case .ipv6Packets: out += String(c.ipv6)
                }
            }
        }
        return out
    }
}
