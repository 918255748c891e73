import Foundation
import Testing
@preconcurrency import Glibc

/// Two network namespaces joined by a veth pair need root and iproute2's `ip`.
enum NamespaceSupport {
    static let ip: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Evaluated once; says so on stderr when the test will be skipped, so a skip is never silent.
    static let available: Bool = {
        let ok = getuid() == 0 && ip != nil
        if !ok {
            let why = getuid() != 0 ? "not running as root" : "iproute2's `ip` is not installed"
            FileHandle.standardError.write(Data("EndToEndTests: SKIPPING the two-namespace client/server test: \(why)\n".utf8))
        }
        return ok
    }()
}

/// Two namespaces, `wlt-s-XXXX` (server, 10.199.N.1) and `wlt-c-XXXX` (client, 10.199.N.2),
/// joined by the veth pair `wlt-XXXXs` / `wlt-XXXXc`.
struct NamespacePair {
    let suffix: String
    let subnet: Int
    var serverNamespace: String { "wlt-s-\(suffix)" }
    var clientNamespace: String { "wlt-c-\(suffix)" }
    var serverAddress: String { "10.199.\(subnet).1" }
    var clientAddress: String { "10.199.\(subnet).2" }
    var serverLink: String { "wlt-\(suffix)s" }
    var clientLink: String { "wlt-\(suffix)c" }

    init() {
        suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16).leftPadded(to: 4)
        subnet = Int.random(in: 1...254)
    }

    func up(in dir: ScratchDirectory) async throws {
        try await ip(["netns", "add", serverNamespace], dir)
        try await ip(["netns", "add", clientNamespace], dir)
        try await ip(["link", "add", serverLink, "type", "veth", "peer", "name", clientLink], dir)
        try await ip(["link", "set", serverLink, "netns", serverNamespace], dir)
        try await ip(["link", "set", clientLink, "netns", clientNamespace], dir)
        for (ns, link, address) in [(serverNamespace, serverLink, serverAddress), (clientNamespace, clientLink, clientAddress)] {
            try await ip(["-n", ns, "addr", "add", "\(address)/24", "dev", link], dir)
            try await ip(["-n", ns, "link", "set", link, "up"], dir)
            try await ip(["-n", ns, "link", "set", "lo", "up"], dir)
        }
    }

    /// Removes both namespaces (which takes the veth pair with them) and a veth left behind
    /// if setup stopped half-way. Errors are ignored: some of it may never have been made.
    func down(in dir: ScratchDirectory) async {
        for arguments in [["netns", "del", serverNamespace], ["netns", "del", clientNamespace], ["link", "del", serverLink]] {
            _ = try? await ip(arguments, dir, check: false)
        }
    }

    var exists: Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(serverNamespace)")
            || FileManager.default.fileExists(atPath: "/run/netns/\(clientNamespace)")
    }

    @discardableResult
    func ip(_ arguments: [String], _ dir: ScratchDirectory, check: Bool = true) async throws -> Int32 {
        let ip = try #require(NamespaceSupport.ip)
        let child = try Spawned(ip, arguments, name: "ip-\(UInt32.random(in: 0...UInt32.max))", in: dir)
        defer { child.kill() }
        guard let exit = await child.waitForExit(timeout: .seconds(10)) else {
            throw E2EFailure("ip \(arguments.joined(separator: " ")) did not finish within 10 s")
        }
        if check && exit.status != 0 {
            throw E2EFailure("ip \(arguments.joined(separator: " ")) failed (\(exit)): \(child.stderr)")
        }
        return exit.status
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

@Suite("Two hosts: server and client in their own network namespaces", .timeLimit(.minutes(1)))
struct NamespaceEndToEnd {
    // Skipped, with a line on stderr from NamespaceSupport.available, when not root or `ip` is missing.
    @Test("a 2-second sync test across a veth pair reports the server namespace's address as its target",
          .enabled(if: NamespaceSupport.available, "needs root and iproute2's ip to make network namespaces"))
    func acrossNamespaces() async throws {
        let binary = try WirelatBinary.require()
        let ip = try #require(NamespaceSupport.ip)
        let dir = try ScratchDirectory("netns")
        defer { dir.remove() }
        let pair = NamespacePair()
        var server: Spawned?
        do {
            try await pair.up(in: dir)
            let port = 5555 // alone in its namespace: no other listener can be there
            server = try await startServer(["--port", "\(port)"], prefix: [ip, "netns", "exec", pair.serverNamespace], in: dir)
            let jsonPath = dir.file("report.json")
            let client = try Spawned(
                ip, ["netns", "exec", pair.clientNamespace, binary, "client", pair.serverAddress,
                     "--port", "\(port)", "--duration", "2s", "--json", jsonPath],
                name: "client", in: dir)
            defer { client.kill() }
            let exit = try #require(await client.waitForExit(timeout: .seconds(20)), "the client did not finish\n\(client.transcript)")
            #expect(exit.status == 0 && !exit.bySignal, "\(exit)\n\(client.transcript)")
            #expect(client.stdout.contains("Test finished."), "\(client.stdout)")
            let json = try readJSON(jsonPath)
            #expect(json["target"] as? String == "\(pair.serverAddress):\(port)")
            #expect((integer(json["samples"]) ?? 0) > 0)
            #expect(json["completed"] as? Bool == true)
        } catch {
            server?.kill()
            await pair.down(in: dir)
            throw error
        }
        server?.kill()
        _ = await server?.waitForExit(timeout: .seconds(5))
        await pair.down(in: dir)
        #expect(!pair.exists, "namespace \(pair.serverNamespace) or \(pair.clientNamespace) was left behind")
    }
}
