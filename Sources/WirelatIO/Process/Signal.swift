@preconcurrency import Glibc
import CWirelatShim

/// What ends a probe's wait early: SIGINT or SIGTERM, through a descriptor (an eventfd
/// the shim's handler writes) that `ppoll` watches beside the probe's socket, or nothing.
public struct StopSignal: Sendable {
    /// The eventfd, shared by the whole process and never closed; -1 for `never`.
    let descriptor: CInt

    /// SIGINT and SIGTERM. Installs the handlers (once); should the eventfd not be made,
    /// waits are not cut short and a second signal still kills the process. The
    /// corresponding C functions are `sigaction` and `eventfd`.
    public static func interrupt() -> StopSignal { StopSignal(descriptor: wl_stop_signal_fd()) }

    /// Nothing ends a wait early.
    public static let never = StopSignal(descriptor: -1)

    /// Whether SIGINT or SIGTERM has arrived.
    public var received: Bool { descriptor >= 0 && wl_last_signal() != 0 }
}

/// Writing to a socket the peer closed must fail with EPIPE, not kill the process.
/// The corresponding C function is `signal`; it fails only for an invalid signal number.
public func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
}

/// The signals wirelat sends to processes it started.
public enum ProcessSignal: Sendable {
    /// SIGTERM: asks the process to end, running its handlers.
    case terminate
    /// SIGKILL: ends it at once.
    case kill

    var number: CInt {
        switch self {
        case .terminate: SIGTERM
        case .kill: SIGKILL
        }
    }
}

/// Sends `signal` to `pid`; false when there is no such process (ESRCH) or we may not
/// signal it (EPERM). The corresponding C function is `kill`.
@discardableResult
public func sendSignal(_ signal: ProcessSignal, to pid: ProcessID) -> Bool {
    kill(pid, signal.number) == 0
}
