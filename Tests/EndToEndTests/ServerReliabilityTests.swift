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
        try await withLoopbackServer("idle", port: 24_100, serverArguments: { ["--port", "\($0)", "--handshake-timeout", "2m"] }) { dir, port, server in
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
