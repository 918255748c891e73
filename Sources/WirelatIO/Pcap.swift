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
}

/// One libpcap handle, live or offline, closed on deinit. Packets are only lent
/// to a closure: libpcap reuses its buffer on the next call.
public final class PcapHandle {
    private let handle: OpaquePointer
    public let linkType: LinkType
    /// True when timestamps are nanoseconds (always asked for; a live interface may refuse).
    public let nanosecond: Bool
    public let isLive: Bool

    private init(handle: OpaquePointer, isLive: Bool) {
        self.handle = handle
        self.isLive = isLive
        linkType = LinkType(rawValue: UInt32(bitPattern: pcap_datalink(handle)))
        nanosecond = pcap_get_tstamp_precision(handle) == Int32(PCAP_TSTAMP_PRECISION_NANO)
    }

    deinit {
        pcap_close(handle)
    }

    /// Opens a pcap or pcapng file with nanosecond timestamps.
    /// The corresponding C function is `pcap_open_offline_with_tstamp_precision`.
    public static func openOffline(_ path: String) throws(PcapError) -> PcapHandle {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            throw PcapError(.badFile, "cannot read \(path): \(cString(errbuf))")
        }
        return PcapHandle(handle: h, isLive: false)
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
        return PcapHandle(handle: h, isLive: true)
    }

    /// Compiles and installs a BPF filter (tcpdump's expression syntax).
    public func setFilter(_ expression: String) throws(PcapError) {
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw PcapError(.filter, "bad filter \"\(expression)\": \(cString(pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        if pcap_setfilter(handle, &program) != 0 {
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
                    timestamp: CaptureTimestamp(seconds: Int64(h.ts.tv_sec), fraction: UInt32(truncatingIfNeeded: h.ts.tv_usec),
                                                unit: box.nanosecond ? .nanoseconds : .microseconds),
                    wireLength: Int(h.len), linkType: box.linkType, interfaceID: 0,
                    data: UnsafeRawBufferPointer(start: bytes, count: Int(h.caplen)))
                box.body(packet)
            }, UnsafeMutablePointer(OpaquePointer(user)))
            if n == PCAP_ERROR {
                throw PcapError(isLive ? .other : .badFile, "reading packets: \(cString(pcap_geterr(handle)))")
            }
            return Int(max(0, n))
        }
    }

    /// Makes a running `dispatch` return early.
    public func breakLoop() { pcap_breakloop(handle) }

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
        return PcapDumper(dead: dead, dumper: d)
    }

    /// The timestamp as nanoseconds of the handle's unit, for `PcapDumper`.
    var fractionUnitIsNano: Bool { nanosecond }
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

/// Writes packets to a nanosecond-precision pcap file (`-w`). Flushed and closed on deinit.
public final class PcapDumper {
    private let dead: OpaquePointer
    private let dumper: OpaquePointer

    init(dead: OpaquePointer, dumper: OpaquePointer) {
        self.dead = dead
        self.dumper = dumper
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }

    public func write(_ packet: borrowing CapturedPacket) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(packet.timestamp.seconds)
        header.ts.tv_usec = Int(packet.timestamp.fraction(in: .nanoseconds))
        header.caplen = UInt32(packet.data.count)
        header.len = UInt32(packet.wireLength)
        let user = UnsafeMutablePointer<UInt8>(dumper)
        let bytes = packet.data.baseAddress?.assumingMemoryBound(to: UInt8.self)
        pcap_dump(user, &header, bytes)
    }

    public func flush() { _ = pcap_dump_flush(dumper) }
}

func cString(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: Int(strlen(pointer)))
    return String(decoding: bytes, as: UTF8.self)
}
