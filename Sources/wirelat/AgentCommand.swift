import ArgumentParser
import WirelatCore
import WirelatIO
import WirelatKit

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Probe every target and peer continuously and export the round trips to Prometheus.",
        discussion: """
        Serves /metrics (Prometheus text format), /-/healthy and / (a status page) on the
        configuration's `listen` address (default 0.0.0.0:9155), and runs a wirelat
        server on `responder.port` so that peers' agents can time request/response here.
        SIGHUP, or a change to the file, reloads the configuration; a bad file on reload
        keeps the running one (a line on stderr and wirelat_config_reloads_total{result="failure"}).
        The format, the metrics and a deployment: docs/FLEET.md.
        """
    )

    @Option(help: ArgumentHelp("The agent's YAML configuration.", valueName: "FILE"))
    var config: String

    @Flag(help: "Validate the configuration, print what the agent would probe, and exit (0, or 64 naming the line).")
    var check = false

    func run() throws {
        let loaded: AgentConfig
        do {
            loaded = try loadAgentConfig(config)
        } catch {
            throw CommandFailure(error.description, .usage)
        }
        let targets = loaded.probeTargets(localAddresses: Set(localInterfaceAddresses()))
        if check {
            emit("\(config): ok: listen \(loaded.listenHost):\(loaded.listenPort), responder \(loaded.responderPort.map { "port \($0)" } ?? "off"), \(targets.count) targets, \(loaded.captures.count) captures\n")
            for t in targets {
                let port = t.port.map { ":\($0)" } ?? ""
                emit("  \(t.name) (\(t.host)\(port)\(t.isPeer ? ", peer" : "")): \(t.methods.map(\.rawValue).joined(separator: ", ")); \(t.samples) samples every \(formatDuration(.nanoseconds(Int64(t.intervalNanoseconds)))), timeout \(formatDuration(.nanoseconds(Int64(t.timeoutNanoseconds))))\n")
            }
            return
        }
        let runtime = AgentRuntime(configPath: config, config: loaded, version: Wirelat.configuration.version) { line in
            emit("\(localTimeOfDay()) \(line)\n")
        }
        do {
            try runtime.start()
        } catch {
            throw CommandFailure(error.description, .measurementFailed)
        }
        emit("\(localTimeOfDay()) wirelat agent: \(runtime.listening)\n")
        runtime.run()
        emit("\(localTimeOfDay()) wirelat agent stopped\n")
    }
}
