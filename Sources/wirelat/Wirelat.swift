import ArgumentParser
import WirelatCore

@main
struct Wirelat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wirelat",
        abstract: "Network latency measured with the application's own kind of exchange.",
        discussion: """
        Every latency printed is a full round trip, and its label says which one.
        Exit codes: 0 success; 1 the measurement ran but failed; 2 bad input file, or an
        output file that cannot be written; 3 missing privilege or system component;
        64 bad usage.
        """,
        version: "0.1.0",
        subcommands: [ServerCommand.self, ClientCommand.self, CaptureCommand.self, ModelCommand.self, ProbeCommand.self, CompareCommand.self, LabCommand.self, MeshCommand.self, AgentCommand.self]
    )

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, first == "client" || first == "server" {
            arguments = OratcptestSpelling.normalize(arguments)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            if let (line, code) = failure(for: error) {
                complain(line)
                exit(withError: code)
            }
            exit(withError: error)
        }
    }
}
