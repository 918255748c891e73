/// The clocks a round trip is timed by (INTERFACE.md, "Two clocks"). `compare` prints one
/// table per clock, so that every table compares like with like.
public enum CompareClock: String, Codable, Sendable, CaseIterable {
    /// Kernel software timestamps: the request's TX at the device → the reply's RX at the
    /// device (SO_TIMESTAMPING); for connect, the kernel's handshake RTT (TCP_INFO). What
    /// the network and the peer cost.
    case wire
    /// CLOCK_MONOTONIC from just before the send call to the return of the receive call:
    /// what the application waits for, its own system calls and wake-up included.
    case app
    /// iputils ping's clock, ICMP only: the user-space send time → the kernel's RX timestamp.
    case ping

    /// The heading of this clock's table.
    public var title: String {
        switch self {
        case .wire: return "wire clock: kernel software timestamps, request TX → reply RX at the device (connect: the kernel's handshake RTT, TCP_INFO)"
        case .app: return "app clock: CLOCK_MONOTONIC from just before the send call to the return of the receive call"
        case .ping: return "ping's clock: send time in user space → kernel RX timestamp, as iputils ping (ICMP only)"
        }
    }

    /// The clock a saved report names, in this vocabulary or in the older one
    /// (``ProbeClock``'s `kernel`, `user`, `kernel-rx`; the client's `kernel`, `user`).
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
    public func roundTrips(method: ProbeMethod) -> [CompareClock: UInt64] {
        var out: [CompareClock: UInt64] = [:]
        if let rtt = rttNanoseconds, let clock {
            switch clock {
            case .kernel: out[.wire] = rtt
            case .user: out[.app] = rtt
            case .kernelReceive: out[.ping] = rtt
            }
        }
        if method == .tcpConnect, let kernel = kernelRTTNanoseconds, kernel > 0 { out[.wire] = kernel }
        if method == .tcpRequestResponse, let app = sendToReplyNanoseconds { out[.app] = app }
        return out
    }
}
