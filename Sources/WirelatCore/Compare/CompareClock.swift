/// `compare`'s view of the clocks (INTERFACE.md, "Two clocks"): it prints one table per
/// clock, so that every table compares like with like.
extension ProbeClock {
    /// The heading of this clock's table.
    public var title: String {
        switch self {
        case .wire: return "wire clock: kernel software timestamps, request TX → reply RX at the device (connect: the kernel's handshake RTT, TCP_INFO)"
        case .app: return "app clock: CLOCK_MONOTONIC from just before the send call to the return of the receive call"
        case .ping: return "ping's clock: send time in user space → kernel RX timestamp, as iputils ping (ICMP only)"
        }
    }

    /// The clock a saved report names, in this vocabulary or in the older one
    /// (older probe reports: `kernel`, `user`, `kernel-rx`; older client reports: `kernel`, `user`).
    public init?(reportName: String) {
        switch reportName {
        case "wire", "kernel": self = .wire
        case "app", "user": self = .app
        case "ping", "kernel-rx": self = .ping
        default: return nil
        }
    }

    /// Whether `method` can be timed by this clock: ping's clock is ICMP's alone.
    public func applies(to method: String) -> Bool {
        self != .ping || method == ProbeMethod.icmpEcho.rawValue || method == "icmp"
    }

    /// Why no answered probe of `method` had this clock, when the probes did not say.
    func defaultMissingReason(method: String) -> String {
        switch self {
        case .wire:
            return method == ProbeMethod.tcpConnect.rawValue
                ? "the kernel gave no handshake RTT (TCP_INFO) for any answered probe"
                : "no kernel TX and RX timestamps (SO_TIMESTAMPING) for any answered probe"
        case .app: return "no user-space round trip for any answered probe"
        case .ping: return "no kernel RX timestamp after a user-space send time for any answered probe"
        }
    }
}

extension ProbeReply {
    /// This probe's round trip by every clock that timed it.
    public func roundTrips(method: ProbeMethod) -> [ProbeClock: UInt64] {
        var out: [ProbeClock: UInt64] = [:]
        for clock in ProbeClock.allCases { out[clock] = rtt(clock) }
        return out
    }

    /// Why this probe has no time on `clock`, when it said.
    public func missingReason(_ clock: ProbeClock) -> String? {
        switch clock {
        case .wire: return wireClockMissing
        case .ping: return pingClockMissing
        case .app: return nil
        }
    }
}
