import Foundation
import Testing
@preconcurrency import Glibc

// Helpers for CaptureTests.swift: running the peer tools (tcpdump, tcpstat) beside
// wirelat, comparing their outputs, a shared capture made from real traffic between two
// namespaces, and a single namespace for live loopback captures.

/// The peer tools the capture tests compare against. A missing one skips its tests visibly.
enum CaptureTools {
    static func find(_ name: String) -> String? {
        ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/local/bin/"]
            .map { $0 + name }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let tcpdump: String? = find("tcpdump")
    static let tcpstat: String? = find("tcpstat")
    static let setpriv: String? = find("setpriv")
    static let ping: String? = find("ping")

    /// Says on stderr why a test is skipped, once per tool, so a skip is never silent.
    static func available(_ tool: String?, _ name: String, needsNamespaces: Bool = false) -> Bool {
        if tool == nil {
            FileHandle.standardError.write(Data("EndToEndTests: SKIPPING capture tests that need \(name): it is not installed (scripts/setup installs it)\n".utf8))
            return false
        }
        return needsNamespaces ? NamespaceSupport.available : true
    }

    static let haveTcpdump = available(tcpdump, "tcpdump")
    static let haveTcpdumpAndNamespaces = available(tcpdump, "tcpdump", needsNamespaces: true)
    static let haveTcpstatAndNamespaces = haveTcpdumpAndNamespaces && available(tcpstat, "tcpstat")
    static let haveSetpriv = getuid() == 0 && available(setpriv, "setpriv")

    /// tcpdump's own test captures, beside the package: `<root>/../shared/corpus/tcpdump-tests`.
    static let corpus: String = URL(fileURLWithPath: WirelatBinary.packageRoot)
        .deletingLastPathComponent().appendingPathComponent("shared/corpus/tcpdump-tests").standardized.path

    static let haveCorpus: Bool = {
        var isDirectory: ObjCBool = false
        let ok = FileManager.default.fileExists(atPath: corpus, isDirectory: &isDirectory) && isDirectory.boolValue
        if !ok {
            FileHandle.standardError.write(Data("EndToEndTests: SKIPPING the tcpdump corpus test: \(corpus) does not exist (known issue: the corpus lives outside the repository)\n".utf8))
        }
        return ok
    }()
}

/// What one run of a tool left behind.
struct ToolRun {
    let command: String
    let exit: Spawned.Exit
    let stdoutPath: String
    let stderr: String

    var stdoutData: Data { (try? Data(contentsOf: URL(fileURLWithPath: stdoutPath))) ?? Data() }
    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    var succeeded: Bool { !exit.bySignal && exit.status == 0 }
    var stderrLines: [Substring] { lines(stderr) }
    var summary: String { "\(command): \(exit)\n[stderr]\n\(stderr)" }
}

nonisolated(unsafe) private var toolRunCounter = 0
private let toolRunLock = NSLock()

private func nextRunName(_ base: String) -> String {
    toolRunLock.lock()
    defer { toolRunLock.unlock() }
    toolRunCounter += 1
    return "\(base)-\(toolRunCounter)"
}

/// Runs `argv` to completion (at most `timeout`; killed then), with `environment` added
/// through `/usr/bin/env`. Standard output and error go to files in `directory`.
func runTool(_ argv: [String], environment: [String: String] = [:], in directory: ScratchDirectory,
             timeout: Duration = .seconds(30)) async throws -> ToolRun {
    precondition(!argv.isEmpty)
    let command = (environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + argv).joined(separator: " ")
    let child: Spawned
    let name = nextRunName(URL(fileURLWithPath: argv[0]).lastPathComponent)
    if environment.isEmpty {
        child = try Spawned(argv[0], Array(argv.dropFirst()), name: name, in: directory)
    } else {
        child = try Spawned("/usr/bin/env", environment.map { "\($0.key)=\($0.value)" } + argv, name: name, in: directory)
    }
    defer { child.kill() }
    guard let exit = await child.waitForExit(timeout: timeout) else {
        throw E2EFailure("\(command) did not finish within \(timeout)\n\(child.transcript)")
    }
    return ToolRun(command: command, exit: exit, stdoutPath: child.stdoutPath, stderr: child.stderr)
}

/// `wirelat ARGS` with TZ=UTC, so time-of-day stamps do not depend on the machine.
func runWirelatUTC(_ arguments: [String], in directory: ScratchDirectory, timeout: Duration = .seconds(30)) async throws -> ToolRun {
    try await runTool([try WirelatBinary.require()] + arguments, environment: ["TZ": "UTC"], in: directory, timeout: timeout)
}

/// `tcpdump ARGS` with TZ=UTC.
func runTcpdumpUTC(_ arguments: [String], in directory: ScratchDirectory, timeout: Duration = .seconds(30)) async throws -> ToolRun {
    let tcpdump = try #require(CaptureTools.tcpdump, "tcpdump is not installed")
    return try await runTool([tcpdump] + arguments, environment: ["TZ": "UTC"], in: directory, timeout: timeout)
}

/// nil when the two outputs are byte for byte the same; otherwise the first line that
/// differs (1-based), both versions of it, and the line counts.
func firstDifference(expected: Data, actual: Data, expectedName: String = "tcpdump", actualName: String = "wirelat") -> String? {
    if expected == actual { return nil }
    let newline = UInt8(ascii: "\n")
    let e = expected.split(separator: newline, omittingEmptySubsequences: false)
    let a = actual.split(separator: newline, omittingEmptySubsequences: false)
    let counts = "\(expectedName) printed \(lineCount(expected)) lines, \(actualName) \(lineCount(actual))"
    for index in 0..<max(e.count, a.count) {
        let left = index < e.count ? String(decoding: e[index], as: UTF8.self) : nil
        let right = index < a.count ? String(decoding: a[index], as: UTF8.self) : nil
        if left != right {
            return """
            first difference at line \(index + 1) (\(counts)):
              \(expectedName): \(left.map { "\"\($0)\"" } ?? "(no such line)")
              \(actualName): \(right.map { "\"\($0)\"" } ?? "(no such line)")
            """
        }
    }
    return "the outputs differ (\(counts))"
}

func lineCount(_ data: Data) -> Int {
    data.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
}

/// The pcap magic number as the file's writer stored it (native order here).
func pcapMagic(_ path: String) -> UInt32? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let bytes = try? handle.read(upToCount: 4), bytes.count == 4 else { return nil }
    return bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
}

let pcapNanosecondMagic: UInt32 = 0xa1b2_3c4d
let pcapMicrosecondMagic: UInt32 = 0xa1b2_c3d4

/// Byte offsets of each record (its 16-byte header) in a pcap file written in this host's
/// byte order (as tcpdump -w writes them).
func pcapRecordOffsets(_ data: Data) -> [Int] {
    guard data.count >= 24 else { return [] }
    func u32(_ at: Int) -> Int {
        Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) })
    }
    var offsets: [Int] = []
    var at = 24
    while at + 16 <= data.count {
        offsets.append(at)
        at += 16 + u32(at + 8)
    }
    return offsets
}

extension Spawned {
    /// Waits until standard error contains `text`; false on timeout or if the process exited first.
    func waitForError(_ text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stderr.contains(text) { return true }
            if !isRunning { return stderr.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

/// Runs iproute2's `ip` with `arguments`; throws when it fails and `check` is set.
@discardableResult
func runIP(_ arguments: [String], in directory: ScratchDirectory, check: Bool = true) async throws -> Int32 {
    guard let ip = NamespaceSupport.ip else { throw E2EFailure("iproute2's ip is not installed") }
    let run = try await runTool([ip] + arguments, in: directory, timeout: .seconds(10))
    if check && !run.succeeded {
        throw E2EFailure("ip \(arguments.joined(separator: " ")) failed (\(run.exit)): \(run.stderr)")
    }
    return run.exit.status
}

/// One network namespace, `wlt-cap-XXXX`, with only its loopback up: traffic there stays there.
struct LoopbackNamespace {
    let name = "wlt-cap-" + String(UInt16.random(in: 0...UInt16.max), radix: 16).leftPadded(to: 4)

    func up(in directory: ScratchDirectory) async throws {
        try await runIP(["netns", "add", name], in: directory)
        try await runIP(["-n", name, "link", "set", "lo", "up"], in: directory)
    }

    func down(in directory: ScratchDirectory) async {
        _ = try? await runIP(["netns", "del", name], in: directory, check: false)
    }

    var exists: Bool { FileManager.default.fileExists(atPath: "/run/netns/\(name)") }

    /// `ip netns exec NAME` as a command prefix.
    var exec: [String] { [NamespaceSupport.ip ?? "ip", "netns", "exec", name] }
}

// MARK: - A capture of real traffic, made once per test run

/// A nanosecond pcap written by `tcpdump -i VETH --time-stamp-precision=nano` in the client's
/// namespace while ping (IPv4 and IPv6) and two `wirelat client` runs (IPv4 at full speed,
/// IPv6 with a delay and a payload) crossed a veth pair to a `wirelat server` on port 5555.
struct TrafficCapture: Sendable {
    let path: String
    let port: Int
    let serverAddress: String
    let serverAddress6: String
}

nonisolated(unsafe) private var directoriesToRemoveAtExit: [String] = []
private let removalLock = NSLock()

/// The shared capture lives until the test process exits.
private func removeAtExit(_ path: String) {
    removalLock.lock()
    defer { removalLock.unlock() }
    if directoriesToRemoveAtExit.isEmpty {
        atexit {
            for path in directoriesToRemoveAtExit { try? FileManager.default.removeItem(atPath: path) }
        }
    }
    directoriesToRemoveAtExit.append(path)
}

actor TrafficCaptures {
    static let shared = TrafficCaptures()
    private var making: Task<TrafficCapture, any Error>?

    /// The capture, made by the first caller; later callers wait for it.
    func capture() async throws -> TrafficCapture {
        if let making { return try await making.value }
        let task = Task { try await Self.make() }
        making = task
        return try await task.value
    }

    private static func make() async throws -> TrafficCapture {
        let binary = try WirelatBinary.require()
        guard let ip = NamespaceSupport.ip else { throw E2EFailure("iproute2's ip is not installed") }
        guard let tcpdump = CaptureTools.tcpdump else { throw E2EFailure("tcpdump is not installed") }
        let dir = try ScratchDirectory("capture-fixture")
        removeAtExit(dir.path)
        let pair = NamespacePair()
        let port = 5555 // alone in its namespace
        let prefix6 = "fd00:c9:\(String(pair.subnet, radix: 16))::"
        let file = dir.file("traffic.pcap")
        var children: [Spawned] = []
        func killAll() {
            for child in children { child.kill() }
        }
        do {
            try await pair.up(in: dir)
            for (ns, link, host) in [(pair.serverNamespace, pair.serverLink, 1), (pair.clientNamespace, pair.clientLink, 2)] {
                try await runIP(["-n", ns, "addr", "add", "\(prefix6)\(host)/64", "dev", link, "nodad"], in: dir)
            }
            let server = try await startServer(["--port", "\(port)"], prefix: [ip, "netns", "exec", pair.serverNamespace], in: dir)
            children.append(server)
            // Debian's tcpdump switches to the user tcpdump before creating the file; -Z root
            // keeps it able to write into the root-owned scratch directory.
            let capture = try Spawned(ip, ["netns", "exec", pair.clientNamespace, tcpdump, "-i", pair.clientLink,
                                           "-w", file, "--time-stamp-precision=nano", "-Z", "root"],
                                      name: "fixture-tcpdump", in: dir)
            children.append(capture)
            guard await capture.waitForError("listening on", timeout: .seconds(10)) else {
                throw E2EFailure("tcpdump did not start capturing within 10 s\n\(capture.transcript)")
            }
            let inClient = [ip, "netns", "exec", pair.clientNamespace]
            if let ping = CaptureTools.ping {
                _ = try await runTool(inClient + [ping, "-c", "3", "-i", "0.2", "-W", "2", pair.serverAddress], in: dir, timeout: .seconds(10))
                _ = try await runTool(inClient + [ping, "-6", "-c", "3", "-i", "0.2", "-W", "2", "\(prefix6)1"], in: dir, timeout: .seconds(10))
            }
            let client4 = try Spawned(ip, Array(inClient.dropFirst()) + [binary, "client", pair.serverAddress, "--port", "\(port)", "--duration", "1s"],
                                      name: "fixture-client4", in: dir)
            children.append(client4)
            let client6 = try Spawned(ip, Array(inClient.dropFirst()) + [binary, "client", "\(prefix6)1", "--port", "\(port)",
                                                                         "--duration", "1s", "--delay", "2ms", "--length", "300"],
                                      name: "fixture-client6", in: dir)
            children.append(client6)
            for client in [client4, client6] {
                guard let exit = await client.waitForExit(timeout: .seconds(20)), exit.status == 0, !exit.bySignal else {
                    throw E2EFailure("a fixture client failed\n\(client.transcript)")
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
            capture.signal(SIGINT)
            guard let exit = await capture.waitForExit(timeout: .seconds(10)), exit.status == 0, !exit.bySignal else {
                throw E2EFailure("tcpdump did not stop cleanly on SIGINT\n\(capture.transcript)")
            }
            killAll()
            _ = await server.waitForExit(timeout: .seconds(5))
            await pair.down(in: dir)
        } catch {
            killAll()
            await pair.down(in: dir)
            throw error
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        guard size > 10_000 else { throw E2EFailure("the fixture capture \(file) holds only \(size) bytes") }
        return TrafficCapture(path: file, port: port, serverAddress: pair.serverAddress, serverAddress6: "\(prefix6)1")
    }
}

/// Whether `stderr` has a line that is `text` ("0 packets dropped by kernel", as tcpdump
/// words its closing counters), alone or after a "wirelat: " prefix; "340 packets ..." is not "0 packets ...".
func reports(_ stderr: String, _ text: String) -> Bool {
    lines(stderr).contains { $0 == text || $0.hasSuffix(": " + text) }
}
