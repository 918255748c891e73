@preconcurrency import Glibc

/// CLOCK_MONOTONIC in nanoseconds. The corresponding C function is `clock_gettime`.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the epoch (the clock of kernel socket timestamps).
/// The corresponding C function is `clock_gettime`.
@inline(__always)
public func realtimeNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

/// Local wall-clock time as oratcptest prints it: `(14:40:19)`.
/// The corresponding C function is `localtime_r`.
public func localTimeOfDay() -> String {
    var now = time(nil)
    var parts = tm()
    localtime_r(&now, &parts)
    func two(_ v: CInt) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "(\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)))"
}

/// Seconds east of UTC for the local zone at `secondsSinceEpoch` (tm_gmtoff).
/// The corresponding C function is `localtime_r`.
public func localUTCOffset(at secondsSinceEpoch: Int64) -> Int {
    var t = time_t(secondsSinceEpoch)
    var parts = tm()
    guard localtime_r(&t, &parts) != nil else { return 0 }
    return parts.tm_gmtoff
}

/// Sleeps the calling thread for `nanoseconds`, however often a signal interrupts it.
/// The corresponding C function is `nanosleep`.
public func sleep(nanoseconds: UInt64) {
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
