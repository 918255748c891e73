@preconcurrency import Glibc
import CWirelatShim

/// SOF_TIMESTAMPING_TX_SOFTWARE, <linux/net_tstamp.h> (not in Glibc's module).
private let transmitSoftwareFlag: UInt32 = 1 << 1

public extension TCPSocket {
    /// SO_TIMESTAMPING with software RX stamps, OPT_ID and OPT_TSONLY, but no TX stamp on
    /// every write: a write asks for its own with ``writeRequestingTransmitTimestamp(_:)``,
    /// so the error queue is read only for the writes that are timed. The corresponding C
    /// function is `setsockopt`.
    func enableReceiveTimestamps() throws(SystemError) {
        try setOption(SOL_SOCKET, WL_SO_TIMESTAMPING, CInt(bitPattern: WL_TSFLAGS_SOFTWARE & ~transmitSoftwareFlag), "setsockopt(SO_TIMESTAMPING)")
    }

    /// Sends like ``write(_:)`` and asks, for this write alone, for a TX software timestamp
    /// in the error queue (an SO_TIMESTAMPING control message, Documentation/networking/
    /// timestamping.rst, "1.3.3 Timestamp Options"). The corresponding C function is
    /// `sendmsg` with MSG_NOSIGNAL.
    func writeRequestingTransmitTimestamp(_ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        // cmsghdr (len, level, type) and one UInt32 of flags, padded as CMSG_SPACE pads it.
        let headerSize = MemoryLayout<cmsghdr>.size
        var control = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return try withUnsafeMutableBytes(of: &control) { raw throws(SystemError) -> IOResult<Int> in
            let header = raw.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
            header.pointee.cmsg_len = headerSize + MemoryLayout<UInt32>.size
            header.pointee.cmsg_level = SOL_SOCKET
            header.pointee.cmsg_type = WL_SO_TIMESTAMPING
            raw.storeBytes(of: transmitSoftwareFlag, toByteOffset: headerSize, as: UInt32.self)
            var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress), iov_len: buffer.count)
            return try withUnsafeMutablePointer(to: &iov) { iovPointer throws(SystemError) -> IOResult<Int> in
                var message = msghdr()
                message.msg_iov = iovPointer
                message.msg_iovlen = 1
                message.msg_control = raw.baseAddress
                message.msg_controllen = (headerSize + MemoryLayout<UInt32>.size + 7) & ~7
                return try retryingNonBlocking("sendmsg") { Glibc.sendmsg(rawValue, &message, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    /// Reads the error queue (MSG_ERRQUEUE) one message at a time until it finds the
    /// TX software timestamp whose SOF_TIMESTAMPING_OPT_ID key is `key` (the byte
    /// offset, counted from when timestamping was enabled, of the last byte of the
    /// write being timed), and returns it (ns since the epoch, CLOCK_REALTIME). Stamps
    /// with other keys (earlier writes) are read and dropped. Nil when the queue ran
    /// empty first. Stopping at the match, not at EAGAIN, saves the system call that
    /// would only confirm the queue is empty: in a sync ping-pong it is one call per
    /// round trip. The corresponding C function is `recvmsg(MSG_ERRQUEUE)`.
    func transmitTimestamp(key: UInt32, control: UnsafeMutableRawBufferPointer) -> Int64? {
        var scratch: UInt8 = 0
        for _ in 0..<64 {
            var controlLength = control.count
            let n = wl_recvmsg(rawValue, &scratch, 1, control.baseAddress, &controlLength, Int32(MSG_ERRQUEUE))
            if n < 0 { return nil }
            var ts = wl_timestamps()
            wl_parse_timestamps(control.baseAddress, controlLength, &ts)
            if ts.has_tx_id != 0 && ts.tx_id == key && ts.software_ns > 0 { return ts.software_ns }
        }
        return nil
    }
}
