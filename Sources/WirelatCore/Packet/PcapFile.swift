/// The resolution a capture timestamp is kept or printed in.
public enum TimestampPrecision: Sendable, Equatable {
    case microseconds
    case nanoseconds
}

/// A packet's capture time. `fraction` is kept as the file stored it, in `unit`s:
/// capture files may hold out-of-range fractions (a microsecond field of
/// 1 000 000), and tcpdump prints those as they are, so nothing is normalised.
public struct CaptureTimestamp: Hashable, Sendable {
    /// Seconds since the epoch. Classic pcap stores a signed 32-bit field and
    /// libpcap sign-extends it; we do the same.
    public var seconds: Int64
    public var fraction: UInt32
    public var unit: TimestampPrecision

    public init(seconds: Int64, fraction: UInt32, unit: TimestampPrecision) {
        self.seconds = seconds
        self.fraction = fraction
        self.unit = unit
    }

    /// The sub-second part as libpcap hands it to tcpdump in `precision`: the
    /// 32-bit field read as signed (as libpcap reads it), then ×1000 going finer
    /// or ÷1000 (truncating toward zero) going coarser.
    @inline(__always)
    public func fraction(in precision: TimestampPrecision) -> Int64 {
        let raw = Int64(Int32(bitPattern: fraction))
        switch (unit, precision) {
        case (.microseconds, .nanoseconds): return raw * 1000
        case (.nanoseconds, .microseconds): return raw / 1000
        default: return raw
        }
    }

    /// Nanoseconds since the epoch (for RTT arithmetic; out-of-range fractions carry over).
    public var nanosecondsSinceEpoch: Int64 {
        seconds &* 1_000_000_000 &+ fraction(in: .nanoseconds)
    }
}

/// One packet record from a capture file. `data` borrows the file's bytes.
public struct CapturedPacket {
    public var timestamp: CaptureTimestamp
    /// Bytes captured (pcap `caplen`), after libpcap's clamp to the file's snapshot length.
    public var capturedLength: Int { data.count }
    /// Length on the wire (pcap `len`).
    public var wireLength: Int
    public var linkType: LinkType
    /// pcapng interface index; 0 for classic pcap.
    public var interfaceID: Int
    public var data: UnsafeRawBufferPointer

    public init(timestamp: CaptureTimestamp, wireLength: Int, linkType: LinkType, interfaceID: Int,
                data: UnsafeRawBufferPointer) {
        self.timestamp = timestamp
        self.wireLength = wireLength
        self.linkType = linkType
        self.interfaceID = interfaceID
        self.data = data
    }
}

/// Why a capture file could not be read (any further).
public struct PcapFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    /// Byte offset in the file where reading stopped.
    public let offset: Int

    public init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) (at byte \(offset))" }
}

/// Reads classic pcap (micro- and nanosecond magic, either byte order) and pcapng
/// (SHB, IDB, EPB, SPB and the obsolete PB; other blocks are skipped) from bytes
/// in memory, without libpcap, the way libpcap presents them to tcpdump.
public struct PcapFileReader {
    public enum Format: Sendable, Equatable {
        case pcap
        case pcapng
    }

    /// libpcap's `MAXIMUM_SNAPLEN`: larger records are refused.
    public static let maximumSnapshotLength = 262_144
    /// libpcap's `INITIAL_MAX_BLOCKSIZE`: larger pcapng blocks are refused.
    public static let maximumBlockLength = 16 << 20

    public let bytes: UnsafeRawBufferPointer
    public let format: Format
    /// The link type of the first interface (classic pcap has exactly one).
    public private(set) var linkType: LinkType
    /// Snapshot length from the file header (classic) or the first IDB.
    public private(set) var snapshotLength: Int
    /// The precision the file records timestamps in (pcapng: of the first interface).
    public private(set) var filePrecision: TimestampPrecision

    /// Where the next record starts.
    public private(set) var offset: Int
    private var bigEndian: Bool
    /// The interfaces of the current pcapng section; a new section starts afresh.
    private var interfaces: [Interface] = []
    /// The file's first interface: libpcap refuses any later one, in any section,
    /// with another link type or snapshot length.
    private var firstInterface: Interface?
    private var sections = 0

    private struct Interface {
        var linkType: LinkType
        var snapshotLength: Int
        /// The IDB's snapshot length as libpcap keeps it (`snapshotLength` is also capped at the maximum).
        var libpcapSnapshotLength: UInt32
        /// Timestamp units per second (`if_tsresol`).
        var unitsPerSecond: UInt64
        /// Seconds added to every timestamp (`if_tsoffset`).
        var offsetSeconds: Int64
    }

    private static let pcapMicroMagic: UInt32 = 0xA1B2_C3D4
    private static let pcapNanoMagic: UInt32 = 0xA1B2_3C4D
    private static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    private static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    public init(bytes: UnsafeRawBufferPointer) throws(PcapFileError) {
        self.bytes = bytes
        guard bytes.count >= 4 else { throw PcapFileError("file too short for a capture header", at: 0) }
        let magicBE = Self.load32(bytes, 0, bigEndian: true)
        let magicLE = Self.load32(bytes, 0, bigEndian: false)
        linkType = LinkType(rawValue: 0)
        snapshotLength = Self.maximumSnapshotLength
        filePrecision = .microseconds
        offset = 0
        bigEndian = false
        if magicBE == Self.pcapMicroMagic || magicBE == Self.pcapNanoMagic
            || magicLE == Self.pcapMicroMagic || magicLE == Self.pcapNanoMagic
        {
            format = .pcap
            bigEndian = magicBE == Self.pcapMicroMagic || magicBE == Self.pcapNanoMagic
            let magic = bigEndian ? magicBE : magicLE
            filePrecision = magic == Self.pcapNanoMagic ? .nanoseconds : .microseconds
            guard bytes.count >= 24 else { throw PcapFileError("truncated pcap file header", at: 0) }
            let snap = Int(Self.load32(bytes, 16, bigEndian: bigEndian))
            // libpcap treats 0 and oversized snapshot lengths as the maximum.
            snapshotLength = snap == 0 || snap > Self.maximumSnapshotLength ? Self.maximumSnapshotLength : snap
            // The upper bits of the link-type field carry FCS information (pcap-savefile(5)).
            linkType = LinkType(rawValue: Self.load32(bytes, 20, bigEndian: bigEndian) & 0x03FF_FFFF)
            offset = 24
        } else if magicBE == Self.sectionHeaderType {
            format = .pcapng
            try readSectionHeader()
            // Read ahead to the first interface so `linkType` is known before the first packet.
            var probe = self
            while probe.interfaces.isEmpty, probe.offset < bytes.count {
                do {
                    if try probe.nextBlockPacket(stopAfterInterface: true) != nil { break }
                } catch {
                    break
                }
            }
            if let first = probe.interfaces.first {
                linkType = first.linkType
                snapshotLength = first.snapshotLength
                filePrecision = first.unitsPerSecond > 1_000_000 ? .nanoseconds : .microseconds
            }
        } else {
            throw PcapFileError("not a pcap or pcapng file (magic 0x\(String(magicBE, radix: 16)))", at: 0)
        }
    }

    /// The next packet, or nil at the end of the file. A record that runs past
    /// the end of the file, or one libpcap would refuse, throws.
    public mutating func next() throws(PcapFileError) -> CapturedPacket? {
        switch format {
        case .pcap: return try nextClassic()
        case .pcapng: return try nextBlockPacket()
        }
    }

    // MARK: classic pcap

    /// Inlined into ``next()``, its one caller, which otherwise copies each packet out of
    /// this function's result into its own.
    @inline(__always)
    private mutating func nextClassic() throws(PcapFileError) -> CapturedPacket? {
        if offset == bytes.count { return nil }
        guard bytes.count - offset >= 16 else {
            throw PcapFileError("truncated dump file; tried to read 16 header bytes, only got \(bytes.count - offset)", at: offset)
        }
        let seconds = Int64(Int32(bitPattern: Self.load32(bytes, offset, bigEndian: bigEndian)))
        let fraction = Self.load32(bytes, offset + 4, bigEndian: bigEndian)
        var captured = Int(Self.load32(bytes, offset + 8, bigEndian: bigEndian))
        let wire = Int(Self.load32(bytes, offset + 12, bigEndian: bigEndian))
        let recordStart = offset
        offset += 16
        if captured > Self.maximumSnapshotLength {
            throw PcapFileError("invalid packet capture length \(captured), bigger than maximum of \(Self.maximumSnapshotLength)", at: recordStart)
        }
        let stored = captured
        // libpcap reads a record longer than the snapshot length but hands over only the snapshot.
        if captured > snapshotLength { captured = snapshotLength }
        guard bytes.count - offset >= stored else {
            throw PcapFileError("truncated dump file; tried to read \(stored) captured bytes, only got \(bytes.count - offset)", at: recordStart)
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + captured])
        offset += stored
        return CapturedPacket(
            timestamp: CaptureTimestamp(seconds: seconds, fraction: fraction, unit: filePrecision),
            wireLength: wire, linkType: linkType, interfaceID: 0, data: data)
    }

    // MARK: pcapng

    /// A section header: its byte order, which libpcap requires to stay that of
    /// the first section, and its version (the first 1.0 or 1.2, later ones 1.x).
    private mutating func readSectionHeader() throws(PcapFileError) {
        guard bytes.count - offset >= 28 else { throw PcapFileError("truncated pcapng section header", at: offset) }
        let order = Self.load32(bytes, offset + 8, bigEndian: true)
        let sectionBigEndian: Bool
        if order == Self.byteOrderMagic {
            sectionBigEndian = true
        } else if order == Self.byteOrderMagic.byteSwapped {
            sectionBigEndian = false
        } else {
            throw PcapFileError("pcapng section header has a bad byte-order magic", at: offset)
        }
        if sections > 0 && sectionBigEndian != bigEndian {
            throw PcapFileError("the file has sections with different byte orders", at: offset)
        }
        bigEndian = sectionBigEndian
        let length = Int(Self.load32(bytes, offset + 4, bigEndian: bigEndian))
        guard length >= 28, length % 4 == 0, bytes.count - offset >= length else {
            throw PcapFileError("pcapng section header has a bad length \(length)", at: offset)
        }
        guard length <= Self.maximumBlockLength else {
            throw PcapFileError("pcapng block size \(length) > maximum \(Self.maximumBlockLength)", at: offset)
        }
        let major = Self.load16(bytes, offset + 12, bigEndian: bigEndian)
        let minor = Self.load16(bytes, offset + 14, bigEndian: bigEndian)
        if sections == 0 && !(major == 1 && (minor == 0 || minor == 2)) {
            throw PcapFileError("unsupported pcapng savefile version \(major).\(minor)", at: offset)
        }
        if major != 1 {
            throw PcapFileError("unknown pcapng savefile major version number \(major)", at: offset)
        }
        sections += 1
        interfaces.removeAll(keepingCapacity: true)
        offset += length
    }

    private mutating func nextBlockPacket(stopAfterInterface: Bool = false) throws(PcapFileError) -> CapturedPacket? {
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else {
                throw PcapFileError("truncated pcapng block header", at: offset)
            }
            let type = Self.load32(bytes, offset, bigEndian: bigEndian)
            if type == Self.sectionHeaderType {
                try readSectionHeader()
                continue
            }
            let length = Int(Self.load32(bytes, offset + 4, bigEndian: bigEndian))
            guard length >= 12, length % 4 == 0, bytes.count - offset >= length else {
                throw PcapFileError("pcapng block of type \(type) has a bad length \(length)", at: offset)
            }
            guard length <= Self.maximumBlockLength else {
                throw PcapFileError("pcapng block size \(length) > maximum \(Self.maximumBlockLength)", at: offset)
            }
            let start = offset
            let body = start + 8
            let bodyEnd = start + length - 4
            offset += length
            switch type {
            case 1:
                try readInterface(body: body, end: bodyEnd)
                if stopAfterInterface { return nil }
            case 6:
                return try packetBlock(body: body, end: bodyEnd, blockStart: start, obsolete: false)
            case 3:
                guard let first = interfaces.first else {
                    throw PcapFileError("simple packet block before any interface", at: start)
                }
                guard bodyEnd - body >= 4 else { throw PcapFileError("truncated simple packet block", at: start) }
                // No captured length and no time stamp: libpcap takes the wire length cut to
                // the snapshot length, and time 0 (plus the interface's `if_tsoffset`).
                let wire = Int(Self.load32(bytes, body, bigEndian: bigEndian))
                let captured = min(wire, first.snapshotLength)
                guard captured <= bodyEnd - body - 4 else {
                    throw PcapFileError("a simple packet block is shorter than its packet's \(captured) bytes", at: start)
                }
                return CapturedPacket(
                    timestamp: CaptureTimestamp(seconds: first.offsetSeconds, fraction: 0, unit: filePrecision),
                    wireLength: wire, linkType: first.linkType, interfaceID: 0,
                    data: UnsafeRawBufferPointer(rebasing: bytes[body + 4..<body + 4 + captured]))
            case 2:
                return try packetBlock(body: body, end: bodyEnd, blockStart: start, obsolete: true)
            default:
                continue
            }
        }
        return nil
    }

    private mutating func readInterface(body: Int, end: Int) throws(PcapFileError) {
        guard end - body >= 8 else { throw PcapFileError("truncated interface description block", at: body - 8) }
        let type = LinkType(rawValue: UInt32(Self.load16(bytes, body, bigEndian: bigEndian)))
        let storedSnap = Self.load32(bytes, body + 4, bigEndian: bigEndian)
        // libpcap 1.10 (`pcap_adjust_snapshot`) turns only 0 and values past INT_MAX into the maximum.
        let libpcapSnap = storedSnap == 0 || storedSnap > UInt32(Int32.max) ? UInt32(Self.maximumSnapshotLength) : storedSnap
        let snap = min(Int(libpcapSnap), Self.maximumSnapshotLength)
        if let first = firstInterface {
            if first.linkType != type {
                throw PcapFileError(
                    "an interface has a type \(type.rawValue) different from the type of the first interface", at: body - 8)
            }
            if first.libpcapSnapshotLength != libpcapSnap {
                throw PcapFileError(
                    "an interface has a snapshot length \(storedSnap) different from the snapshot length of the first interface",
                    at: body - 8)
            }
        }
        var unitsPerSecond: UInt64 = 1_000_000
        var tsOffset: Int64 = 0
        var o = body + 8
        while end - o >= 4 {
            let code = Self.load16(bytes, o, bigEndian: bigEndian)
            let length = Int(Self.load16(bytes, o + 2, bigEndian: bigEndian))
            let value = o + 4
            if code == 0 { break }
            guard end - value >= length else { break }
            if code == 9, length >= 1 {
                let r = bytes[value]
                let exponent = UInt64(r & 0x7F)
                if r & 0x80 != 0 {
                    unitsPerSecond = exponent < 64 ? 1 << exponent : 0
                } else {
                    var u: UInt64 = 1
                    var overflow = false
                    for _ in 0..<exponent {
                        let (p, o) = u.multipliedReportingOverflow(by: 10)
                        u = p
                        overflow = overflow || o
                    }
                    unitsPerSecond = overflow ? 0 : u
                }
                if unitsPerSecond == 0 {
                    throw PcapFileError("interface description block has an unsupported time resolution", at: o)
                }
            } else if code == 14, length >= 8 {
                tsOffset = Int64(bitPattern: Self.load64(bytes, value, bigEndian: bigEndian))
            }
            o = value + (length + 3) & ~3
        }
        let interface = Interface(linkType: type, snapshotLength: snap, libpcapSnapshotLength: libpcapSnap,
                                  unitsPerSecond: unitsPerSecond, offsetSeconds: tsOffset)
        if firstInterface == nil { firstInterface = interface }
        interfaces.append(interface)
    }

    /// An enhanced packet block (pcapng §4.3) or the obsolete packet block it replaced
    /// (Appendix A): the same 20 bytes of interface, time stamp and lengths, except that
    /// the obsolete block's interface ID is 16 bits (then a 16-bit drop count).
    private func packetBlock(body: Int, end: Int, blockStart: Int, obsolete: Bool) throws(PcapFileError) -> CapturedPacket {
        guard end - body >= 20 else {
            throw PcapFileError(obsolete ? "truncated packet block" : "truncated enhanced packet block", at: blockStart)
        }
        let id = obsolete ? Int(Self.load16(bytes, body, bigEndian: bigEndian)) : Int(Self.load32(bytes, body, bigEndian: bigEndian))
        let high = UInt64(Self.load32(bytes, body + 4, bigEndian: bigEndian))
        let low = UInt64(Self.load32(bytes, body + 8, bigEndian: bigEndian))
        let captured = Int(Self.load32(bytes, body + 12, bigEndian: bigEndian))
        let wire = Int(Self.load32(bytes, body + 16, bigEndian: bigEndian))
        return try packet(interfaceID: id, units: high << 32 | low, captured: captured, wire: wire,
                          dataStart: body + 20, end: end, blockStart: blockStart)
    }

    private func packet(interfaceID: Int, units: UInt64, captured: Int, wire: Int, dataStart: Int, end: Int,
                        blockStart: Int) throws(PcapFileError) -> CapturedPacket {
        guard interfaceID < interfaces.count else {
            throw PcapFileError("a packet arrived on interface \(interfaceID), but there's no such interface", at: blockStart)
        }
        let interface = interfaces[interfaceID]
        // Unlike a classic pcap record, a pcapng packet longer than the snapshot length is refused.
        if captured > interface.snapshotLength {
            throw PcapFileError("invalid packet capture length \(captured), bigger than snaplen of \(interface.snapshotLength)", at: blockStart)
        }
        guard captured <= end - dataStart else {
            throw PcapFileError("a packet has a capture length \(captured) larger than its block", at: blockStart)
        }
        let perSecond = interface.unitsPerSecond
        let whole = units / perSecond
        let part = units % perSecond
        let (hi, lo) = part.multipliedFullWidth(by: 1_000_000_000)
        let nanos = UInt32(perSecond.dividingFullWidth((hi, lo)).quotient)
        let precision: TimestampPrecision = perSecond > 1_000_000 ? .nanoseconds : .microseconds
        let fraction = precision == .nanoseconds ? nanos : nanos / 1000
        return CapturedPacket(
            timestamp: CaptureTimestamp(seconds: Int64(bitPattern: whole) &+ interface.offsetSeconds,
                                        fraction: fraction, unit: precision),
            wireLength: wire, linkType: interface.linkType, interfaceID: interfaceID,
            data: UnsafeRawBufferPointer(rebasing: bytes[dataStart..<dataStart + captured]))
    }

    // MARK: loads

    // One unaligned load each, where byte-by-byte reads with an overflow check per
    // offset kept the compiler from merging them (some 50 instructions a record). Every
    // caller has checked the range against `bytes.count` first.

    @inline(__always)
    private static func load16(_ b: UnsafeRawBufferPointer, _ o: Int, bigEndian: Bool) -> UInt16 {
        let v = b.loadUnaligned(fromByteOffset: o, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    @inline(__always)
    private static func load32(_ b: UnsafeRawBufferPointer, _ o: Int, bigEndian: Bool) -> UInt32 {
        let v = b.loadUnaligned(fromByteOffset: o, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    @inline(__always)
    private static func load64(_ b: UnsafeRawBufferPointer, _ o: Int, bigEndian: Bool) -> UInt64 {
        let hi = UInt64(load32(b, o, bigEndian: bigEndian))
        let lo = UInt64(load32(b, o + 4, bigEndian: bigEndian))
        return bigEndian ? hi << 32 | lo : lo << 32 | hi
    }
}
