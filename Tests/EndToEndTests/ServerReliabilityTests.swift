import Foundation
import Testing
@preconcurrency import Glibc
import WirelatIO

// The server as an operator runs it, under load and trouble: idle connections, a
// full disk, SIGTERM mid-test. Each test starts its own release-binary server on
// loopback and kills it on the way out.

@Suite("wirelat server under load and trouble, the release binary", .serialized, .timeLimit(.minutes(2)))
struct ServerReliability {
    @Test("2,000 idle connections cost the server less than 16 KiB each, and it still serves a client")
    func idleConnectionsAreCheap() async throws {
        let count = 2_000
        try #require(raiseDescriptorLimit() > count + 100, "this test needs \(count + 100) descriptors")
        try await withLoopbackServer("idle", port: 25_100, serverArguments: { ["--port", "\($0)", "--handshake-timeout", "2m"] }) { dir, port, server in
            let before = try #require(residentKilobytes(of: server.pid), "no VmRSS for the server")
            let baseDescriptors = openDescriptors(of: server.pid)
            var sockets: [CInt] = []
            defer { for fd in sockets { Glibc.close(fd) } }
            for _ in 0..<count { sockets.append(try connectLoopback(port: port)) }
            let deadline = ContinuousClock.now + .seconds(20)
            while openDescriptors(of: server.pid) < baseDescriptors + count && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try #require(openDescriptors(of: server.pid) >= baseDescriptors + count,
                         "the server accepted \(openDescriptors(of: server.pid) - baseDescriptors) of \(count) connections")
            let after = try #require(residentKilobytes(of: server.pid), "no VmRSS for the server")
            let perConnection = Double(after - before) * 1024 / Double(count)
            #expect(perConnection < 16 * 1024,
                    "RSS \(before) kB → \(after) kB with \(count) idle connections: \(Int(perConnection)) bytes each")

            let client = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--duration", "1s"], in: dir, name: "client")
            #expect(client.exit.status == 0 && !client.exit.bySignal, "\(client.exit)\n\(client.stderr)\n\(server.transcript)")
            #expect(client.stdout.contains("Test finished."), "\(client.stdout)")
        }
    }

    /// The async case with a slow disk (strace delays every fsync 20 ms) fills the disk
    /// while the first acknowledged messages still wait for their fsync: those are answered
    /// before the error, so the client has samples to keep.
    @Test("a full disk under --write-dir: the client says so in one line, exits 1, keeps what it measured, and the server serves the next client",
          arguments: [("sync", 65_536, false), ("async", 8_192, false), ("async", 65_536, true)])
    func fullDisk(mode: String, length: Int, slowDisk: Bool) async throws {
        let dir = try ScratchDirectory("fulldisk")
        defer { dir.remove() }
        let disk = dir.file("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try #require(mount("tmpfs", disk, "tmpfs", 0, "size=1m") == 0, "mount tmpfs on \(disk): errno \(errno)")
        // Lazily, so a server still holding a file there cannot keep it mounted.
        defer { _ = umount2(disk, Int32(MNT_DETACH)) }
        let port = freePort(25_600)
        let strace = ["/usr/bin/strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=fsync", "-e", "inject=fsync:delay_exit=20000", "-o", "/dev/null"]
        let server = try await startServer(["--port", "\(port)", "--write-dir", disk], prefix: slowDisk ? strace : [], in: dir)
        defer { killTraced(server) }
        let jsonPath = dir.file("report.json")
        let client = try await runWirelat(
            ["client", "127.0.0.1", "--port", "\(port)", "--mode", mode, "--length", "\(length)", "--write",
             "--duration", "10s", "--json", jsonPath], in: dir, name: "client", timeout: .seconds(30))
        #expect(client.exit.status == 1 && !client.exit.bySignal, "\(client.exit)\n\(client.stdout)\n\(client.stderr)")
        let errorLines = lines(client.stderr)
        #expect(errorLines.count == 1, "stderr should be one line:\n\(client.stderr)")
        #expect(errorLines.first?.contains("the server's disk is full: No space left on device") == true, "\(client.stderr)")
        #expect(client.stdout.contains("round trip"), "the text report lost the samples:\n\(client.stdout)")
        let json = try readJSON(jsonPath)
        #expect(json["completed"] as? Bool == false)
        #expect((integer(json["samples"]) ?? 0) > 0, "samples: \(String(describing: json["samples"]))")
        #expect((json["error"] as? String)?.contains("No space left on device") == true, "\(String(describing: json["error"]))")
        #expect(await server.waitForOutput("No space left on device", timeout: .seconds(10)), "\(server.transcript)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty, "the server left its data file on the full disk")

        let next = try await runWirelat(["client", "127.0.0.1", "--port", "\(port)", "--duration", "1s"], in: dir, name: "next")
        #expect(next.exit.status == 0 && !next.exit.bySignal, "\(next.exit)\n\(next.stderr)\n\(server.transcript)")
    }

    @Test("SIGTERM to a server with 6 tests running: a line per interrupted test and the count in its last line; each client exits 1 with its results and no claim that the server counted 0")
    func stoppedMidTest() async throws {
        let count = 6
        try await withLoopbackServer("sigterm", port: 26_100) { dir, port, server in
            var clients: [Spawned] = []
            defer { for client in clients { client.kill() } }
            for i in 0..<count {
                // Every other client pauses 2 ms between requests, so SIGTERM finds it between
                // requests rather than waiting for a reply.
                let client = try Spawned(try WirelatBinary.require(),
                                         ["client", "127.0.0.1", "--port", "\(port)", "--duration", "60s", "--interval", "100ms",
                                          "--json", dir.file("report-\(i).json")] + (i % 2 == 1 ? ["--delay", "2ms"] : []),
                                         name: "client-\(i)", in: dir)
                clients.append(client)
            }
            for client in clients {
                // An interval line: the test is under way and has round trips to keep.
                try #require(await client.waitForOutput("Mbytes/s", timeout: .seconds(15)), "\(client.transcript)")
            }
            server.signal(SIGTERM)
            let serverExit = try #require(await server.waitForExit(timeout: .seconds(10)), "the server ignored SIGTERM\n\(server.transcript)")
            #expect(serverExit.status == 0 && !serverExit.bySignal, "\(serverExit)\n\(server.transcript)")
            let testLines = lines(server.stdout).filter { $0.contains("test from") && $0.contains("outcome=interrupted") }
            #expect(testLines.count == count, "\(testLines.count) interrupted test lines\n\(server.transcript)")
            #expect(server.stdout.contains("\(count) interrupted tests"), "\(server.transcript)")

            for (i, client) in clients.enumerated() {
                let exit = try #require(await client.waitForExit(timeout: .seconds(15)), "client \(i) did not notice the server stopped\n\(client.transcript)")
                #expect(exit.status == 1 && !exit.bySignal, "client \(i): \(exit)\n\(client.transcript)")
                #expect(lines(client.stderr).count == 1, "client \(i): stderr should be one line:\n\(client.stderr)")
                #expect(client.stderr.contains("the server was stopped"), "client \(i): \(client.stderr)")
                #expect(client.stdout.contains("Test finished."), "client \(i): no report\n\(client.stdout)")
                #expect(client.stdout.contains("no summary from the server"), "client \(i):\n\(client.stdout)")
                #expect(!client.stdout.contains("the server counted 0"), "client \(i):\n\(client.stdout)")
                let json = try readJSON(dir.file("report-\(i).json"))
                #expect(json["completed"] as? Bool == false)
                #expect((integer(json["samples"]) ?? 0) > 0, "client \(i): samples \(String(describing: json["samples"]))")
            }
        }
    }
}

/// The resident set of process `pid` in kB (VmRSS in /proc/PID/status).
func residentKilobytes(of pid: pid_t) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }
    return nil
}

/// How many descriptors process `pid` holds.
func openDescriptors(of pid: pid_t) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
}

/// A blocking TCP connection to 127.0.0.1:`port`; the caller closes it.
func connectLoopback(port: UInt16) throws -> CInt {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw E2EFailure("socket: errno \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let result = withUnsafePointer(to: &address) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let code = errno
        Glibc.close(fd)
        throw E2EFailure("connect to 127.0.0.1:\(port): errno \(code)")
    }
    return fd
}
