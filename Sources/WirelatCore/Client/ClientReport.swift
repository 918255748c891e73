/// `client --timestamps`: which clocks a sync test takes (INTERFACE.md, "Two clocks").
public enum TimestampSource: String, Codable, Sendable, CaseIterable {
    /// The application's clock only (CLOCK_MONOTONIC around each exchange, the process's
    /// wake-up included); no SO_TIMESTAMPING, so no error-queue read per round trip.
    case monotonic
    /// Both clocks: the kernel's software timestamps (SO_TIMESTAMPING, the request's TX →
    /// the reply's RX) beside the application's. `rtt_ns` is then the wire clock.
    case kernel
}

/// The two clocks of a round trip (INTERFACE.md, "Two clocks"), as the JSON key `clock` names them.
public enum RoundTripClock: String, Codable, Sendable {
    /// Kernel software timestamps: the request's TX at the device → the reply's RX at the device.
    case wire
    /// CLOCK_MONOTONIC from just before the send call to the return of the receive call.
    case app

    public var label: String {
        switch self {
        case .wire: return "kernel software timestamps, SO_TIMESTAMPING request TX → reply RX (what the network and the server cost)"
        case .app: return "CLOCK_MONOTONIC from before the send call to the return of the receive call (what the application waits for)"
        }
    }
}

/// One statistics interval of a client test.
public struct IntervalReport: Codable, Sendable, Equatable {
    public var startSeconds: Double
    public var endSeconds: Double
    public var samples: UInt64
    public var roundtripsPerSecond: Double
    public var throughputBytesPerSecond: Double
    public var rttNanoseconds: LatencySummary
    /// The interval's round trips on each clock, where measured (`rtt_ns` is one of them).
    public var wireRttNanoseconds: LatencySummary?
    public var appRttNanoseconds: LatencySummary?

    public init(startSeconds: Double, endSeconds: Double, samples: UInt64, roundtripsPerSecond: Double,
                throughputBytesPerSecond: Double, rttNanoseconds: LatencySummary) {
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
        self.samples = samples
        self.roundtripsPerSecond = roundtripsPerSecond
        self.throughputBytesPerSecond = throughputBytesPerSecond
        self.rttNanoseconds = rttNanoseconds
    }

    enum CodingKeys: String, CodingKey {
        case startSeconds = "start_s", endSeconds = "end_s", samples
        case roundtripsPerSecond = "roundtrips_per_s", throughputBytesPerSecond = "throughput_bytes_per_s"
        case rttNanoseconds = "rtt_ns", wireRttNanoseconds = "wire_rtt_ns", appRttNanoseconds = "app_rtt_ns"
    }
}

/// What the server reported about the test (its side of the disk writes).
public struct ServerSideReport: Codable, Sendable, Equatable {
    public var messages: UInt64
    public var payloadBytes: UInt64
    public var thinkTimeNanoseconds: UInt64
    public var diskWrite: Bool
    public var fsyncs: UInt64
    public var fsyncMeanNanoseconds: UInt64
    public var fsyncP99Nanoseconds: UInt64
    public var fsyncMaxNanoseconds: UInt64
    /// Connections whose summary arrived; the counts above cover only those. Nil in
    /// reports written before it was counted.
    public var summaries: Int?

    public init(messages: UInt64 = 0, payloadBytes: UInt64 = 0, thinkTimeNanoseconds: UInt64 = 0, diskWrite: Bool = false,
                fsyncs: UInt64 = 0, fsyncMeanNanoseconds: UInt64 = 0, fsyncP99Nanoseconds: UInt64 = 0, fsyncMaxNanoseconds: UInt64 = 0) {
        self.messages = messages
        self.payloadBytes = payloadBytes
        self.thinkTimeNanoseconds = thinkTimeNanoseconds
        self.diskWrite = diskWrite
        self.fsyncs = fsyncs
        self.fsyncMeanNanoseconds = fsyncMeanNanoseconds
        self.fsyncP99Nanoseconds = fsyncP99Nanoseconds
        self.fsyncMaxNanoseconds = fsyncMaxNanoseconds
    }

    enum CodingKeys: String, CodingKey {
        case messages, payloadBytes = "payload_bytes", thinkTimeNanoseconds = "think_time_ns", diskWrite = "disk_write"
        case fsyncs, fsyncMeanNanoseconds = "fsync_mean_ns", fsyncP99Nanoseconds = "fsync_p99_ns", fsyncMaxNanoseconds = "fsync_max_ns"
        case summaries
    }
}

/// The JSON report of `wirelat client` (../shared/INTERFACE.md, "JSON reports").
public struct ClientReport: Codable, Sendable, Equatable {
    public var command = "client"
    /// `tcp-reqresp` in sync mode; `tcp-async-ack` in async mode (request → periodic acknowledgement).
    public var method: String
    public var target: String
    public var mode: TestMode
    public var length: Int
    public var connections: Int
    public var samples: UInt64
    public var rttNanoseconds: LatencySummary
    public var roundtripsPerSecond: Double
    public var throughputBytesPerSecond: Double
    public var intervals: [IntervalReport]
    public var requestBytes: Int
    public var replyBytes: Int
    /// Which clock `rtt_ns` is: wire when it was measured, else app (and app with
    /// `--rate`, whose latency counts from each request's intended send time).
    public var clock: RoundTripClock
    /// Every round trip on the wire clock (kernel TX → RX), where it was measured.
    public var wireRttNanoseconds: LatencySummary?
    /// Every round trip on the application's clock (send call → receive returned).
    public var appRttNanoseconds: LatencySummary?
    /// Why the wire clock is absent (async mode, `--timestamps monotonic`, a kernel that refused).
    public var wireClockMissing: String?
    /// `--wire-every`: the wire clock timed every this many round trips; nil when it was not taken.
    public var wireEvery: UInt32?
    public var durationSeconds: Double
    public var completed: Bool
    public var error: String?
    /// Ended early by Ctrl-C (SIGINT) or SIGTERM; what was measured is kept.
    public var interrupted = false
    /// Replies still due when a second Ctrl-C ended the wait for them (not counted in `samples`).
    public var repliesAbandoned: Int?
    public var socketSendBuffer: Int?
    public var socketReceiveBuffer: Int?
    /// With --rate: latency measured from each request's intended send time
    /// (coordinated-omission corrected) in `rtt_ns`; the plain service time here.
    public var rateTarget: Double?
    public var serviceTimeNanoseconds: LatencySummary?
    /// Round trips on a timestamped connection that lacked a kernel TX or RX timestamp:
    /// they are in `app_rtt_ns` and left out of `wire_rtt_ns`.
    public var kernelTimestampFallbacks: UInt64?
    public var server: ServerSideReport?
    /// With --sweep: one report per payload size.
    public var sweep: [ClientReport]?

    public init(method: String, target: String, mode: TestMode, length: Int, connections: Int, samples: UInt64,
                rttNanoseconds: LatencySummary, roundtripsPerSecond: Double, throughputBytesPerSecond: Double,
                intervals: [IntervalReport], requestBytes: Int, replyBytes: Int, clock: RoundTripClock,
                durationSeconds: Double, completed: Bool) {
        self.method = method
        self.target = target
        self.mode = mode
        self.length = length
        self.connections = connections
        self.samples = samples
        self.rttNanoseconds = rttNanoseconds
        self.roundtripsPerSecond = roundtripsPerSecond
        self.throughputBytesPerSecond = throughputBytesPerSecond
        self.intervals = intervals
        self.requestBytes = requestBytes
        self.replyBytes = replyBytes
        self.clock = clock
        self.durationSeconds = durationSeconds
        self.completed = completed
    }

    enum CodingKeys: String, CodingKey {
        case command, method, target, mode, length, connections, samples
        case rttNanoseconds = "rtt_ns", roundtripsPerSecond = "roundtrips_per_s"
        case throughputBytesPerSecond = "throughput_bytes_per_s", intervals
        case requestBytes = "request_bytes", replyBytes = "reply_bytes", clock
        case wireRttNanoseconds = "wire_rtt_ns", appRttNanoseconds = "app_rtt_ns", wireClockMissing = "wire_clock_missing", wireEvery = "wire_every"
        case durationSeconds = "duration_s", completed, error, interrupted
        case repliesAbandoned = "replies_abandoned"
        case socketSendBuffer = "socket_send_buffer", socketReceiveBuffer = "socket_receive_buffer"
        case rateTarget = "rate_per_s", serviceTimeNanoseconds = "service_time_ns"
        case kernelTimestampFallbacks = "kernel_timestamp_fallbacks"
        case server, sweep
    }
}
