import Synchronization
import WirelatCore
import WirelatIO

/// Why the agent could not start: a bad configuration (exit 64) or a port it cannot
/// listen on, a thread it cannot start (exit 1).
public enum AgentError: Error, CustomStringConvertible {
    case configuration(String)
    case failed(String)

    public var description: String {
        switch self {
        case .configuration(let s), .failed(let s): return s
        }
    }
}

/// Reads and validates an agent configuration file; peers files are read relative to
/// the configuration's directory. Errors name the file and the line.
public func loadAgentConfig(_ path: String) throws(AgentError) -> AgentConfig {
    let text: String
    do {
        text = String(decoding: try readWholeFile(path), as: UTF8.self)
    } catch {
        throw .configuration("\(path): \(error.isNoSuchFile ? "no such file" : error.description)")
    }
    let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    do {
        return try AgentConfig.parse(text, baseDirectory: directory) { file throws(SystemError) in
            String(decoding: try readWholeFile(file), as: UTF8.self)
        }
    } catch {
        throw .configuration("\(path): \(error.description)")
    }
}

/// `wirelat agent`: the responder, the probe workers of every target and method, the
/// passive captures and the metrics endpoint, reloaded on SIGHUP or when the file
/// changes. A reload that fails keeps the running configuration and counts the failure.
public final class AgentRuntime {
    public let configPath: String
    public private(set) var config: AgentConfig
    public let metrics: SharedAgentMetrics
    private let log: @Sendable (String) -> Void
    private var workers: [String: AgentProbeWorker] = [:]
    private var captures: [String: AgentCaptureWorker] = [:]
    private var responder: (server: Server, loop: EventLoop)?
    private var http: MetricsHTTPServer?
    private var fileVersionSeen: [Int64]?

    public init(configPath: String, config: AgentConfig, version: String, log: @escaping @Sendable (String) -> Void) {
        self.configPath = configPath
        self.config = config
        self.log = log
        metrics = SharedAgentMetrics(AgentMetrics(version: version, summaryWindowNanoseconds: config.summaryWindowNanoseconds))
        fileVersionSeen = fileVersion(configPath)
    }

    /// Binds the endpoint and the responder, then starts every worker.
    public func start() throws(AgentError) {
        ignoreSIGPIPE()
        raiseDescriptorLimit()
        HangupSignal.install()
        let metrics = self.metrics
        let path = configPath
        let title = "wirelat agent (\(path))"
        let routes = MetricsHTTPServer.agentRoutes(
            metrics: { metrics.with { $0.render(now: monotonicNanoseconds()) } },
            statusPage: { metrics.with { $0.statusPage(now: monotonicNanoseconds(), title: title) } })
        do {
            // Prometheus keeps its scrape connection between scrapes (every 15 s to a minute).
            var limits = MetricsHTTPServer.Limits()
            limits.keepAliveIdleNanoseconds = 5 * 60 * 1_000_000_000
            let server = try MetricsHTTPServer(host: config.listenHost, port: config.listenPort, limits: limits, handler: routes)
            try server.start()
            http = server
        } catch {
            throw .failed(error.description)
        }
        if let port = config.responderPort {
            try startResponder(port: port)
        }
        apply(config)
    }

    /// Runs until SIGINT or SIGTERM, checking for a reload every 100 ms (SIGHUP) and for a
    /// changed file every second.
    public func run() {
        let stop = StopSignal.interrupt()
        var hangups = HangupSignal.count
        var nextFileCheck = monotonicNanoseconds() &+ 1_000_000_000
        while !stop.received {
            _ = probeSleep(until: monotonicNanoseconds() &+ 100_000_000, stop: stop)
            if stop.received { break }
            let seen = HangupSignal.count
            if seen != hangups {
                hangups = seen
                reload(reason: "SIGHUP")
            }
            let now = monotonicNanoseconds()
            if now >= nextFileCheck {
                nextFileCheck = now &+ 1_000_000_000
                let version = fileVersion(configPath)
                if version != nil && version != fileVersionSeen {
                    reload(reason: "the file changed")
                }
            }
        }
        shutdown()
    }

    /// Reads the file again; on success the new configuration replaces the old one
    /// (unchanged targets keep their workers and their history), on failure the old one
    /// stays and the failure is logged and counted.
    public func reload(reason: String) {
        fileVersionSeen = fileVersion(configPath)
        do {
            let fresh = try loadAgentConfig(configPath)
            if fresh.listenHost != config.listenHost || fresh.listenPort != config.listenPort || fresh.responderPort != config.responderPort {
                log("config reload (\(reason)): `listen` and `responder` take effect at the next start; the rest is applied")
            }
            apply(fresh)
            metrics.with { $0.countReload(success: true) }
        } catch {
            metrics.with { $0.countReload(success: false) }
            log("config reload (\(reason)) failed, keeping the running configuration: \(error.description)")
        }
    }

    private func apply(_ fresh: AgentConfig) {
        let targets = fresh.probeTargets(localAddresses: Set(localInterfaceAddresses()))
        var wanted: [String: (AgentTarget, AgentMethod)] = [:]
        for target in targets {
            for method in target.methods { wanted["\(target.name)\u{0}\(method.rawValue)"] = (target, method) }
        }
        for (key, worker) in workers where wanted[key].map({ $0.0 != worker.target }) ?? true {
            worker.stop()
            workers[key] = nil
        }
        var failed = 0
        for (key, (target, method)) in wanted where workers[key] == nil {
            let worker = AgentProbeWorker(target: target, method: method, metrics: metrics, log: log)
            do {
                try worker.start()
                workers[key] = worker
            } catch {
                failed += 1
            }
        }
        if failed > 0 { log("\(failed) probe threads could not be started (pthread_create); their targets are not probed") }
        var wantedCaptures: [String: AgentCaptureSpec] = [:]
        for spec in fresh.captures { wantedCaptures["\(spec.interface)\u{0}\(spec.filter)\u{0}\(spec.methods.joined(separator: ","))"] = spec }
        for (key, worker) in captures where wantedCaptures[key] == nil {
            worker.stop()
            captures[key] = nil
        }
        for (key, spec) in wantedCaptures where captures[key] == nil {
            let worker = AgentCaptureWorker(spec: spec, metrics: metrics, log: log)
            if (try? worker.start()) != nil { captures[key] = worker }
        }
        metrics.with { $0.setTargets(Set(targets.map(\.name))) }
        let methods = targets.reduce(0) { $0 + $1.methods.count }
        log("probing \(targets.count) targets (\(methods) target × method pairs, \(targets.filter(\.isPeer).count) of them peers), \(fresh.captures.count) passive captures")
        let keptListen = (config.listenHost, config.listenPort, config.responderPort)
        config = fresh
        (config.listenHost, config.listenPort, config.responderPort) = keptListen
    }

    private func startResponder(port: UInt16) throws(AgentError) {
        var configuration = ServerConfiguration()
        configuration.bind = "::"
        configuration.port = port
        configuration.maxConnections = 4096
        let loop: EventLoop
        let server: Server
        do {
            loop = try EventLoop()
            server = Server(configuration: configuration, loop: loop) { _ in }
            try server.start()
        } catch {
            throw .failed("cannot start the responder on port \(port): \(error)")
        }
        let box = LoopBox(loop)
        do {
            try ServiceThread.detach(stackBytes: 1 << 20) { try? box.loop.run() }
        } catch {
            throw .failed("cannot start the responder's thread: \(error)")
        }
        responder = (server, loop)
    }

    /// The endpoint's and responder's addresses, for the start-up line.
    public var listening: String {
        var text = "metrics on \(config.listenHost):\(http?.boundPort ?? config.listenPort)"
        if let responder, let address = responder.server.boundAddress { text += ", responder on \(address)" }
        return text
    }

    private func shutdown() {
        for worker in workers.values { worker.stop() }
        for worker in captures.values { worker.stop() }
        http?.stop()
    }
}

/// Hands an event loop to the thread that runs it.
private final class LoopBox: @unchecked Sendable {
    let loop: EventLoop
    init(_ loop: EventLoop) { self.loop = loop }
}
