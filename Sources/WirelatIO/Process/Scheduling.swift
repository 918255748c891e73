@preconcurrency import Glibc
import CWirelatShim

/// Sets the calling thread's timer slack, the time the kernel may add to a timer's expiry
/// to merge wake-ups (50 µs by default). The corresponding C function is
/// `prctl(PR_SET_TIMERSLACK)`; see prctl(2) and timerfd_create(2).
public func setTimerSlack(nanoseconds: UInt) throws(SystemError) {
    _ = try retrying("prctl(PR_SET_TIMERSLACK)") { wl_set_timerslack_ns(nanoseconds) }
}

/// Puts the calling process under SCHED_FIFO at `priority` (1…99), so it runs as soon as
/// it wakes, ahead of every ordinary task; the kernel's RT throttling
/// (sched_rt_runtime_us, 95 % by default) still leaves the rest of the machine some time.
/// The corresponding C function is `sched_setscheduler`; see sched(7).
public func setRealtimePriority(_ priority: CInt) throws(SystemError) {
    var parameters = sched_param()
    parameters.sched_priority = priority
    _ = try retrying("sched_setscheduler(SCHED_FIFO)") { sched_setscheduler(0, SCHED_FIFO, &parameters) }
}
