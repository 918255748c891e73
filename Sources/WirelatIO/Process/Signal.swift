@preconcurrency import Glibc
import CWirelatShim

/// SIGINT and SIGTERM as a readable descriptor, for probes that wait with `ppoll`.
public enum ProbeStopSignal {
    /// Installs the handlers (once) and returns the descriptor, or -1 if that failed.
    public static func descriptor() -> CInt { wl_stop_signal_fd() }
    /// Whether a stop signal has arrived.
    public static var received: Bool { wl_last_signal() != 0 }
}

/// Writing to a socket the peer closed must fail with EPIPE, not kill the process.
public func ignoreSIGPIPE() {
    _ = signal(SIGPIPE, SIG_IGN)
}
