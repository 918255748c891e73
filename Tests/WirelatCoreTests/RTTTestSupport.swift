import Foundation
import Testing
import WirelatCore
import WirelatTestSupport

/// One end of a hand-built TCP or ICMP exchange: an IPv4 or IPv6 address and a port.
struct RTTEndpoint {
    var address: [UInt8]
    var port: UInt16

    init(_ text: String, _ port: UInt16 = 0) {
        address = RTTWire.parseAddress(text)
        self.port = port
    }

    var isIPv6: Bool { address.count == 16 }
}

/// Builds raw IPv4/IPv6 frames (LINKTYPE_RAW) carrying TCP or ICMP echo, with correct
/// lengths and checksums, so the engine sees them exactly as decoded from a capture.
enum RTTWire {
    static let linkType = LinkType.rawLinkType

    static func parseAddress(_ text: String) -> [UInt8] {
        if !text.contains(":") {
            let parts = text.split(separator: ".").map { UInt8($0)! }
            precondition(parts.count == 4, "bad IPv4 address \(text)")
            return parts
        }
        let halves = text.components(separatedBy: "::")
        func groups(_ s: String) -> [UInt16] { s.isEmpty ? [] : s.split(separator: ":").map { UInt16($0, radix: 16)! } }
        let head = groups(halves[0])
        let tail = halves.count > 1 ? groups(halves[1]) : []
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8(truncatingIfNeeded: $0)] }
    }

    /// A TCP segment from `source` to `destination` with `payload` zero bytes of data and
    /// the given options (Timestamps as TSval/TSecr, SACK blocks, MSS).
    static func tcp(_ source: RTTEndpoint, _ destination: RTTEndpoint, seq: UInt32, ack: UInt32 = 0,
                    flags: TCPFlags = [.ack], payload: Int = 0, window: UInt16 = 65_535,
                    timestamps: (UInt32, UInt32)? = nil, sack: [(UInt32, UInt32)] = [], mss: UInt16? = nil) -> [UInt8] {
        var options: [UInt8] = []
        if let mss { options += [2, 4, UInt8(mss >> 8), UInt8(truncatingIfNeeded: mss)] }
        if let (value, echo) = timestamps {
            options += [1, 1, 8, 10] + be32(value) + be32(echo)
        }
        if !sack.isEmpty {
            options += [1, 1, 5, UInt8(2 + 8 * sack.count)]
            for (left, right) in sack { options += be32(left) + be32(right) }
        }
        while options.count % 4 != 0 { options.append(0) }
        let headerLength = 20 + options.count
        var segment: [UInt8] = be16(source.port) + be16(destination.port) + be32(seq) + be32(ack)
        segment += [UInt8(headerLength / 4) << 4, flags.rawValue] + be16(window) + [0, 0, 0, 0]
        segment += options + [UInt8](repeating: 0x61, count: payload)
        let sum = checksum(pseudoHeader(source, destination, protocolNumber: 6, length: segment.count) + segment)
        segment[16] = UInt8(sum >> 8)
        segment[17] = UInt8(truncatingIfNeeded: sum)
        return ip(source, destination, protocolNumber: 6, payload: segment)
    }

    /// An ICMP (IPv4) or ICMPv6 echo request or reply.
    static func echo(_ source: RTTEndpoint, _ destination: RTTEndpoint, request: Bool, identifier: UInt16,
                     sequence: UInt16, payload: Int = 56) -> [UInt8] {
        let v6 = source.isIPv6
        let type: UInt8 = v6 ? (request ? 128 : 129) : (request ? 8 : 0)
        var message: [UInt8] = [type, 0, 0, 0] + be16(identifier) + be16(sequence)
        message += [UInt8](repeating: 0x42, count: payload)
        let covered = v6 ? pseudoHeader(source, destination, protocolNumber: 58, length: message.count) + message : message
        let sum = checksum(covered)
        message[2] = UInt8(sum >> 8)
        message[3] = UInt8(truncatingIfNeeded: sum)
        return ip(source, destination, protocolNumber: v6 ? 58 : 1, payload: message)
    }

    static func ip(_ source: RTTEndpoint, _ destination: RTTEndpoint, protocolNumber: UInt8, payload: [UInt8]) -> [UInt8] {
        if source.isIPv6 {
            return [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [protocolNumber, 64] + source.address
                + destination.address + payload
        }
        var header: [UInt8] = [0x45, 0] + be16(UInt16(20 + payload.count)) + [0x12, 0x34, 0x40, 0x00, 64, protocolNumber, 0, 0]
        header += source.address + destination.address
        let sum = checksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(truncatingIfNeeded: sum)
        return header + payload
    }

    static func pseudoHeader(_ source: RTTEndpoint, _ destination: RTTEndpoint, protocolNumber: UInt8, length: Int) -> [UInt8] {
        if source.isIPv6 {
            return source.address + destination.address + be32(UInt32(length)) + [0, 0, 0, protocolNumber]
        }
        return source.address + destination.address + [0, protocolNumber] + be16(UInt16(length))
    }

    /// RFC 1071 Internet checksum.
    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
}

/// Collects the engine's samples; the engine's callback is not escaping to another thread.
final class RTTSampleBox: @unchecked Sendable {
    var samples: [RTTSample] = []
}

/// An engine fed hand-built frames at chosen times (microseconds since an arbitrary
/// epoch), keeping every frame so the same sequence can be written as a pcap file.
struct RTTHarness {
    var engine: RTTEngine
    let box = RTTSampleBox()
    var frames: [(timeNanoseconds: Int64, bytes: [UInt8])] = []
    static let epochNanoseconds: Int64 = 1_700_000_000_000_000_000

    init(_ configuration: RTTConfiguration = RTTConfiguration()) {
        let box = self.box
        engine = RTTEngine(configuration: configuration) { box.samples.append($0) }
    }

    mutating func feed(_ frame: [UInt8], at microseconds: Int64) {
        feed(frame, nanoseconds: Self.epochNanoseconds + microseconds * 1000)
    }

    mutating func feed(_ frame: [UInt8], nanoseconds: Int64) {
        frames.append((nanoseconds, frame))
        frame.withUnsafeBytes { raw in
            let decoded = PacketDecoder.decode(raw, linkType: RTTWire.linkType)
            engine.process(decoded, frame: raw, timeNanoseconds: nanoseconds)
        }
    }

    var samples: [RTTSample] { box.samples }

    func samples(_ method: RTTMethod) -> [RTTSample] { box.samples.filter { $0.method == method } }

    /// RTTs of `method` in microseconds, in the order found.
    func microseconds(_ method: RTTMethod) -> [UInt64] { samples(method).map { $0.rttNanoseconds / 1000 } }
}

/// Writes classic pcap with nanosecond timestamps (magic a1b23c4d), LINKTYPE_RAW.
enum RTTPcapWriter {
    static func file(_ frames: [(timeNanoseconds: Int64, bytes: [UInt8])], linkType: LinkType = RTTWire.linkType) -> [UInt8] {
        var out: [UInt8] = []
        func le32(_ v: UInt32) {
            out += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
                    UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)]
        }
        le32(0xA1B2_3C4D)
        out += [2, 0, 4, 0]
        le32(0)
        le32(0)
        le32(262_144)
        le32(linkType.rawValue)
        for (time, bytes) in frames {
            le32(UInt32(time / 1_000_000_000))
            le32(UInt32(time % 1_000_000_000))
            le32(UInt32(bytes.count))
            le32(UInt32(bytes.count))
            out += bytes
        }
        return out
    }
}

/// Running external tools (tshark, tcpdump) for the comparison tests.
enum RTTTools {
    static func path(_ name: String) -> String? {
        for directory in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var haveTshark: Bool { path("tshark") != nil && path("python3") != nil }

    static var canCaptureLoopback: Bool {
        haveTshark && path("tcpdump") != nil && path("ping") != nil && getuid() == 0
    }

    /// Starts `tool` in the background (standard output and error discarded).
    static func start(_ tool: String, _ arguments: [String]) throws -> TestChild {
        try TestChild(tool, arguments)
    }

    /// Runs a tool to completion (at most 60 s) and returns its standard output; throws with
    /// its standard error when it fails.
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        guard let result = try TestChild.output(tool, arguments, timeout: .seconds(60)) else {
            throw TestFailure("\(tool) \(arguments.joined(separator: " ")) did not finish within 60 s")
        }
        guard result.termination.status == 0 && !result.termination.bySignal else {
            throw TestFailure("\(tool) \(arguments.joined(separator: " ")): \(result.termination)\n\(result.errors)")
        }
        return result.output
    }

    /// tshark's ack_rtt samples of a capture: (frame, acked frame, nanoseconds).
    static func tsharkAckRTT(_ file: String) throws -> [(frame: UInt64, acked: UInt64, nanoseconds: UInt64)] {
        let text = try run(path("tshark")!, ["-r", file, "-Y", "tcp.analysis.ack_rtt", "-T", "fields",
                                             "-e", "frame.number", "-e", "tcp.analysis.ack_rtt",
                                             "-e", "tcp.analysis.acks_frame"])
        return text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t").map(String.init)
            return (UInt64(fields[0])!, UInt64(fields[2])!, parseSeconds(fields[1]))
        }
    }

    /// "0.000014000" → 14 000 ns, exactly (no floating point).
    static func parseSeconds(_ text: String) -> UInt64 {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let seconds = UInt64(parts[0]) ?? 0
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        while fraction.count < 9 { fraction += "0" }
        return seconds * 1_000_000_000 + (UInt64(fraction.prefix(9)) ?? 0)
    }

    /// Every sample the engine finds in a capture file, fed frame by frame.
    static func engineSamples(_ bytes: [UInt8], configuration: RTTConfiguration) -> (samples: [RTTSample], engine: RTTEngine) {
        let box = RTTSampleBox()
        var engine = RTTEngine(configuration: configuration) { box.samples.append($0) }
        bytes.withUnsafeBytes { raw in
            guard var reader = try? PcapFileReader(bytes: raw) else { return }
            while let packet = try? reader.next() { engine.process(packet) }
        }
        return (box.samples, engine)
    }
}
