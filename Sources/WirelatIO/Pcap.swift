@preconcurrency import Glibc
@preconcurrency import CPcap
import WirelatCore

/// A libpcap error, with the exit code wirelat gives it.
public struct PcapError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The capture file could not be read (exit 2).
        case badFile
        /// The process lacks CAP_NET_RAW (exit 3).
        case permission
        /// The interface does not exist or cannot capture (exit 1).
        case device
        /// The filter expression does not compile (exit 64).
        case filter
        case other
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// A live capture's interface was deleted, in libpcap's words for it.
    public static let interfaceDisappeared = PcapError(.other, "reading packets: The interface disappeared")
}

/// One libpcap handle, live or offline, closed on deinit. Packets are only lent
/// to a closure: libpcap reuses its buffer on the next call.
public final class PcapHandle {
    private let handle: OpaquePointer
    public let linkType: LinkType
    /// True when timestamps are nanoseconds (always asked for; a live interface may refuse).
    public let nanosecond: Bool
    public let isLive: Bool
    /// The file an offline handle reads ("-" for standard input); nil for a live one.
    public let path: String?
    /// The index of the interface a live capture was opened on, in this process's
    /// network namespace; nil for `any`, pseudo-devices without an index, and files.
    public let interfaceIndex: UInt32?

    private init(handle: OpaquePointer, isLive: Bool, path: String? = nil, interfaceIndex: UInt32? = nil) {
        self.handle = handle
        self.isLive = isLive
        self.path = path
        self.interfaceIndex = interfaceIndex
        linkType = LinkType(rawValue: UInt32(bitPattern: pcap_datalink(handle)))
        nanosecond = pcap_get_tstamp_precision(handle) == Int32(PCAP_TSTAMP_PRECISION_NANO)
    }

    deinit {
        pcap_close(handle)
    }

    /// Opens a pcap or pcapng file ("-": standard input) with nanosecond timestamps.
    /// libpcap reads and checks the file header here; the packets come later, from
    /// `dispatch` or from `mappedPackets()`.
    /// The corresponding C function is `pcap_open_offline_with_tstamp_precision`.
    public static func openOffline(_ path: String) throws(PcapError) -> PcapHandle {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            var why = cString(errbuf)
            // libpcap names the file itself when fopen fails; its words for an empty file or an unknown magic say little.
            if why.hasPrefix(path + ": ") { why.removeFirst(path.count + 2) }
            if why == "unknown file format" { why = "not a pcap or pcapng capture file" }
            if why == "truncated dump file; tried to read 4 file header bytes, only got 0" { why = "it is empty" }
            throw PcapError(.badFile, "cannot read \(fileDisplayName(path)): \(why)")
        }
        return PcapHandle(handle: h, isLive: false, path: path)
    }

    /// Opens an interface for live capture: snapshot length, kernel buffer
    /// size, nanosecond timestamps and a short delivery timeout, then activates it.
    ///
    /// Not immediate mode: on Linux that makes libpcap fall back from TPACKET_V3
    /// to V2, whose ring has one fixed frame per snapshot length (128 frames of
    /// 64 KiB for a 256 KiB snapshot) and drops packets at full loopback speed.
    /// V3 fills variable-size blocks and hands them over at least every
    /// `timeoutMilliseconds`.
    public static func openLive(_ interface: String, snapshotLength: Int32 = 262_144, bufferBytes: Int32 = 8 << 20,
                                promiscuous: Bool = false, timeoutMilliseconds: Int32 = 20) throws(PcapError) -> PcapHandle {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_create(interface, &errbuf) else {
            throw PcapError(.device, "cannot capture on \(interface): \(cString(errbuf))")
        }
        _ = pcap_set_snaplen(h, snapshotLength)
        _ = pcap_set_timeout(h, timeoutMilliseconds)
        _ = pcap_set_buffer_size(h, bufferBytes)
        _ = pcap_set_promisc(h, promiscuous ? 1 : 0)
        _ = pcap_set_tstamp_precision(h, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let rc = pcap_activate(h)
        if rc < 0 {
            let detail = cString(pcap_geterr(h))
            pcap_close(h)
            switch rc {
            case PCAP_ERROR_PERM_DENIED:
                throw PcapError(.permission, "capturing on \(interface) needs CAP_NET_RAW (run as root, or setcap cap_net_raw+ep on the binary): \(detail)")
            case PCAP_ERROR_NO_SUCH_DEVICE:
                throw PcapError(.device, "no such interface \(interface)")
            default:
                throw PcapError(.device, "cannot capture on \(interface): \(detail)")
            }
        }
        let index = if_nametoindex(interface)
        return PcapHandle(handle: h, isLive: true, interfaceIndex: index == 0 ? nil : index)
    }

    /// Whether the interface this live capture was opened on is gone: no interface
    /// has its index any more (a new one with the same name has another index; a
    /// renamed one keeps it, and the capture with it).
    ///
    /// libpcap learns of a deleted interface from one socket error (ENETDOWN), which
    /// the kernel raises once, when the interface goes down on its way out, and which
    /// reading it clears. libpcap then looks the interface up by name (SIOCGIFFLAGS):
    /// while the kernel is still unregistering it, or when it was set down before it
    /// was deleted, the lookup succeeds, libpcap takes the error for "went down" and
    /// carries on, and the deletion raises nothing more: the capture would wait
    /// forever on a socket that receives nothing. Callers ask this property
    /// periodically instead.
    /// The corresponding C function is `if_indextoname`.
    public var interfaceVanished: Bool {
        guard let interfaceIndex else { return false }
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        return if_indextoname(interfaceIndex, &name) == nil && errno == ENXIO
    }

    /// Compiles a BPF filter (tcpdump's expression syntax) for this handle's link
    /// type and snapshot length, optimised, netmask unknown, as tcpdump compiles it.
    /// The corresponding C function is `pcap_compile`.
    public func compileFilter(_ expression: String) throws(PcapError) -> PcapFilter {
        let filter = PcapFilter()
        if pcap_compile(handle, filter.program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw PcapError(.filter, "bad filter \"\(expression)\": \(cString(pcap_geterr(handle)))")
        }
        return filter
    }

    /// Compiles and installs a BPF filter, which `dispatch` then applies.
    /// The corresponding C function is `pcap_setfilter`.
    public func setFilter(_ expression: String) throws(PcapError) {
        let filter = try compileFilter(expression)
        if pcap_setfilter(handle, filter.program) != 0 {
            throw PcapError(.filter, "cannot install filter: \(cString(pcap_geterr(handle)))")
        }
    }

    /// A descriptor for epoll, with the handle switched to non-blocking.
    public func selectableDescriptor() throws(PcapError) -> CInt {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        if pcap_setnonblock(handle, 1, &errbuf) != 0 {
            throw PcapError(.other, "pcap_setnonblock: \(cString(errbuf))")
        }
        let fd = pcap_get_selectable_fd(handle)
        if fd < 0 { throw PcapError(.other, "this capture has no selectable descriptor") }
        return fd
    }

    /// Hands up to `limit` packets (all available when -1) to `body`, one at a
    /// time. Returns how many were handled, 0 at the end of a file.
    /// The corresponding C function is `pcap_dispatch`.
    public func dispatch(limit: Int32 = -1, _ body: (borrowing CapturedPacket) -> Void) throws(PcapError) -> Int {
        try withoutActuallyEscaping(body) { (escapable) throws(PcapError) -> Int in
            let box = DispatchBox(body: escapable, linkType: linkType, nanosecond: nanosecond)
            let user = Unmanaged.passUnretained(box).toOpaque()
            let n = pcap_dispatch(handle, limit, { user, header, bytes in
                guard let user, let header, let bytes else { return }
                let box = Unmanaged<DispatchBox>.fromOpaque(user).takeUnretainedValue()
                let h = header.pointee
                let packet = CapturedPacket(
                    timestamp: captureTimestamp(h.ts, nanosecond: box.nanosecond),
                    wireLength: Int(h.len), linkType: box.linkType, interfaceID: 0,
                    data: UnsafeRawBufferPointer(start: bytes, count: Int(h.caplen)))
                box.body(packet)
            }, UnsafeMutablePointer(OpaquePointer(user)))
            if n == PCAP_ERROR {
                let why = cString(pcap_geterr(handle))
                if let path { throw PcapError(.badFile, "cannot read \(fileDisplayName(path)): \(why)") }
                throw PcapError(.other, "reading packets: \(why)")
            }
            return Int(max(0, n))
        }
    }

    /// Makes a running `dispatch` return early.
    public func breakLoop() { pcap_breakloop(handle) }

    /// The packets of this offline handle's file read in place, from a read-only
    /// mapping, instead of copied through libpcap's buffer by `dispatch`. nil when
    /// they must come through `dispatch`: a live capture, standard input, a FIFO or
    /// anything else that is not a regular file, a file that cannot be mapped, or
    /// one `PcapFileReader` would not present exactly as libpcap does.
    /// libpcap has already read and checked the file header.
    public func mappedPackets() -> MappedPackets? {
        guard !isLive, let path, path != "-", libpcapLeavesPacketsAsStored, let stream = pcap_file(handle) else { return nil }
        let descriptor = fileno(stream)
        guard descriptor >= 0,
              let file = (try? MappedFile.map(descriptor: descriptor)) ?? nil,
              let reader = try? PcapFileReader(bytes: file.bytes),
              reader.format == .pcapng || pcap_major_version(handle) == 2 && pcap_minor_version(handle) == 4,
              reader.snapshotLength == Int(pcap_snapshot(handle)),
              // libpcap numbers link types as DLT_ values, files as LINKTYPE_ values; they differ for raw IP only.
              reader.linkType == linkType || (reader.linkType == .rawLinkType && linkType == .raw)
        else { return nil }
        return MappedPackets(file: file, reader: reader, linkType: linkType, name: fileDisplayName(path))
    }

    /// Whether libpcap hands over this file's packets as they are stored, so that
    /// `PcapFileReader` can too. For some link types it rewrites pseudo-headers in
    /// place (byte-swapped Linux cooked headers of CAN frames, USB, NFLOG) or allows
    /// records past 256 KiB; it swaps the length fields of pcap versions before 2.4
    /// (checked against the reader's format) and reads the 0xa1b2cd34 variant's
    /// longer record headers (which the reader refuses). Those stay with libpcap.
    /// The link types here are the ones wirelat decodes, where none of that applies.
    private var libpcapLeavesPacketsAsStored: Bool {
        switch linkType {
        case .null, .ethernet, .raw, .loop, .ipv4, .ipv6: return true
        case .linuxSLL, .linuxSLL2: return pcap_is_swapped(handle) == 0
        default: return false
        }
    }

    /// Kernel counters of a live capture: received, dropped by the kernel, dropped by the interface.
    public func statistics() -> (received: UInt32, dropped: UInt32, interfaceDropped: UInt32)? {
        var s = pcap_stat()
        guard pcap_stats(handle, &s) == 0 else { return nil }
        return (s.ps_recv, s.ps_drop, s.ps_ifdrop)
    }

    /// A writer of a nanosecond pcap file with this handle's link type and snapshot length.
    public func openDumper(_ path: String) throws(PcapError) -> PcapDumper {
        guard let dead = pcap_open_dead_with_tstamp_precision(pcap_datalink(handle), pcap_snapshot(handle), UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw PcapError(.other, "pcap_open_dead failed")
        }
        guard let d = pcap_dump_open(dead, path) else {
            let why = cString(pcap_geterr(dead))
            pcap_close(dead)
            throw PcapError(.badFile, "cannot write \(path): \(why)")
        }
        // The header goes out now, so that a full disk shows before the first packet.
        if pcap_dump_flush(d) != 0 {
            let why = String(cString: strerror(errno))
            pcap_dump_close(d)
            pcap_close(dead)
            throw PcapError(.other, "cannot write \(path): \(why)")
        }
        return PcapDumper(dead: dead, dumper: d, path: path)
    }

    /// The timestamp as nanoseconds of the handle's unit, for `PcapDumper`.
    var fractionUnitIsNano: Bool { nanosecond }
}

/// A compiled BPF program, freed on deinit.
public final class PcapFilter {
    let program: UnsafeMutablePointer<bpf_program>

    init() {
        program = .allocate(capacity: 1)
        program.initialize(to: bpf_program())
    }

    deinit {
        pcap_freecode(program)
        program.deallocate()
    }

    /// Whether the packet passes, judged on its captured bytes and wire length
    /// as libpcap judges the packets `dispatch` reads.
    /// The corresponding C function is `pcap_offline_filter`.
    @inline(__always)
    public func matches(_ packet: borrowing CapturedPacket) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: packet.data.count)
        header.len = UInt32(truncatingIfNeeded: packet.wireLength)
        return pcap_offline_filter(program, &header, packet.data.baseAddress?.assumingMemoryBound(to: UInt8.self)) != 0
    }
}

/// An offline capture's packets, read by `PcapFileReader` where they lie in a
/// read-only mapping of the file. Made by `PcapHandle.mappedPackets()` only for
/// files the reader presents exactly as libpcap does; packets carry the handle's
/// link type, as they do from `dispatch`. Packets are lent to a closure: they
/// borrow the mapping.
public final class MappedPackets {
    private let file: MappedFile
    private var reader: PcapFileReader
    private let linkType: LinkType
    private let name: String
    private var nextRelease = MappedPackets.releaseWindow
    private var breakRequested = false
    /// How far behind the reader mapped pages are kept: more than the largest block
    /// the reader accepts, so the packet being handled is never released.
    static let releaseWindow = 16 << 20

    init(file: MappedFile, reader: PcapFileReader, linkType: LinkType, name: String) {
        self.file = file
        self.reader = reader
        self.linkType = linkType
        self.name = name
    }

    /// Hands up to `limit` packets (all that are left when -1) that pass `filter`
    /// to `body`, one at a time, as `PcapHandle.dispatch` does. Returns how many
    /// were handled, 0 at the end of the file. A damaged record throws, after the
    /// packets before it have been handled.
    public func dispatch(limit: Int32 = -1, filter: PcapFilter? = nil,
                         _ body: (borrowing CapturedPacket) -> Void) throws(PcapError) -> Int {
        var reader = self.reader
        defer { self.reader = reader }
        var handled = 0
        while limit < 0 || handled < Int(limit) {
            let start = reader.offset
            let next: CapturedPacket?
            do {
                next = try reader.next()
            } catch {
                guard file.isIntact(through: start) else { throw shrank(at: start) }
                throw PcapError(.badFile, "cannot read \(name) at byte \(error.offset): \(error.message)")
            }
            guard var packet = next else { break }
            guard file.isIntact(through: reader.offset) else { throw shrank(at: start) }
            packet.linkType = linkType
            if reader.offset >= nextRelease {
                // What lies behind the reader is done with: keep the resident set to a
                // window rather than the whole file.
                file.release(before: reader.offset - Self.releaseWindow)
                nextRelease = reader.offset + Self.releaseWindow
            }
            if let filter, !filter.matches(packet) { continue }
            body(packet)
            handled += 1
            if breakRequested {
                breakRequested = false
                break
            }
        }
        return handled
    }

    /// Makes a running `dispatch` return after the packet being handled, as
    /// `PcapHandle.breakLoop` does for libpcap's.
    public func breakLoop() { breakRequested = true }

    /// The file was cut short under the mapping: another program truncated it (a ring
    /// of `tcpdump -C -W` files reusing one, say) while it was read.
    @inline(never)
    private func shrank(at offset: Int) -> PcapError {
        PcapError(.badFile, "\(name) shrank while it was being read (truncated by another program?); stopped at byte \(offset)")
    }
}

/// A libpcap time stamp as `CapturedPacket` keeps it. A nanosecond handle scales a
/// microsecond file's fraction ×1000 in a `long`; a fraction past the 32-bit range
/// (a damaged file's) is only exact as the microseconds the file stored, and kept so.
@inline(__always)
private func captureTimestamp(_ ts: timeval, nanosecond: Bool) -> CaptureTimestamp {
    let seconds = Int64(ts.tv_sec)
    guard nanosecond else {
        return CaptureTimestamp(seconds: seconds, fraction: UInt32(truncatingIfNeeded: ts.tv_usec), unit: .microseconds)
    }
    if let fraction = Int32(exactly: ts.tv_usec) {
        return CaptureTimestamp(seconds: seconds, fraction: UInt32(bitPattern: fraction), unit: .nanoseconds)
    }
    return CaptureTimestamp(seconds: seconds, fraction: UInt32(truncatingIfNeeded: ts.tv_usec / 1000), unit: .microseconds)
}

private final class DispatchBox {
    let body: (borrowing CapturedPacket) -> Void
    let linkType: LinkType
    let nanosecond: Bool

    init(body: @escaping (borrowing CapturedPacket) -> Void, linkType: LinkType, nanosecond: Bool) {
        self.body = body
        self.linkType = linkType
        self.nanosecond = nanosecond
    }
}

/// Writes packets to a nanosecond-precision pcap file (`-w`).
///
/// libpcap writes the file header (its link type numbering and all); the records
/// go through this writer's own buffer straight to the descriptor, because
/// `pcap_dump` reports no error: on a full disk it would leave a record cut in
/// half and the caller none the wiser. Every write is checked; on the first
/// failure the file is cut back to the last whole record, `recordsWritten` says
/// how many it holds, and the error names the file and the reason.
public final class PcapDumper {
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    private let descriptor: CInt
    private let path: String
    private var buffer: [UInt8] = []
    /// Where each record in `buffer` ends, counted from the start of `buffer`.
    private var recordEnds: [Int] = []
    /// Bytes of the file known to be written: the header and whole records.
    private var fileBytes: Int
    private var failure: PcapError?
    /// Records in the file (once `flush` has returned without an error).
    public private(set) var recordsWritten = 0

    static let bufferBytes = 1 << 16

    /// Takes over a dumper whose header libpcap has written and flushed.
    init(dead: OpaquePointer, dumper: OpaquePointer, path: String) {
        self.dead = dead
        self.dumper = dumper
        self.path = path
        descriptor = fileno(pcap_dump_file(dumper))
        fileBytes = Int(pcap_dump_ftell64(dumper))
        buffer.reserveCapacity(Self.bufferBytes)
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }

    /// Adds one record, written out once the buffer is full. Throws the first
    /// write error (and every call after it).
    public func write(_ packet: borrowing CapturedPacket) throws(PcapError) {
        if let failure { throw failure }
        let caplen = packet.data.count
        if buffer.count + 16 + caplen > Self.bufferBytes && !buffer.isEmpty { try flush() }
        appendUInt32(UInt32(truncatingIfNeeded: packet.timestamp.seconds))
        appendUInt32(UInt32(truncatingIfNeeded: packet.timestamp.fraction(in: .nanoseconds)))
        appendUInt32(UInt32(caplen))
        appendUInt32(UInt32(truncatingIfNeeded: packet.wireLength))
        buffer.append(contentsOf: packet.data)
        recordEnds.append(buffer.count)
        if buffer.count >= Self.bufferBytes { try flush() }
    }

    /// Writes out what is buffered. On a failed or short write, cuts the file back
    /// to its last whole record and throws.
    /// The corresponding C functions are `write` and, on failure, `ftruncate`.
    public func flush() throws(PcapError) {
        if let failure { throw failure }
        var written = 0
        var error: SystemError?
        while written < buffer.count {
            do throws(SystemError) {
                let n = try retrying("write") {
                    buffer.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
                }
                if n == 0 { throw SystemError(call: "write", errno: EIO) }
                written += n
            } catch let e {
                error = e
                break
            }
        }
        let whole = recordEnds.prefix { $0 <= written }
        recordsWritten += whole.count
        fileBytes += whole.last ?? 0
        buffer.removeAll(keepingCapacity: true)
        recordEnds.removeAll(keepingCapacity: true)
        guard let error else { return }
        var reason = String(cString: strerror(error.errno))
        if written > (whole.last ?? 0) && ftruncate(descriptor, off_t(fileBytes)) != 0 {
            reason += ", and its last packet is cut short (ftruncate: \(String(cString: strerror(errno))))"
        }
        let failure = PcapError(.other, "cannot write \(path): \(reason)")
        self.failure = failure
        throw failure
    }

    private func appendUInt32(_ value: UInt32) {
        withUnsafeBytes(of: value) { buffer.append(contentsOf: $0) }
    }
}

/// How messages name a capture file.
func fileDisplayName(_ path: String) -> String {
    path == "-" ? "standard input" : path
}

func cString(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: Int(strlen(pointer)))
    return String(decoding: bytes, as: UTF8.self)
}
