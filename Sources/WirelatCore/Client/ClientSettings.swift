/// Everything a client test is asked to do (`wirelat client`'s options).
public struct ClientSettings: Sendable, Equatable {
    public var host: String
    public var port: UInt16 = 5555
    public var mode: TestMode = .sync
    public var length = 0
    public var durationNanoseconds: UInt64 = 10_000_000_000
    public var intervalNanoseconds: UInt64 = 1_000_000_000
    public var connections = 1
    public var socketBuffer: Int?
    /// Pause between a reply and the next request (oratcptest's -delay).
    public var delayNanoseconds: UInt64 = 0
    /// Requests per second across all connections; nil: as fast as replies come.
    public var rate: Double?
    /// Connect timeout, and the longest wait for any one reply; 0: none.
    public var timeoutNanoseconds: UInt64 = 0
    /// `--timestamps`; nil: the default, both clocks in sync mode (``takesWireClock``).
    public var timestamps: TimestampSource?
    public var wantsDiskWrite = false
    /// The wire clock times every this many round trips (1: every one): a timed request
    /// costs one more system call, the read of its TX timestamp from the error queue.
    public var wireEvery: UInt32 = 1
    /// Keep every round trip (both clocks) for `--samples`.
    public var keepSamples = false

    public init(host: String) {
        self.host = host
    }

    /// Bytes of one request on the wire: the 12-byte header plus the payload.
    public var requestBytes: Int { WireProtocol.messageHeaderSize + length }

    /// Sync mode takes the wire clock (SO_TIMESTAMPING) beside the application's unless
    /// `--timestamps monotonic` asks for the application's alone. Async mode streams
    /// requests and the server acknowledges a batch of them, so the one request an
    /// acknowledgement answers has no TX → RX pair of its own: the application's clock only.
    public var takesWireClock: Bool { mode == .sync && (timestamps ?? .kernel) == .kernel }

    public var method: String { mode == .sync ? "tcp-reqresp" : "tcp-async-ack" }

    /// `count` exchanges as the mode calls them: sync mode times round trips; async mode
    /// streams messages (requests), only some of them acknowledged, so it never says
    /// "round trips" of what are one-way messages.
    public func exchanges(_ count: UInt64) -> String {
        switch mode {
        case .sync: return "\(count) round trip\(count == 1 ? "" : "s")"
        case .async: return "\(count) message\(count == 1 ? "" : "s")"
        }
    }

    /// Async mode: an acknowledgement every this many messages (about one per 256 KiB).
    public var asyncAckEvery: UInt32 { UInt32(max(1, (256 * 1024) / max(1, requestBytes))) }

    /// The limits the client enforces before it asks anything of a server.
    public static let maxLength = 64 << 20
    public static let maxConnections = 10_000

    /// A one-line reason the settings cannot run, or nil.
    public func validationError() -> String? {
        if length < 0 || length > Self.maxLength { return "--length must be between 0 and \(Self.maxLength) bytes (got \(length))" }
        if connections < 1 || connections > Self.maxConnections { return "--connections must be between 1 and \(Self.maxConnections) (got \(connections))" }
        if intervalNanoseconds < 1_000_000 { return "--interval must be at least 1ms" }
        if durationNanoseconds == 0 { return "--duration must be more than 0" }
        if let r = rate, !(r > 0 && r <= 10_000_000) {
            let given = r.isFinite && r == r.rounded() && r.magnitude < 1e15 ? String(Int64(r)) : String(r)
            return "--rate must be more than 0 (0.5 is one request every 2 s) and at most 10000000 requests per second (got \(given))"
        }
        if rate != nil && mode == .async { return "--rate applies to sync mode only" }
        if let b = socketBuffer, b < 1 || b > 1 << 30 { return "--sockbuf must be between 1 byte and 1 GiB" }
        return nil
    }
}
