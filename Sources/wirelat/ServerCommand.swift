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

    @Option(name: .customLong("think-time"), help: "Wait this long before each reply, as a database would while it works (e.g. 400us; a bare number is milliseconds).")
    var thinkTime = "0"

    @Option(name: .customLong("write-dir"), help: "For clients that ask with --write: append each request to a file in DIR and fsync it before replying (oratcptest's disk-write option). The file is removed when the connection ends.")
    var writeDir: String?

    @Option(name: .customLong("max-length"), help: "Largest payload a test may ask for, in bytes.")
    var maxLength = "16777216"

    @Option(name: .customLong("max-connections"), help: "Connections served at once; more are refused.")
    var maxConnections = 10_000

    @Option(name: .customLong("handshake-timeout"), help: "Close connections that send no complete test request within this time.")
    var handshakeTimeout = "10s"

    @Option(name: .customLong("idle-timeout"), help: "Close test connections silent for this long.")
    var idleTimeout = "5m"

    @Option(name: .customLong("max-tests"), help: "Exit after this many tests have finished.")
    var maxTests: Int?

    func validate() throws {
        _ = try durationOption(thinkTime, "--think-time", bareUnit: .milliseconds)
        _ = try durationOption(handshakeTimeout, "--handshake-timeout", bareUnit: .seconds)
        _ = try durationOption(idleTimeout, "--idle-timeout", bareUnit: .seconds)
        let length = try byteOption(maxLength, "--max-length")
        guard length <= Int(UInt32.max) else { throw ValidationError("--max-length must be at most \(UInt32.max)") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        if let m = maxTests, m < 1 { throw ValidationError("--max-tests must be at least 1") }
    }

    func run() throws {
        var config = ServerConfiguration()
        config.bind = bind
        config.port = port
        config.thinkTimeNanoseconds = try durationOption(thinkTime, "--think-time", bareUnit: .milliseconds)
        config.handshakeTimeoutNanoseconds = try durationOption(handshakeTimeout, "--handshake-timeout", bareUnit: .seconds)
        config.idleTimeoutNanoseconds = try durationOption(idleTimeout, "--idle-timeout", bareUnit: .seconds)
        config.maxPayloadLength = UInt32(try byteOption(maxLength, "--max-length"))
        config.maxConnections = maxConnections
        config.maxTests = maxTests
        if let dir = writeDir {
            guard isWritableDirectory(dir) else {
                complain("--write-dir \(dir): not a writable directory")
                throw ExitCode(2)
            }
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
            complain(e.description)
            if case .usage = e { throw ExitCode(64) }
            throw ExitCode(1)
        } catch {
            complain("\(error)")
            throw ExitCode(1)
        }
        var settings = "think time \(formatDuration(.nanoseconds(Int64(config.thinkTimeNanoseconds))))"
        settings += ", disk write " + (config.writeDirectory.map { "to \($0)" } ?? "off")
        emit("\(localTimeOfDay()) wirelat server listening on \(server.boundAddress.map { "\($0)" } ?? "?") (\(settings))\n")
        do {
            try loop.run()
        } catch {
            complain("\(error)")
            throw ExitCode(1)
        }
        server.stop()
        let c = server.counters
        emit("\(localTimeOfDay()) server stopped: \(c.accepted) connections, \(c.testsFinished) tests, \(c.testsInterrupted) interrupted tests, \(c.refused) refused, \(c.protocolErrors) protocol errors, \(c.timeouts) timeouts, \(c.resets) resets, \(c.closedBeforeRequest) closed before a test request (port checks)\n")
    }
}
