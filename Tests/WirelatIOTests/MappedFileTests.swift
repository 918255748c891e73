import Foundation
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO

// A capture file read in place (MappedFile, PcapHandle.mappedPackets) hands over the same
// packets as libpcap's own reading of it (PcapHandle.dispatch).

private let corpus = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared/corpus/tcpdump-tests").standardized.path
private let haveCorpus = FileManager.default.fileExists(atPath: corpus)

/// One packet as a test can keep it: the time in nanoseconds, the lengths, the bytes.
private struct Seen: Equatable, CustomStringConvertible {
    let seconds: Int64
    let nanoseconds: Int64
    let wireLength: Int
    let linkType: UInt32
    let bytes: [UInt8]

    init(_ p: borrowing CapturedPacket) {
        seconds = p.timestamp.seconds
        nanoseconds = p.timestamp.fraction(in: .nanoseconds)
        wireLength = p.wireLength
        linkType = p.linkType.rawValue
        bytes = Array(p.data)
    }

    var description: String { "\(seconds).\(nanoseconds) len \(wireLength) caplen \(bytes.count) link \(linkType)" }
}

/// Everything `body` hands over, and the error that ended it.
private func collect(_ body: ((borrowing CapturedPacket) -> Void) throws(PcapError) -> Int) -> ([Seen], PcapError?) {
    var seen: [Seen] = []
    do {
        while try body({ seen.append(Seen($0)) }) > 0 {}
        return (seen, nil)
    } catch {
        return (seen, error)
    }
}

private struct TemporaryFile {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("wlt-mapped-\(UInt32.random(in: 0...UInt32.max))").path
    func remove() { unlink(path) }
}

@Suite("MappedFile and PcapHandle.mappedPackets")
struct MappedFileTests {
    @Test("a regular file maps to its bytes, an empty one to no bytes; a FIFO is not mapped")
    func mapping() throws {
        let file = TemporaryFile()
        defer { file.remove() }
        let contents = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(contents).write(to: URL(fileURLWithPath: file.path))
        let mapped = try #require(try MappedFile.map(path: file.path))
        #expect(Array(mapped.bytes) == contents)

        try Data().write(to: URL(fileURLWithPath: file.path))
        let empty = try #require(try MappedFile.map(path: file.path))
        #expect(empty.bytes.isEmpty)

        let fifo = TemporaryFile()
        defer { fifo.remove() }
        try #require(mkfifo(fifo.path, 0o600) == 0)
        let fd = open(fifo.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(try MappedFile.map(descriptor: fd) == nil)
    }

    @Test("a missing file throws ENOENT")
    func missing() {
        #expect(throws: SystemError(call: "open", errno: ENOENT)) { try MappedFile.map(path: "/nonexistent/wlt-no-such-file") }
    }

    @Test("mappedPackets hands over what dispatch does: times, lengths, bytes, link type; with and without a filter",
          .enabled(if: haveCorpus, "the tcpdump corpus (../shared/corpus/tcpdump-tests) is not there"),
          arguments: ["tcp-handshake-nano.pcap", "mptcp-v1.pcap", "timestamp_invalid_nano.pcap", "isup.pcap",
                      "icmpv6-length-zero.pcapng", "of13_ericsson.pcapng", "time_2107.pcapng", "ipv6_jumbogram_1.pcap"])
    func samePackets(_ name: String) throws {
        let path = corpus + "/" + name
        for filter in [nil, "tcp", "ip6 or udp"] {
            let read = try PcapHandle.openOffline(path)
            let mapped = try #require(read.mappedPackets(), "\(name) is a regular pcap/pcapng file of a link type libpcap leaves alone")
            let compiled = try filter.map { (e) throws(PcapError) in try read.compileFilter(e) }
            let fromMap = collect { (body) throws(PcapError) in try mapped.dispatch(limit: 7, filter: compiled, body) }

            let reference = try PcapHandle.openOffline(path)
            if let filter { try reference.setFilter(filter) }
            let fromLibpcap = collect { (body) throws(PcapError) in try reference.dispatch(limit: 7, body) }

            #expect(fromMap.0.count == fromLibpcap.0.count, "\(name) \(filter ?? ""): \(fromMap.0.count) packets mapped, \(fromLibpcap.0.count) from libpcap")
            for (i, (m, l)) in zip(fromMap.0, fromLibpcap.0).enumerated() where m != l {
                Issue.record("\(name) \(filter ?? ""): packet \(i + 1): mapped \(m), libpcap \(l)")
                break
            }
            #expect((fromMap.1 == nil) == (fromLibpcap.1 == nil), "\(name): mapped \(String(describing: fromMap.1)), libpcap \(String(describing: fromLibpcap.1))")
        }
    }

    @Test("link types whose packets libpcap rewrites or wirelat does not decode are left to libpcap",
          .enabled(if: haveCorpus, "the tcpdump corpus (../shared/corpus/tcpdump-tests) is not there"),
          arguments: ["nflog.pcap", "802_15_4_beacon.pcap"])
    func leftToLibpcap(_ name: String) throws {
        let path = corpus + "/" + name
        try #require(FileManager.default.fileExists(atPath: path), "\(name) is not in the corpus")
        let handle = try PcapHandle.openOffline(path)
        #expect(handle.mappedPackets() == nil)
    }
}
