@preconcurrency import Glibc
import CWirelatShim
import WirelatCore

/// A datagram socket for active probes: SOCK_RAW (TCP or ICMP, needs CAP_NET_RAW) or
/// an ICMP "ping socket" (SOCK_DGRAM with IPPROTO_ICMP/ICMPV6, allowed by
/// net.ipv4.ping_group_range), non-blocking and close-on-exec, with kernel software
/// timestamps (SO_TIMESTAMPING) on what it sends and receives.
///
/// An IPv4 raw socket delivers the IP header with each datagram; IPv6 raw sockets and
/// ping sockets start at the transport header (raw(7), ipv6(7), icmp(7)).
public final class RawSocket {
    public enum Kind: String, Sendable {
        /// SOCK_RAW.
        case raw
        /// SOCK_DGRAM ICMP, as unprivileged ping uses.
        case ping
    }

    /// The owner; nil once closed.
    private var descriptor: FileDescriptor?
    /// The descriptor's number, lent for calls; -1 once closed.
    public private(set) var rawValue: CInt
    public let family: CInt
    public let kind: Kind
    public let protocolNumber: CInt
    /// Whether SO_TIMESTAMPING was accepted: RX and TX software timestamps come with the data.
    public private(set) var timestamps = false
    /// Why SO_TIMESTAMPING was refused (its errno), when it was.
    public private(set) var timestampsRefused: SystemError?

    /// Opens the socket. The corresponding C function is `socket`.
    public init(family: CInt, kind: Kind, protocolNumber: CInt) throws(SystemError) {
        let fd = try retrying("socket") { wl_probe_socket(family, kind == .raw ? 1 : 0, protocolNumber) }
        descriptor = FileDescriptor(owning: fd)
        rawValue = fd
        self.family = family
        self.kind = kind
        self.protocolNumber = protocolNumber
    }

    /// Closes now rather than when the last reference goes. The corresponding C function is `close`.
    public func close() {
        descriptor = nil
        rawValue = -1
    }

    /// Whether received datagrams start with an IPv4 header.
    public var includesIPv4Header: Bool { kind == .raw && family == AF_INET }

    /// SO_TIMESTAMPING with software RX and TX stamps; false (and no timestamps) when
    /// refused. The corresponding C function is `setsockopt`.
    @discardableResult
    public func enableTimestamps() -> Bool {
        var flags = CInt(bitPattern: WL_TSFLAGS_SOFTWARE)
        let r = setsockopt(rawValue, SOL_SOCKET, WL_SO_TIMESTAMPING, &flags, socklen_t(MemoryLayout<CInt>.size))
        timestamps = r == 0
        timestampsRefused = r == 0 ? nil : SystemError(call: "setsockopt(SO_TIMESTAMPING)", errno: Glibc.errno)
        return timestamps
    }

    /// Asks for each datagram's TTL or hop limit (IP_RECVTTL, IPV6_RECVHOPLIMIT). The
    /// corresponding C function is `setsockopt`.
    public func requestHopLimit() throws(SystemError) {
        _ = try retrying("setsockopt(IP_RECVTTL)") { wl_probe_request_hop_limit(rawValue, family) }
    }

    /// Lets only echo replies through (ICMP_FILTER, ICMP6_FILTER); raw ICMP sockets only.
    /// The corresponding C function is `setsockopt`.
    public func filterEchoReplies() throws(SystemError) {
        _ = try retrying("setsockopt(ICMP_FILTER)") { wl_probe_filter_echo_replies(rawValue, family) }
    }

    /// Attaches a classic BPF program: datagrams it returns 0 for never reach this socket
    /// (socket(7), SO_ATTACH_FILTER). Anything already queued is not filtered. The
    /// corresponding C function is `setsockopt`.
    public func attachFilter(_ program: [BPFInstruction]) throws(SystemError) {
        let instructions = program.map { wl_bpf_instruction(code: $0.code, jt: $0.jumpTrue, jf: $0.jumpFalse, k: $0.k) }
        _ = try retrying("setsockopt(SO_ATTACH_FILTER)") { instructions.withUnsafeBufferPointer { wl_attach_filter(rawValue, $0.baseAddress, UInt16($0.count)) } }
    }

    /// Binds to a local address, so the kernel uses it as the source. The corresponding C function is `bind`.
    public func bind(to address: SocketAddress) throws(SystemError) {
        _ = try retrying("bind") { address.withSockaddr { Glibc.bind(rawValue, $0, $1) } }
    }

    /// Sends one datagram. The corresponding C function is `sendto`.
    public func send(_ bytes: [UInt8], to address: SocketAddress) throws(SystemError) {
        _ = try retrying("sendto") {
            bytes.withUnsafeBytes { b in
                address.withSockaddr { Glibc.sendto(rawValue, b.baseAddress, b.count, 0, $0, $1) }
            }
        }
    }

    /// One received datagram's bytes and what came with them.
    public struct Datagram {
        public var count: Int
        public var source: ProbeAddress?
        /// RX software timestamp, ns since the epoch (CLOCK_REALTIME); 0 when absent.
        public var receiveTimestamp: Int64
        public var hopLimit: Int?
    }

    /// Receives one datagram into `buffer`. The corresponding C function is `recvmsg`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Datagram> {
        var storage = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        var meta = wl_probe_meta()
        let result = try retryingNonBlocking("recvmsg") {
            wl_probe_recvmsg(rawValue, buffer.baseAddress, buffer.count, &storage, &length, 0, &meta)
        }
        guard case .processed(let n) = result else { return .wouldBlock }
        let from = SocketAddress(storage: storage, length: socklen_t(length)).probeAddress
        return .processed(Datagram(count: n, source: from, receiveTimestamp: meta.software_ns,
                                   hopLimit: meta.hop_limit >= 0 ? Int(meta.hop_limit) : nil))
    }

    /// Drains the error queue (MSG_ERRQUEUE) and returns the latest TX software
    /// timestamp found there (ns since the epoch, CLOCK_REALTIME), or nil. The
    /// corresponding C function is `recvmsg(MSG_ERRQUEUE)`; it ends the drain with EAGAIN.
    public func drainErrorQueue() -> Int64? {
        var latest: Int64?
        var scratch = [UInt8](repeating: 0, count: 256)
        for _ in 0..<64 {
            var meta = wl_probe_meta()
            let n = scratch.withUnsafeMutableBytes { b in
                wl_probe_recvmsg(rawValue, b.baseAddress, b.count, nil, nil, Int32(MSG_ERRQUEUE), &meta)
            }
            if n < 0 { break }
            if meta.has_tx_id != 0 && meta.software_ns > 0 { latest = meta.software_ns }
        }
        return latest
    }

    /// The latest probe's TX timestamp: what the error queue holds now or, when the reply
    /// overtook it (on a loaded host the peer can answer before the sending device has
    /// queued the timestamp), what arrives within `graceNanoseconds`. nil when none came.
    /// The corresponding C functions are `recvmsg(MSG_ERRQUEUE)` and `ppoll` (POLLERR).
    public func transmitTimestamp(graceNanoseconds: UInt64) -> Int64? {
        if let stamp = drainErrorQueue() { return stamp }
        let deadline = monotonicNanoseconds() &+ graceNanoseconds
        while true {
            let now = monotonicNanoseconds()
            guard now < deadline else { return nil }
            // No events asked for: ppoll still reports POLLERR, an error-queue entry.
            guard case .ready = probeWait(fd: rawValue, events: 0, stopFD: -1, timeoutNanoseconds: deadline - now) else { return nil }
            if let stamp = drainErrorQueue() { return stamp }
        }
    }

    /// Waits until a datagram (or an error-queue entry) is ready, `stop` fires, or
    /// `timeoutNanoseconds` passes. The corresponding C function is `ppoll`.
    public func waitReadable(timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeWait {
        probeWait(fd: rawValue, events: WL_POLLIN, stopFD: stop.descriptor, timeoutNanoseconds: timeoutNanoseconds)
    }
}

