import Synchronization
import WirelatCore
import WirelatIO

/// The agent's metrics, shared by every worker thread and the HTTP endpoint: every use
/// holds the lock.
public final class SharedAgentMetrics: @unchecked Sendable {
    private let lock = Mutex(())
    private let metrics: AgentMetrics

    public init(_ metrics: AgentMetrics) {
        self.metrics = metrics
    }

    /// Runs `body` with the metrics locked.
    public func with<T: Sendable>(_ body: (AgentMetrics) -> T) -> T {
        lock.withLock { _ in body(metrics) }
    }
}

/// One method against one target, on a thread of its own: `samples` probes spread evenly
/// over every `interval` (never a burst), each bounded by the target's timeout, so a slow
/// or dead target costs its own schedule and nobody else's. A probe whose slot passed
/// while an earlier one waited out its timeout is not sent late; the timeouts already
/// count as losses.
final class AgentProbeWorker: Sendable {
    let target: AgentTarget
    let method: AgentMethod
    private let metrics: SharedAgentMetrics
    private let log: @Sendable (String) -> Void
    private let stopped = Atomic<Bool>(false)

    init(target: AgentTarget, method: AgentMethod, metrics: SharedAgentMetrics, log: @escaping @Sendable (String) -> Void) {
        self.target = target
        self.method = method
        self.metrics = metrics
        self.log = log
    }

    /// Ends the worker at its next slot, after its current probe if one is out.
    func stop() { stopped.store(true, ordering: .relaxed) }

    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func start() throws(SystemError) {
        try ServiceThread.detach { [self] in self.run() }
    }

    private func run() {
        let spacing = max(1_000_000, target.intervalNanoseconds / UInt64(max(1, target.samples)))
        // A random phase spreads the workers of one agent, and the agents of a fleet, over the round.
        var due = monotonicNanoseconds() &+ UInt64.random(in: 0..<spacing)
        var prober: Prober?
        var setupFailure: String?
        var index = 0
        let stop = StopSignal.interrupt()
        while !isStopped && !stop.received {
            let now = monotonicNanoseconds()
            if now < due {
                // One wake-up per probe: a stop asked for in between is seen at the next
                // slot (a spacing from now at most), SIGINT and SIGTERM at once.
                _ = probeSleep(until: due, stop: stop)
                continue
            }
            if now &- due >= spacing { due &+= (now &- due) / spacing * spacing }
            due &+= spacing
            if prober == nil {
                do {
                    prober = try makeProber(stop: stop)
                    if setupFailure != nil { log("\(label): probing again") }
                    setupFailure = nil
                } catch {
                    let result = Self.setupResult(error)
                    if setupFailure != error.description {
                        log("\(label): \(error.description)")
                        setupFailure = error.description
                    }
                    count(result)
                    continue
                }
            }
            guard let p = prober else { continue }
            switch p.probe(index: index, timeoutNanoseconds: target.timeoutNanoseconds, stop: stop) {
            case .interrupted:
                p.finish()
                return
            case .reply(let reply):
                index += 1
                record(reply)
                if let r = p as? RequestResponseProber, r.broken {
                    r.finish()
                    prober = nil
                }
            }
        }
        prober?.finish()
    }

    private var label: String { "\(target.name) \(method.rawValue)" }

    private func makeProber(stop: StopSignal) throws(ProbeSetupError) -> Prober {
        let probeTarget = try ProbeTarget(host: target.host, port: target.port)
        switch method {
        case .reqresp:
            return try RequestResponseProber(target: probeTarget, port: target.port ?? 0, timeoutNanoseconds: target.timeoutNanoseconds, stop: stop)
        case .syn:
            return try SYNProber(target: probeTarget, port: target.port ?? 0)
        case .connect:
            return ConnectProber(target: probeTarget, port: target.port ?? 0)
        case .icmp:
            return try ICMPProber(target: probeTarget, payloadBytes: target.length)
        case .redis, .http, .pg, .mysql, .tns:
            let kind = AppProtocolKind(rawValue: method.rawValue)!
            return kind.prober(address: probeTarget.address.withPort(target.port ?? kind.defaultPort))
        }
    }

    /// How a failed setup counts: a refused connection as refused, no answer as a timeout.
    static func setupResult(_ error: ProbeSetupError) -> ProbeResultLabel {
        switch error {
        case .refused: .refused
        case .timedOut: .timeout
        case .privilege, .failed: .error
        }
    }

    /// The `result` label of one probe's reply.
    static func result(of reply: ProbeReply) -> ProbeResultLabel {
        switch reply.outcome {
        // An error answer (Redis -NOAUTH, an HTTP 5xx) is still the listener's round trip.
        case .synAck, .connected, .reply, .errorReply: return .ok
        case .closed: return .reset
        case .wrongProtocol: return .error
        case .refused: return .refused
        case .reset: return .refused
        case .timeout: return .timeout
        case .unreachable:
            if let detail = reply.detail, detail.contains("closed the connection") || detail.contains("lost") || detail.contains("reset") {
                return .reset
            }
            return .error
        }
    }

    private func count(_ result: ProbeResultLabel) {
        metrics.with { $0.countProbe(target: target.name, method: method.rawValue, result: result) }
    }

    private func record(_ reply: ProbeReply) {
        let result = Self.result(of: reply)
        let now = monotonicNanoseconds()
        metrics.with { m in
            m.countProbe(target: target.name, method: method.rawValue, result: result)
            guard result == .ok else { return }
            if let wire = reply.wireRTTNanoseconds {
                m.recordRTT(target: target.name, method: method.rawValue, clock: "wire", nanoseconds: wire, now: now)
            }
            if let app = reply.appRTTNanoseconds {
                m.recordRTT(target: target.name, method: method.rawValue, clock: "app", nanoseconds: app, now: now)
            }
        }
    }
}
