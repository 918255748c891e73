@preconcurrency import Glibc
import CWirelatShim

/// Waits up to `timeoutMilliseconds` for `fd` to become readable; true if it did. The
/// corresponding C function is `poll`.
public func waitReadable(_ fd: CInt, timeoutMilliseconds: Int) throws(SystemError) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let n = try retrying("poll") { poll(&entry, 1, CInt(timeoutMilliseconds)) }
    return n > 0
}

/// How a wait for a probe's socket ended.
public enum ProbeWait: Sendable {
    case ready
    /// SIGINT or SIGTERM arrived (the stop descriptor became readable).
    case stopped
    case timedOut
    case failed(SystemError)
}

/// Waits for `events` on `fd`, or for `stopFD` (when >= 0) to become readable, at most
/// `timeoutNanoseconds`. The corresponding C function is `ppoll`.
func probeWait(fd: CInt, events: Int16, stopFD: CInt, timeoutNanoseconds: UInt64) -> ProbeWait {
    while true {
        let r = wl_probe_wait(fd, events, stopFD, Int64(clamping: timeoutNanoseconds))
        switch r {
        case 1: return .ready
        case 2: return .stopped
        case 0: return .timedOut
        default:
            let code = errno
            if code == EINTR { continue }
            return .failed(SystemError(call: "ppoll", errno: code))
        }
    }
}

/// Sleeps until the monotonic clock reaches `deadline`; returns false early when `stop` fires.
/// The corresponding C function is `ppoll`, or `nanosleep` without a stop descriptor.
public func probeSleep(until deadline: UInt64, stop: StopSignal) -> Bool {
    let stopFD = stop.descriptor
    while true {
        let now = monotonicNanoseconds()
        if now >= deadline { return true }
        if stopFD >= 0 {
            switch probeWait(fd: stopFD, events: WL_POLLIN, stopFD: -1, timeoutNanoseconds: deadline - now) {
            case .ready, .stopped: return false
            case .timedOut: return true
            case .failed: break
            }
        } else {
            var ts = timespec(tv_sec: Int((deadline - now) / 1_000_000_000), tv_nsec: Int((deadline - now) % 1_000_000_000))
            // Interrupted (EINTR), the loop sleeps again for what is left.
            _ = nanosleep(&ts, nil)
        }
    }
}
