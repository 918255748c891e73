import WirelatCore
import WirelatIO

/// Why a probe could not start.
public enum ProbeSetupError: Error, CustomStringConvertible {
    /// A privilege is missing; the text names it (exit 3).
    case privilege(String)
    /// The peer answered the connect with a RST: nothing listens there (exit 1).
    case refused(String)
    /// No answer within the timeout (exit 1).
    case timedOut(String)
    /// Anything else: the host does not resolve, a socket call failed (exit 1).
    case failed(String)

    public var description: String {
        switch self {
        case .privilege(let s), .refused(let s), .timedOut(let s), .failed(let s): return s
        }
    }
}

/// The outcome of one probe: its reply, or an interruption (SIGINT, SIGTERM).
public enum ProbeStep {
    case reply(ProbeReply)
    case interrupted
}

/// One kind of probe, sent one at a time: each call sends one probe and waits for its
/// answer at most `timeoutNanoseconds`.
public protocol Prober: AnyObject {
    var method: ProbeMethod { get }
    /// `raw`, `ping` or `stream`.
    var socketKind: String { get }
    /// `index` counts from 0; each method numbers its probes as its model does.
    func probe(index: Int, timeoutNanoseconds: UInt64, stop: StopSignal) -> ProbeStep
    /// Ends cleanly (closes sockets, ends a test).
    func finish()
}

/// How many probes, how often, how long to wait.
public struct ProbeSchedule: Sendable {
    public var count: Int
    /// From one probe's send to the next's, as ping's -i: a slow answer delays the next probe
    /// no further than the answer itself.
    public var intervalNanoseconds: UInt64
    public var timeoutNanoseconds: UInt64

    public init(count: Int, intervalNanoseconds: UInt64, timeoutNanoseconds: UInt64) {
        self.count = count
        self.intervalNanoseconds = intervalNanoseconds
        self.timeoutNanoseconds = timeoutNanoseconds
    }
}

/// The target of a probe: the address resolved once, and how to print it.
public struct ProbeTarget {
    public let address: SocketAddress
    public let port: UInt16?

    /// Resolves `host` (numeric, or a name: IPv4 preferred, as SocketAddress.resolve does).
    public init(host: String, port: UInt16?) throws(ProbeSetupError) {
        do {
            address = try SocketAddress.resolve(host: host, port: port ?? 0)
        } catch {
            throw .failed(error.description)
        }
        self.port = port
    }

    /// `10.77.0.2`, `fd00:77::2`.
    public var host: String { address.host }
    /// `10.77.0.2:1521`, `[fd00:77::2]:1521`, or the bare address without a port.
    public var text: String { port == nil ? address.host : address.description }

    public var probeAddress: ProbeAddress {
        get throws(ProbeSetupError) {
            guard let a = address.probeAddress else { throw .failed("\(host) is neither IPv4 nor IPv6") }
            return a
        }
    }
}

/// Runs a prober `count` times on a fixed schedule and collects the replies.
public enum ProbeSession {
    public struct Outcome {
        public var replies: [ProbeReply]
        public var interrupted: Bool
        public var durationNanoseconds: UInt64
    }

    /// Sends probe i at start + i × interval (or at once, if the previous answer came later),
    /// calling `onReply` after each; ends early, after a reply, once `isOver` says so.
    public static func run(_ prober: Prober, schedule: ProbeSchedule, stop: StopSignal,
                           onReply: (ProbeReply) -> Void, isOver: () -> Bool = { false }) -> Outcome {
        let start = monotonicNanoseconds()
        var replies: [ProbeReply] = []
        var interrupted = false
        for i in 0..<schedule.count {
            if i > 0 {
                let due = start &+ UInt64(i) &* schedule.intervalNanoseconds
                if !probeSleep(until: due, stop: stop) {
                    interrupted = true
                    break
                }
            }
            switch prober.probe(index: i, timeoutNanoseconds: schedule.timeoutNanoseconds, stop: stop) {
            case .reply(let r):
                replies.append(r)
                onReply(r)
            case .interrupted:
                interrupted = true
            }
            if interrupted || isOver() { break }
        }
        prober.finish()
        return Outcome(replies: replies, interrupted: interrupted, durationNanoseconds: monotonicNanoseconds() &- start)
    }
}

/// The text of an errno.
func errnoText(_ code: CInt) -> String { Errno.description(code) }

/// One probe on a datagram socket (raw or ping): drops what is queued, sends `bytes`,
/// and reads until `match` accepts a datagram, the timeout passes, or `stop` fires.
/// The answered reply gets every clock there is: wire (kernel TX → kernel RX), with
/// `pingClock` ping's (send time in user space → kernel RX), and app (CLOCK_MONOTONIC
/// before the send call → return of the receive call); its send-to-reply time; and what
/// `fill` takes from the answer. The TX timestamp is read from the error queue after the reply, so the app
/// clock holds no more system calls than an application's own send and receive.
/// A timeout returns `reply` as it was given.
func exchange<T>(_ socket: RawSocket, send bytes: [UInt8], to address: SocketAddress, reply: ProbeReply,
                 pingClock: Bool = false, timeoutNanoseconds: UInt64, stop: StopSignal, buffer: UnsafeMutableRawBufferPointer,
                 match: (RawSocket.Datagram, UnsafeRawBufferPointer) -> T?, fill: (inout ProbeReply, T) -> Void) -> ProbeStep {
    var reply = reply
    discardPending(socket, buffer: buffer)
    let sentRealtime = realtimeNanoseconds()
    let sentMonotonic = monotonicNanoseconds()
    do {
        try socket.send(bytes, to: address)
    } catch {
        reply.outcome = .unreachable
        reply.detail = "sendto: \(errnoText(error.errno))"
        return .reply(reply)
    }
    let deadline = sentMonotonic &+ timeoutNanoseconds
    while true {
        let now = monotonicNanoseconds()
        if now >= deadline { return .reply(reply) }
        switch socket.waitReadable(timeoutNanoseconds: deadline - now, stop: stop) {
        case .timedOut: return .reply(reply)
        case .stopped: return .interrupted
        case .failed(let e):
            reply.outcome = .unreachable
            reply.detail = "\(e.call): \(errnoText(e.errno))"
            return .reply(reply)
        case .ready: break
        }
        while true {
            let result: IOResult<RawSocket.Datagram>
            do {
                result = try socket.receive(into: buffer)
            } catch {
                reply.outcome = .unreachable
                reply.detail = "\(error.call): \(errnoText(error.errno))"
                return .reply(reply)
            }
            let returned = monotonicNanoseconds()
            guard case .processed(let d) = result else { break }
            let packet = UnsafeRawBufferPointer(rebasing: buffer[0..<min(d.count, buffer.count)])
            guard let answer = match(d, packet) else { continue }
            let app = returned &- sentMonotonic
            let rx = d.receiveTimestamp
            let transmit: Int64? = socket.timestamps ? socket.transmitTimestamp(graceNanoseconds: transmitTimestampGraceNanoseconds) : nil
            var wire: UInt64?
            if let tx = transmit, tx > 0, rx > 0, rx >= tx { wire = UInt64(rx - tx) }
            let sendToRX: UInt64? = rx > 0 && rx >= sentRealtime ? UInt64(rx - sentRealtime) : nil
            let ping = pingClock ? sendToRX : nil
            reply.setClocks(wire: wire, app: app, ping: ping)
            if wire == nil {
                reply.wireClockMissing = socket.timestampsRefused.map { "no kernel timestamps: \($0)" }
                    ?? (rx <= 0 ? "no RX timestamp came with the reply" : "no TX timestamp on the error queue (the device gives none)")
            }
            if pingClock, ping == nil {
                reply.pingClockMissing = socket.timestampsRefused.map { "no kernel RX timestamp: \($0)" } ?? "no RX timestamp came with the reply"
            }
            reply.sendToReplyNanoseconds = sendToRX ?? app
            reply.timeNanoseconds = sentRealtime
            fill(&reply, answer)
            return .reply(reply)
        }
    }
}

/// Reads and drops whatever is queued on `socket` (answers to earlier probes, other traffic).
/// How long a probe waits, after its reply, for a TX timestamp the reply overtook. The
/// app clock stopped when the reply was read, so the wait costs it nothing.
let transmitTimestampGraceNanoseconds: UInt64 = 5_000_000

func discardPending(_ socket: RawSocket, buffer: UnsafeMutableRawBufferPointer) {
    for _ in 0..<10_000 {
        guard let r = try? socket.receive(into: buffer), case .processed = r else { break }
    }
    if socket.timestamps { _ = socket.drainErrorQueue() }
}
