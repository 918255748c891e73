@preconcurrency import Glibc
import CWirelatShim

/// SIGINT and SIGTERM as a readable descriptor (an eventfd the shim's handler writes),
/// for probes that wait with `ppoll`. The corresponding C functions are `sigaction` and
/// `eventfd`.
public enum ProbeStopSignal {
    /// Installs the handlers (once) and returns the descriptor, or -1 if that failed.
    public static func descriptor() -> CInt { wl_stop_signal_fd() }
    /// Whether a stop signal has arrived.
    public static var received: Bool { wl_last_signal() != 0 }
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
