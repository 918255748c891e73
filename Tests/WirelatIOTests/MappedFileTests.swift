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

    @Test("a file truncated under its mapping: pages past the new end read as zeros and are counted, instead of SIGBUS")
    func truncatedUnderneath() throws {
        let file = TemporaryFile()
        defer { file.remove() }
        let contents = [UInt8](repeating: 0xAB, count: 64 * 1024)
        try Data(contents).write(to: URL(fileURLWithPath: file.path))
        let mapped = try #require(try MappedFile.map(path: file.path))
        #expect(mapped.faults == 0)
        #expect(truncate(file.path, 4096) == 0)
        #expect(mapped.bytes[100] == 0xAB, "a page the file still has")
        #expect(mapped.bytes[40_000] == 0, "a page past the new end")
        #expect(mapped.faults == 1)
        #expect(!mapped.isIntact(through: 64 * 1024))
        #expect(mapped.faults == 15, "every other page past the end, once each")
    }

    @Test("a capture truncated while mappedPackets reads it: the packets before are handed over, then an error naming the file, never a zero-filled packet",
          arguments: [false, true])
    func captureTruncatedWhileRead(cutWithinPage: Bool) throws {
        let file = TemporaryFile()
        defer { file.remove() }
        // A classic pcap of 2,000 UDP-sized packets of 1,000 bytes each, every byte 0x5A.
        var bytes: [UInt8] = []
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        le32(0xA1B2_C3D4); bytes += [2, 0, 4, 0]; le32(0); le32(0); le32(65535); le32(1)
        for i in 0..<2_000 {
            le32(1_700_000_000); le32(UInt32(i)); le32(1_000); le32(1_000)
            bytes += [UInt8](repeating: 0x5A, count: 1_000)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file.path))
        let handle = try PcapHandle.openOffline(file.path)
        let packets = try #require(handle.mappedPackets())
        var seen: [Seen] = []
        let first = try packets.dispatch(limit: 100) { seen.append(Seen($0)) }
        #expect(first == 100)
        // Cut the file in the middle of a packet's data: one whose data runs on into the
        // next page (which then faults), or one that lies inside a page with room to
        // spare, whose rest, and the next record's header, then read as zeros without a fault.
        var record = 999
        if cutWithinPage {
            while (24 + record * 1_016) % 4096 + 1_016 + 100 > 4096 { record += 1 }
        }
        let cut = 24 + record * 1_016 + 16 + 500
        #expect(cutWithinPage == (cut / 4096 == (24 + (record + 1) * 1_016 + 16) / 4096))
        #expect(truncate(file.path, off_t(cut)) == 0)
        var failure: PcapError?
        do {
            while try packets.dispatch(limit: 100, { seen.append(Seen($0)) }) > 0 {}
        } catch {
            failure = error
        }
        let error = try #require(failure, "reading on past the new end did not fail")
        #expect(error.description.contains("shrank while it was being read"), "\(error)")
        #expect(seen.count <= record && seen.count >= 100, "\(seen.count) packets handed over, the file cut in packet \(record)")
        #expect(seen.allSatisfy { $0.bytes.count == 1_000 && $0.bytes.allSatisfy { $0 == 0x5A } && $0.seconds == 1_700_000_000 },
                "a packet with bytes from a vanished page was handed over")
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
