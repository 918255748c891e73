import Foundation
import Testing
@preconcurrency import Glibc

// Helpers for RTTCaptureTests.swift (`wirelat capture --rtt`): the peer tools, two
// namespaces with a wirelat server, the `--samples` lines, and a generated pcap of
// unanswered SYNs.

enum RTTTools {
    static let tshark: String? = CaptureTools.find("tshark")
    static let python3: String? = CaptureTools.find("python3")

    static let haveTshark = CaptureTools.haveTcpdumpAndNamespaces && CaptureTools.available(tshark, "tshark")
    static let havePython = CaptureTools.available(python3, "python3")
    static let taskset: String? = CaptureTools.find("taskset")
    static let nice: String? = CaptureTools.find("nice")
    static let haveTasksetAndNice = CaptureTools.available(taskset, "taskset (util-linux)") && CaptureTools.available(nice, "nice (coreutils)")
    static let havePing = CaptureTools.haveTcpdumpAndNamespaces && CaptureTools.available(CaptureTools.ping, "ping (iputils-ping)")
}

/// The port of the wirelat server in the server namespace; alone there, so always free.
let rttServerPort = 5555

/// Two namespaces (``NamespacePair``: server 10.199.N.1, client 10.199.N.2) with
/// `wirelat server --port 5555` in the server's. `body` gets the pair and the command
/// prefix that runs a program in the client's namespace. Everything `body` starts must be
/// killed by `body`; the server and the namespaces are removed here, on every path.
func withServerAndClientNamespaces(in dir: ScratchDirectory,
                                   _ body: (NamespacePair, _ inClient: [String]) async throws -> Void) async throws {
    let ip = try #require(NamespaceSupport.ip)
    let pair = NamespacePair()
    var server: Spawned?
    do {
        try await pair.up(in: dir)
        server = try await startServer(["--port", "\(rttServerPort)"], prefix: [ip, "netns", "exec", pair.serverNamespace], in: dir)
        try await body(pair, [ip, "netns", "exec", pair.clientNamespace])
    } catch {
        server?.kill()
        _ = await server?.waitForExit(timeout: .seconds(5))
        await pair.down(in: dir)
        throw error
    }
    server?.kill()
    _ = await server?.waitForExit(timeout: .seconds(5))
    await pair.down(in: dir)
    #expect(!pair.exists, "namespace \(pair.serverNamespace) or \(pair.clientNamespace) was left behind")
}

/// Starts `argv` under `prefix` (e.g. `ip netns exec NS`) and waits until it writes
/// "listening on" to standard error, as wirelat capture and tcpdump do once the handle is open.
func startListening(_ prefix: [String], _ argv: [String], name: String, in dir: ScratchDirectory) async throws -> Spawned {
    let all = prefix + argv
    let child = try Spawned(all[0], Array(all.dropFirst()), name: name, in: dir)
    guard await child.waitForError("listening on", timeout: .seconds(10)) else {
        child.kill()
        throw E2EFailure("\(name) did not say it is listening within 10 s\n\(child.transcript)")
    }
    return child
}

/// Stops a capture with SIGINT (as Ctrl-C would) and waits at most `timeout` for it;
/// nil if it had to be killed.
func interrupt(_ child: Spawned, timeout: Duration = .seconds(20)) async -> Spawned.Exit? {
    child.signal(SIGINT)
    return await child.waitForExit(timeout: timeout)
}

/// One line of `wirelat capture --rtt --samples FILE`.
struct RTTSampleLine {
    let method: String
    let timeNanoseconds: Int64
    let rttNanoseconds: Int64
    let flow: String
}

/// The lines of a `--samples` file; lines that are not a JSON object with the four keys
/// (method, time_ns, rtt_ns as integers, flow as a string) are returned in `invalid`.
func readSampleLines(_ path: String) throws -> (samples: [RTTSampleLine], invalid: [String]) {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var body = Substring(text)
    if body.hasSuffix("\n") { body = body.dropLast() }
    if body.isEmpty { return ([], []) }
    // Hundreds of thousands of lines (and this runs as a debug build): parsed as one JSON
    // array when they are all fine, else one by one. A line holding two objects would add
    // an element and an empty line would break the array, so the count is checked.
    var newlines = 0
    body.utf8.withContiguousStorageIfAvailable { bytes in
        guard var at = bytes.baseAddress else { return }
        let end = at + bytes.count
        while at < end, let hit = memchr(at, 0x0A, end - at) {
            newlines += 1
            at = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) + 1
        }
    }
    let lineCount = newlines + 1
    let joined = "[" + body.replacingOccurrences(of: "\n", with: ",") + "]"
    var objects: [Any?]
    var rawLines: [Substring] = []
    if let array = (try? JSONSerialization.jsonObject(with: Data(joined.utf8))) as? [Any], array.count == lineCount {
        objects = array
    } else {
        rawLines = body.split(separator: "\n", omittingEmptySubsequences: false)
        objects = rawLines.map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
    }
    var samples: [RTTSampleLine] = []
    var invalid: [String] = []
    samples.reserveCapacity(objects.count)
    for (index, object) in objects.enumerated() {
        guard let object = object as? [String: Any],
              let method = object["method"] as? String, let time = integer(object["time_ns"]),
              let rtt = integer(object["rtt_ns"]), let flow = object["flow"] as? String
        else {
            invalid.append(index < rawLines.count ? String(rawLines[index]) : "line \(index + 1)")
            continue
        }
        samples.append(RTTSampleLine(method: method, timeNanoseconds: Int64(time), rttNanoseconds: Int64(rtt), flow: flow))
    }
    return (samples, invalid)
}

/// `a.b.c.d:port` → (address, port), or nil.
func splitEndpoint(_ text: Substring) -> (address: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
          (0...65535).contains(port) else { return nil }
    let address = text[..<colon]
    let parts = address.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return nil }
    return (String(address), port)
}

/// A TCP `flow` value, `10.0.0.1:51332>10.0.0.2:7001`, as its two endpoints.
func tcpFlowEndpoints(_ flow: String) -> (from: (address: String, port: Int), to: (address: String, port: Int))? {
    let halves = flow.split(separator: ">", omittingEmptySubsequences: false)
    guard halves.count == 2, let from = splitEndpoint(halves[0]), let to = splitEndpoint(halves[1]) else { return nil }
    return (from, to)
}

/// The method entries of a `capture --rtt --json` report, by name.
func rttMethods(_ json: [String: Any]) -> [String: [String: Any]] {
    var byName: [String: [String: Any]] = [:]
    for entry in (json["methods"] as? [[String: Any]]) ?? [] {
        if let name = entry["method"] as? String { byName[name] = entry }
    }
    return byName
}

func rttSummary(_ entry: [String: Any]?, _ key: String) -> Double? {
    number((entry?["rtt_ns"] as? [String: Any])?[key])
}

/// The lines a live `capture --rtt` prints once per `--interval`: `(HH:MM:SS)  reqresp n=…`.
func intervalLines(_ stdout: String) -> [Substring] {
    lines(stdout).filter { line in
        let c = Array(line.utf8.prefix(12))
        guard c.count == 12, c[0] == UInt8(ascii: "("), c[9] == UInt8(ascii: ")"), c[3] == UInt8(ascii: ":"),
              c[6] == UInt8(ascii: ":"), c[10] == UInt8(ascii: " ") else { return false }
        return [1, 2, 4, 5, 7, 8].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c[$0]) }
    }
}

/// The `n=` of `method` in one interval line (0 when the method is not on the line).
func intervalCount(_ line: Substring, _ method: String) -> Int {
    let words = line.split(separator: " ")
    guard let at = words.firstIndex(where: { $0 == method }), at + 1 < words.count,
          words[at + 1].hasPrefix("n=") else { return 0 }
    return Int(words[at + 1].dropFirst(2)) ?? 0
}

/// The median of `values` (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

// MARK: - Generated captures

/// python3: writes a nanosecond pcap (link type EN10MB) of COUNT TCP SYNs, each from its
/// own source address and port (10.64.0.1 + i/16, ports 1024…65023) to 10.255.0.1:5555,
/// 1 µs apart, none answered. IPv4 and TCP checksums are correct (tcpdump -vv says
/// "correct"). scripts/bench-rtt holds the same generator.
let synFloodGenerator = #"""
import struct, sys
path, count = sys.argv[1], int(sys.argv[2])
def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s
dst = 0x0AFF0001          # 10.255.0.1
dport = 5555
ip_len = 20 + 24          # IPv4 header + TCP header with the MSS option
ip_base = 0x4500 + ip_len + 0x4000 + ((64 << 8) | 6) + (dst >> 16) + (dst & 0xFFFF)
tcp_base = (dst >> 16) + (dst & 0xFFFF) + 6 + 24 + dport + 0x6002 + 64240 + 0x0204 + 1460
frame = bytearray(16 + 14 + ip_len)
struct.pack_into('!6s6sH', frame, 16, b'\x02\x00\x00\x00\x00\x02', b'\x02\x00\x00\x00\x00\x01', 0x0800)
struct.pack_into('!BBHHHBBH4s', frame, 30, 0x45, 0, ip_len, 0, 0x4000, 64, 6, 0, dst.to_bytes(4, 'big'))
struct.pack_into('!HHIIBBHHHBBH', frame, 50, 0, dport, 0, 0, 6 << 4, 0x02, 64240, 0, 0, 2, 4, 1460)
start = 1_700_000_000 * 10**9
with open(path, 'wb') as out:
    out.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
    chunk = bytearray()
    for i in range(count):
        src = 0x0A400001 + (i >> 4)                         # 10.64.0.1 and up, 16 ports each
        sport = 1024 + (i & 15) * 4000 + (i >> 4) % 4000   # distinct within a source address
        seq = (i * 2654435761) & 0xFFFFFFFF
        ident = i & 0xFFFF
        t = start + i * 1000
        struct.pack_into('<IIII', frame, 0, t // 10**9, t % 10**9, 14 + ip_len, 14 + ip_len)
        struct.pack_into('!H', frame, 34, ident)
        struct.pack_into('!II', frame, 42, src, dst)
        struct.pack_into('!H', frame, 40, 0xFFFF - fold(ip_base + ident + (src >> 16) + (src & 0xFFFF)))
        struct.pack_into('!HHI', frame, 50, sport, dport, seq)
        struct.pack_into('!H', frame, 66, 0xFFFF - fold(tcp_base + (src >> 16) + (src & 0xFFFF) + sport + (seq >> 16) + (seq & 0xFFFF)))
        chunk += frame
        if len(chunk) >= 1 << 20:
            out.write(chunk)
            chunk = bytearray()
    out.write(chunk)
"""#

/// Writes `count` unanswered SYNs from distinct flows to `path` (see ``synFloodGenerator``).
func makeSYNFlood(_ path: String, count: Int, in dir: ScratchDirectory) async throws {
    let python = try #require(RTTTools.python3, "python3 is not installed")
    let script = dir.file("syn-flood.py")
    try synFloodGenerator.write(toFile: script, atomically: true, encoding: .utf8)
    let run = try await runTool([python, script, path, "\(count)"], in: dir, timeout: .seconds(120))
    guard run.succeeded else { throw E2EFailure("the SYN generator failed: \(run.summary)") }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    guard size == 24 + count * (16 + 58) else {
        throw E2EFailure("the SYN generator wrote \(size) bytes, wanted \(24 + count * 74)")
    }
}

/// A pcap with a file header and no packets (nanosecond, EN10MB).
func writeEmptyPcap(_ path: String) throws {
    var header = Data()
    for (value, size) in [(UInt32(0xa1b2_3c4d), 4), (2, 2), (4, 2), (0, 4), (0, 4), (262_144, 4), (1, 4)] as [(UInt32, Int)] {
        var little = value.littleEndian
        header.append(Data(bytes: &little, count: 4).prefix(size))
    }
    try header.write(to: URL(fileURLWithPath: path))
}
