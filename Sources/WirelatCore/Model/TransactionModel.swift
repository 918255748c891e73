// The arithmetic of the oratcptest note's worked example, and the reports that feed it.
//
// A transaction that makes `roundtrips` round trips of `RTT` each, and completes `TPS`
// times a second one after another, spends per transaction
//
//     processing = (1 s − RTT × roundtrips × TPS) / TPS
//
// outside network transit (application, database, client and kernel time), and at
// another RTT it would complete
//
//     TPS' = 1 s / (processing + RTT' × roundtrips)
//
// transactions a second. Every time here is in nanoseconds, as a Double.

/// Why `wirelat model` cannot go on: one line, naming the input and what to do.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

// MARK: - The arithmetic

/// The transaction model of the oratcptest note: a serial stream of transactions,
/// each `processing + roundtrips × RTT` long.
public enum TransactionModel {
    public static let nanosecondsPerSecond = 1e9

    /// Time per transaction outside the network: (1 s − RTT × roundtrips × TPS) / TPS.
    ///
    /// Refuses a negative or non-finite RTT, a TPS or round-trip count that is not
    /// positive, and inputs whose network time alone fills the second
    /// (RTT × roundtrips × TPS ≥ 1 s).
    public static func processingNanoseconds(rttNanoseconds rtt: Double, tps: Double,
                                             roundtrips: Double = 1) throws(ModelError) -> Double {
        guard rtt.isFinite, rtt >= 0 else { throw ModelError("the RTT must be zero or more, not \(formatMilliseconds(rtt)) ms") }
        guard tps.isFinite, tps > 0 else { throw ModelError("the TPS must be more than 0, not \(formatNumber(tps))") }
        guard roundtrips.isFinite, roundtrips > 0 else {
            throw ModelError("--roundtrips must be more than 0, not \(formatNumber(roundtrips))")
        }
        let networkPerSecond = rtt * roundtrips * tps
        guard networkPerSecond < nanosecondsPerSecond else {
            throw ModelError(
                "impossible: \(formatMilliseconds(rtt)) ms × \(formatNumber(roundtrips)) round trip\(roundtrips == 1 ? "" : "s") × \(formatNumber(tps)) TPS is \(formatFixed(networkPerSecond / 1e9, 3)) s of network time per second; RTT × roundtrips × TPS must stay under 1 s (check the units: --rtt 685us is 0.685 ms)")
        }
        return (nanosecondsPerSecond - networkPerSecond) / tps
    }

    /// Transactions per second at another RTT: 1 s / (processing + RTT × roundtrips).
    public static func tps(processingNanoseconds processing: Double, rttNanoseconds rtt: Double,
                           roundtrips: Double = 1) -> Double {
        nanosecondsPerSecond / (processing + rtt * roundtrips)
    }

    /// The fraction of each transaction spent in network transit: RTT × roundtrips × TPS / 1 s.
    public static func networkShare(rttNanoseconds rtt: Double, tps: Double, roundtrips: Double = 1) -> Double {
        rtt * roundtrips * tps / nanosecondsPerSecond
    }
}

