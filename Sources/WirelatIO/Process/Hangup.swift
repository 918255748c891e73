@preconcurrency import Glibc

nonisolated(unsafe) private var hangupsReceived: sig_atomic_t = 0

/// SIGHUP, counted rather than fatal: a daemon re-reads its configuration when the count
/// changes. The corresponding C function is `sigaction`.
public enum HangupSignal {
    /// Installs the counting handler (SA_RESTART, so no system call fails for it).
    public static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in hangupsReceived &+= 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGHUP, &action, nil)
    }

    /// How many SIGHUPs have arrived since `install`.
    public static var count: Int { Int(hangupsReceived) }
}
