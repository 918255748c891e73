@preconcurrency import Glibc
import CWirelatShim

/// Kernel software timestamps on a socket, Linux Documentation/networking/timestamping.rst.
public extension TCPSocket {
    /// SO_TIMESTAMPING with software RX and TX stamps, OPT_ID and OPT_TSONLY. The
    /// corresponding C function is `setsockopt`.
    func enableSoftwareTimestamps() throws(SystemError) {
        try setOption(SOL_SOCKET, WL_SO_TIMESTAMPING, CInt(bitPattern: WL_TSFLAGS_SOFTWARE), "setsockopt(SO_TIMESTAMPING)")
    }

    /// Reads like `read`, and returns the RX software timestamp (ns since the
    /// epoch, CLOCK_REALTIME) of the data, 0 if the kernel gave none.
    /// The corresponding C function is `recvmsg`.
    func readTimestamped(into buffer: UnsafeMutableRawBufferPointer, control: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<(count: Int, timestamp: Int64)> {
        var controlLength = control.count
        let result = try retryingNonBlocking("recvmsg") {
            wl_recvmsg(rawValue, buffer.baseAddress, buffer.count, control.baseAddress, &controlLength, 0)
        }
        guard case .processed(let n) = result else { return .wouldBlock }
        var ts = wl_timestamps()
        wl_parse_timestamps(control.baseAddress, controlLength, &ts)
        return .processed((n, ts.software_ns))
    }

    /// Drains the error queue (MSG_ERRQUEUE) and returns the latest TX
    /// software timestamp found there, or nil. The corresponding C function is
    /// `recvmsg(MSG_ERRQUEUE)`; it ends the drain with EAGAIN.
    func drainTransmitTimestamps(control: UnsafeMutableRawBufferPointer) -> Int64? {
        var latest: Int64?
        var scratch: UInt8 = 0
        for _ in 0..<64 {
            var controlLength = control.count
            let n = wl_recvmsg(rawValue, &scratch, 1, control.baseAddress, &controlLength, Int32(MSG_ERRQUEUE))
            if n < 0 { break }
            var ts = wl_timestamps()
            wl_parse_timestamps(control.baseAddress, controlLength, &ts)
            if ts.has_tx_id != 0 && ts.software_ns > 0 { latest = ts.software_ns }
        }
        return latest
    }
}
