import ArgumentParser
import WirelatCore
import WirelatKit
import WirelatIO

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Serve oratcptest-style sync and async tests on one epoll loop.",
        discussion: "Also accepts oratcptest's spelling: wirelat server -port=1521"
    )

    @Option(help: "Address to listen on (:: listens on IPv6 and IPv4).")
    var bind = "::"

    @Option(help: "TCP port to listen on.")
    var port: UInt16 = 5555

    @Option(name: .customLong("think-time"), help: .withDefault("Wait this long before each reply, as a database would while it works (e.g. 400us; a bare number is milliseconds).", "0"), transform: DurationArgument.parse)
    var thinkTime: DurationArgument<BareMilliseconds> = "0"

    @Option(name: .customLong("write-dir"), help: "For clients that ask with --write: append each request to a file in DIR and fsync it before replying (oratcptest's disk-write option). The file is removed when the connection ends.")
    var writeDir: String?

    @Option(name: .customLong("max-length"), help: "Largest payload a test may ask for, in bytes.")
    var maxLength = "16777216"

    @Option(name: .customLong("max-connections"), help: "Connections served at once; more are refused.")
    var maxConnections = 10_000

    @Option(name: .customLong("handshake-timeout"), help: .withDefault("Close connections that send no complete test request within this time.", "10s"), transform: DurationArgument.parse)
    var handshakeTimeout: DurationArgument<BareSeconds> = "10s"

    @Option(name: .customLong("idle-timeout"), help: .withDefault("Close test connections silent for this long.", "5m"), transform: DurationArgument.parse)
    var idleTimeout: DurationArgument<BareSeconds> = "5m"

    @Option(name: .customLong("max-tests"), help: "Exit after this many tests have finished.")
    var maxTests: Int?

    func validate() throws {
        let length = try byteOption(maxLength, "--max-length")
        guard length <= Int(UInt32.max) else { throw ValidationError("--max-length must be at most \(UInt32.max)") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        if let m = maxTests, m < 1 { throw ValidationError("--max-tests must be at least 1") }
    }

    func run() throws {
        var config = ServerConfiguration()
        config.bind = bind
        config.port = port
        config.thinkTimeNanoseconds = thinkTime.nanoseconds
        config.handshakeTimeoutNanoseconds = handshakeTimeout.nanoseconds
        config.idleTimeoutNanoseconds = idleTimeout.nanoseconds
        config.maxPayloadLength = UInt32(try byteOption(maxLength, "--max-length"))
        config.maxConnections = maxConnections
        config.maxTests = maxTests
        if let dir = writeDir {
            guard isWritableDirectory(dir) else { throw CommandFailure("--write-dir \(dir): not a writable directory", .badInput) }
            config.writeDirectory = dir
        }
        ignoreSIGPIPE()
        raiseDescriptorLimit()
        let loop: EventLoop
        let server: Server
        do {
            loop = try EventLoop()
            server = Server(configuration: config, loop: loop) { line in emit("\(localTimeOfDay()) \(line)\n") }
            try server.start()
            try loop.onInterrupt { _ in loop.stop() }
        } catch let e as ServerError {
            throw e
        } catch {
            throw CommandFailure("\(error)", .measurementFailed)
        }
        var settings = "think time \(formatDuration(.nanoseconds(Int64(config.thinkTimeNanoseconds))))"
        settings += ", disk write " + (config.writeDirectory.map { "to \($0)" } ?? "off")
        emit("\(localTimeOfDay()) wirelat server listening on \(server.boundAddress.map { "\($0)" } ?? "?") (\(settings))\n")
        do {
            try loop.run()
        } catch {
            throw CommandFailure("\(error)", .measurementFailed)
        }
        server.stop()
        let c = server.counters
        emit("\(localTimeOfDay()) server stopped: \(c.accepted) connections, \(c.testsFinished) tests, \(c.testsInterrupted) interrupted tests, \(c.refused) refused, \(c.protocolErrors) protocol errors, \(c.timeouts) timeouts, \(c.resets) resets, \(c.closedBeforeRequest) closed before a test request (port checks)\n")
    }
}
