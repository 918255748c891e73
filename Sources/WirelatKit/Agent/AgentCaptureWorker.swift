import Synchronization
import WirelatCore
import WirelatIO

/// A live passive capture for the agent: the `capture --rtt` engine on one interface,
/// each sample of a configured method exported as it closes, libpcap's counters every
/// second. Runs on a thread of its own until stopped or until the interface goes away
/// (then it is tried again every few seconds, and the failure logged once).
final class AgentCaptureWorker: Sendable {
    let spec: AgentCaptureSpec
    private let metrics: SharedAgentMetrics
    private let log: @Sendable (String) -> Void
    private let stopped = Atomic<Bool>(false)

    init(spec: AgentCaptureSpec, metrics: SharedAgentMetrics, log: @escaping @Sendable (String) -> Void) {
        self.spec = spec
        self.metrics = metrics
        self.log = log
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    func start() throws(SystemError) {
        try ServiceThread.detach { [self] in self.run() }
    }

    static let retryNanoseconds: UInt64 = 5_000_000_000

    private func run() {
        let stop = StopSignal.interrupt()
        var lastFailure: String?
        while !isStopped && !stop.received {
            if let failure = captureOnce(), !isStopped {
                if failure != lastFailure { log("capture on \(spec.interface): \(failure); trying again every \(Self.retryNanoseconds / 1_000_000_000) s") }
                lastFailure = failure
                let until = monotonicNanoseconds() &+ Self.retryNanoseconds
                while !isStopped && monotonicNanoseconds() < until {
                    if !probeSleep(until: min(until, monotonicNanoseconds() &+ 100_000_000), stop: stop) { return }
                }
            } else {
                lastFailure = nil
            }
        }
    }

    /// One capture until stopped or failed; the failure's text, nil after a clean stop.
    private func captureOnce() -> String? {
        let methods = Set(spec.methods.compactMap(RTTMethod.init(rawValue:)))
        let interface = spec.interface
        let metrics = self.metrics
        var engine = RTTEngine(configuration: RTTConfiguration())
        engine.onSample = { sample in
            guard methods.contains(sample.method) else { return }
            metrics.with { $0.recordPassiveRTT(interface: interface, method: sample.method.rawValue, nanoseconds: sample.rttNanoseconds) }
        }
        var configuration = CaptureConfiguration(source: .interface(interface))
        configuration.filter = spec.filter.isEmpty ? nil : spec.filter
        configuration.snapshotLength = 256
        configuration.bufferBytes = 4 << 20
        let box = SessionBox()
        configuration.onPacket = { packet in engine.process(packet) }
        configuration.tickNanoseconds = 1_000_000_000
        configuration.shouldStop = { [self] in self.isStopped }
        configuration.onTick = {
            if let s = box.session?.statistics() {
                metrics.with { $0.setCaptureCounters(interface: interface, received: UInt64(s.received), dropped: UInt64(s.dropped)) }
            }
        }
        let session: CaptureSession
        do {
            session = try CaptureSession(configuration)
        } catch {
            return error.description
        }
        box.session = session
        let outcome = session.run()
        if let received = outcome.kernelReceived, let dropped = outcome.kernelDropped {
            metrics.with { $0.setCaptureCounters(interface: interface, received: UInt64(received), dropped: UInt64(dropped)) }
        }
        box.session = nil
        if isStopped || outcome.interrupted { return nil }
        return outcome.error?.description ?? "the capture ended"
    }
}

/// Lets the capture's tick reach the session it belongs to.
private final class SessionBox {
    var session: CaptureSession?
}
