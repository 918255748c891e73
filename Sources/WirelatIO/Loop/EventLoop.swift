@preconcurrency import Glibc
import CWirelatShim
import WirelatCore

/// Readiness reported by epoll(7).
public struct IOEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: WL_EPOLLIN)
    public static let writable = IOEvents(rawValue: WL_EPOLLOUT)
    public static let error = IOEvents(rawValue: WL_EPOLLERR)
    public static let hangup = IOEvents(rawValue: WL_EPOLLHUP)
    public static let peerClosed = IOEvents(rawValue: WL_EPOLLRDHUP)
}

/// A timer's handle, for `cancel`.
public struct TimerID: Hashable, Sendable {
    let value: UInt64
}

/// One thread's epoll loop with nanosecond timers on a timerfd.
///
/// Handlers run on the loop's thread, one at a time. A descriptor is
/// registered with a handler and must be deregistered before it is closed.
///
/// Each registration gets an id, and epoll's data carries it beside the
/// descriptor number (as swift-nio's `SelectorEpoll` does): an event already
/// fetched for a descriptor that a handler earlier in the same batch closed is
/// dropped, even when a new descriptor took its number and was registered.
public final class EventLoop {
    public typealias Handler = (IOEvents) -> Void

    /// A descriptor's handler and the id of the registration that installed it.
    private struct Registration {
        var id: UInt32
        var handler: Handler
    }

    private let epoll: FileDescriptor
    private let timerFD: FileDescriptor
    private var registrations: [Registration?] = []
    private var nextRegistrationID: UInt32 = 1
    private var timers = MinHeap<TimerEntry>()
    private var timerActions: [UInt64: () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private var armedDeadline: UInt64 = .max
    private var stopped = false
    private var stopSignalFD: CInt = -1
    private var onStopSignal: ((CInt) -> Void)?

    // Descriptor numbers never reach 0xFFFFFFFF, so these never equal a registration's token.
    private static let timerToken = UInt64.max
    private static let signalToken = UInt64.max - 1

    /// epoll's data for a registration: the id in the high 32 bits, the descriptor in the low.
    @inline(__always)
    private static func token(fd: CInt, id: UInt32) -> UInt64 {
        UInt64(id) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    /// The corresponding C functions are `epoll_create1` and `timerfd_create`.
    public init() throws(SystemError) {
        let ep = try retrying("epoll_create1") { wl_epoll_create() }
        epoll = FileDescriptor(owning: ep)
        let tfd: CInt
        do {
            tfd = try retrying("timerfd_create") { wl_timerfd_create() }
        }
        timerFD = FileDescriptor(owning: tfd)
        _ = try retrying("epoll_ctl") { wl_epoll_ctl(ep, EPOLL_CTL_ADD, tfd, WL_EPOLLIN, Self.timerToken) }
    }

    /// Watches `fd` for `interest`. The corresponding C function is `epoll_ctl(EPOLL_CTL_ADD)`.
    public func register(_ fd: CInt, interest: IOEvents, handler: @escaping Handler) throws(SystemError) {
        let index = Int(fd)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: index - registrations.count + 64))
        }
        let id = nextRegistrationID
        nextRegistrationID = nextRegistrationID == .max ? 1 : nextRegistrationID + 1
        let token = Self.token(fd: fd, id: id)
        _ = try retrying("epoll_ctl") { wl_epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, fd, interest.rawValue, token) }
        registrations[index] = Registration(id: id, handler: handler)
    }

    /// Changes what `fd` is watched for. The corresponding C function is `epoll_ctl(EPOLL_CTL_MOD)`.
    public func modify(_ fd: CInt, interest: IOEvents) throws(SystemError) {
        guard Int(fd) < registrations.count, let registration = registrations[Int(fd)] else {
            throw SystemError(call: "epoll_ctl", errno: ENOENT)
        }
        let token = Self.token(fd: fd, id: registration.id)
        _ = try retrying("epoll_ctl") { wl_epoll_ctl(epoll.rawValue, EPOLL_CTL_MOD, fd, interest.rawValue, token) }
    }

    /// Stops watching `fd`; call before closing it. Events for it still in the batch
    /// being dispatched are dropped. The corresponding C function is
    /// `epoll_ctl(EPOLL_CTL_DEL)`; its failure (ENOENT or EBADF: the descriptor was never
    /// added, or already closed, which removed it from the set) leaves nothing to undo.
    public func deregister(_ fd: CInt) {
        if Int(fd) < registrations.count { registrations[Int(fd)] = nil }
        _ = wl_epoll_ctl(epoll.rawValue, EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Runs `action` once the monotonic clock reaches `deadline` (nanoseconds).
    /// The corresponding C function is `timerfd_settime`, when the new deadline is the earliest.
    @discardableResult
    public func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        let id = nextTimerID
        nextTimerID += 1
        timerActions[id] = action
        timers.push(TimerEntry(deadline: deadline, id: id))
        if deadline < armedDeadline { arm(deadline) }
        return TimerID(value: id)
    }

    /// Runs `action` after `nanoseconds`.
    @discardableResult
    public func schedule(after nanoseconds: UInt64, _ action: @escaping () -> Void) -> TimerID {
        schedule(at: monotonicNanoseconds() &+ nanoseconds, action)
    }

    public func cancel(_ timer: TimerID) {
        timerActions[timer.value] = nil
    }

    /// Calls `action` with the signal number on SIGINT or SIGTERM. A second signal, a
    /// second or more after the first, kills the process; with `tolerating` n, the first
    /// n signals each call `action` (the same number, the first one's) and the next kills.
    /// The corresponding C functions are `sigaction` and `eventfd`.
    public func onInterrupt(tolerating count: Int = 1, _ action: @escaping (CInt) -> Void) throws(SystemError) {
        let fd = try retrying("eventfd") { wl_stop_signal_fd() }
        wl_stop_signal_tolerate(CInt(clamping: count))
        stopSignalFD = fd
        onStopSignal = action
        _ = try retrying("epoll_ctl") { wl_epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, fd, WL_EPOLLIN, Self.signalToken) }
    }

    /// The earliest timer deadline (monotonic ns), `.max` when none is set.
    public var nextDeadline: UInt64 {
        timers.first?.deadline ?? .max
    }

    /// True once SIGINT or SIGTERM has arrived (see `onInterrupt`).
    public var interruptPending: Bool { stopSignalFD >= 0 && wl_last_signal() != 0 }

    /// Makes `run` return after the current round of events.
    public func stop() { stopped = true }
    public var isStopped: Bool { stopped }

    /// Dispatches events and timers until `stop()`.
    /// The corresponding C function is `epoll_wait`.
    public func run() throws(SystemError) {
        stopped = false
        let capacity = 256
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        defer { events.deallocate(); tokens.deallocate() }
        while !stopped {
            let n = try retrying("epoll_wait") { wl_epoll_wait(epoll.rawValue, events, tokens, CInt(capacity), -1) }
            var timerFired = false
            for i in 0..<Int(n) {
                let token = tokens[i]
                if token == Self.timerToken {
                    timerFired = true
                } else if token == Self.signalToken {
                    var value: UInt64 = 0
                    // Resets the eventfd's counter; the signal itself is read from
                    // wl_last_signal, so a failed read (EAGAIN: already reset) loses nothing.
                    _ = Glibc.read(stopSignalFD, &value, 8)
                    onStopSignal?(wl_last_signal())
                } else {
                    let index = Int(UInt32(truncatingIfNeeded: token))
                    if index < registrations.count, let registration = registrations[index],
                       registration.id == UInt32(truncatingIfNeeded: token >> 32) {
                        registration.handler(IOEvents(rawValue: events[i]))
                    }
                }
            }
            if timerFired || !timers.isEmpty { runDueTimers(drain: timerFired) }
        }
    }

    private func runDueTimers(drain: Bool) {
        if drain {
            var expirations: UInt64 = 0
            // Resets the timerfd; due timers are found from the clock, not the count, so a
            // failed read (EAGAIN after a re-arm) loses nothing.
            _ = Glibc.read(timerFD.rawValue, &expirations, 8)
            armedDeadline = .max
        }
        var now = monotonicNanoseconds()
        while let top = timers.first, top.deadline <= now {
            _ = timers.popFirst()
            if let action = timerActions.removeValue(forKey: top.id) {
                action()
                now = monotonicNanoseconds()
            }
        }
        while let top = timers.first, timerActions[top.id] == nil { _ = timers.popFirst() }
        if let top = timers.first {
            if top.deadline != armedDeadline { arm(top.deadline) }
        } else if armedDeadline != .max {
            // timerfd_settime fails only for a bad descriptor or value, neither possible here.
            _ = wl_timerfd_settime_ns(timerFD.rawValue, 0, 0)
            armedDeadline = .max
        }
    }

    private func arm(_ deadline: UInt64) {
        armedDeadline = deadline
        let now = monotonicNanoseconds()
        let delta = deadline > now ? Int64(deadline - now) : 1
        // timerfd_settime fails only for a bad descriptor or value, neither possible here.
        _ = wl_timerfd_settime_ns(timerFD.rawValue, delta, 0)
    }
}


/// A timer in the loop's heap: by deadline, and among equal deadlines in the order they
/// were scheduled (ids only grow).
struct TimerEntry: Comparable, Sendable {
    var deadline: UInt64
    var id: UInt64

    static func < (a: TimerEntry, b: TimerEntry) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id
    }
}
