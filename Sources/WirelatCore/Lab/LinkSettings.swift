/// The link `wirelat lab` emulates, the same in both directions.
///
/// The names follow netem(8) where netem has the same knob: `delay`, `jitter`, `loss`,
/// `rate`, `limit`. Unlike netem, the queue limit counts only the packets waiting for the
/// transmitter (a router's buffer), not the ones already on their way.
public struct LinkSettings: Sendable, Equatable, Codable {
    /// One-way propagation delay added to every packet.
    public var delayNanoseconds: UInt64 = 0
    /// Spread of the delay: see ``JitterDistribution``.
    public var jitterNanoseconds: UInt64 = 0
    public var distribution: JitterDistribution = .uniform
    /// Share of packets lost, independently per packet, 0…100.
    public var lossPercent: Double = 0
    /// Line rate in bits per second; 0 means no serialization time at all.
    public var rateBitsPerSecond: UInt64 = 0
    /// Packets that may wait for the transmitter (the one being sent included) before
    /// new ones are dropped. Matters only with a rate.
    public var queueLimitPackets: Int = 1000
    /// Packets one direction may hold in all (waiting and in flight), a bound on memory.
    public var heldLimitPackets: Int = 65536
    /// Let jitter reorder packets. Off: a packet never leaves before the one ahead of it.
    public var reorder = false

    public init() {}

    /// One line for humans: `delay 1ms, jitter 0, loss 0%, rate unlimited, queue 1000`.
    public var summary: String {
        "delay \(formatDuration(.nanoseconds(Int64(clamping: delayNanoseconds)))), " + summaryWithoutDelay
    }

    /// ``summary`` without the delay, for a lab whose spokes each have their own:
    /// `jitter 0, loss 0%, rate unlimited, queue 1000 packets`.
    public var summaryWithoutDelay: String {
        var parts: [String] = []
        if jitterNanoseconds > 0 {
            parts.append("jitter \(formatDuration(.nanoseconds(Int64(clamping: jitterNanoseconds)))) \(distribution.rawValue)"
                + (reorder ? " (reordering)" : " (no reordering)"))
        } else {
            parts.append("jitter 0")
        }
        parts.append("loss \(formatPercent(lossPercent))")
        parts.append("rate " + (rateBitsPerSecond == 0 ? "unlimited" : formatBitRate(rateBitsPerSecond)))
        parts.append("queue \(queueLimitPackets) packets")
        return parts.joined(separator: ", ")
    }
}

/// How a packet's jitter is drawn around the delay.
public enum JitterDistribution: String, Sendable, Codable, CaseIterable {
    /// Uniform on [delay − jitter, delay + jitter], as netem draws it without a table.
    case uniform
    /// Normal with mean delay and standard deviation jitter, as netem's `distribution normal`.
    case normal
}
