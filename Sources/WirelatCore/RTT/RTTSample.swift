/// A way of pairing packets seen on the wire into round trips (`wirelat capture --rtt`).
/// Every method measures from the capture point to the far end and back.
public enum RTTMethod: String, Codable, CaseIterable, Sendable {
    /// SYN → SYN-ACK, or SYN → RST for a closed port (RFC 9293 §3.5, §3.10.7.1).
    case handshake
    /// The last segment of a request → the first data segment of the answer.
    case reqresp
    /// A data segment → the ACK that acknowledges it, as tshark's `tcp.analysis.ack_rtt`.
    case ack
    /// A TSval → the first packet echoing it in TSecr (RFC 7323 §4), as pping.
    case tsecr
    /// ICMP echo request → echo reply (RFC 792, RFC 4443 §4).
    case icmp

    /// Which round trip the method times, for tables and reports.
    public var label: String {
        switch self {
        case .handshake: return "SYN→SYN-ACK RTT"
        case .reqresp: return "request→response RTT"
        case .ack: return "data→ACK RTT"
        case .tsecr: return "TSval→TSecr RTT"
        case .icmp: return "ICMP echo RTT"
        }
    }

    var index: Int {
        switch self {
        case .handshake: return 0
        case .reqresp: return 1
        case .ack: return 2
        case .tsecr: return 3
        case .icmp: return 4
        }
    }
}

/// How the ack method treats segments sent more than once.
public enum RTTAckRule: String, Codable, Sendable {
    /// Karn's algorithm (RFC 6298 §3, after Karn and Partridge): an ACK that covers any
    /// byte of a segment that did not advance its sender's sequence space (retransmitted,
    /// arrived out of order, keep-alive) yields no sample. Otherwise equal to `.tshark`.
    case karn
    /// Exactly tshark's `tcp.analysis.ack_rtt`, retransmissions included (the time then
    /// runs from the first transmission).
    case tshark
}

/// The two ends of a measured exchange, initiator first: the side whose packet started
/// the clock, then the side whose packet stopped it.
public struct RTTFlow: Hashable, Sendable, CustomStringConvertible {
    /// IP protocol number: 6 TCP, 1 ICMP, 58 ICMPv6.
    public var protocolNumber: UInt8
    public var initiator: IPAddress
    /// TCP port, or the echo identifier for ICMP.
    public var initiatorPort: UInt16
    public var responder: IPAddress
    public var responderPort: UInt16

    public init(protocolNumber: UInt8, initiator: IPAddress, initiatorPort: UInt16,
                responder: IPAddress, responderPort: UInt16) {
        self.protocolNumber = protocolNumber
        self.initiator = initiator
        self.initiatorPort = initiatorPort
        self.responder = responder
        self.responderPort = responderPort
    }

    /// `10.0.0.1:51332>10.0.0.2:7001`; IPv6 in brackets, `[fd00:77::1]:51332>[fd00:77::2]:7001`;
    /// ICMP without ports, `10.0.0.1>10.0.0.2 id 4660`.
    public var description: String {
        if protocolNumber == IPProtocolNumber.tcp {
            return Self.endpoint(initiator, initiatorPort) + ">" + Self.endpoint(responder, responderPort)
        }
        return "\(initiator)>\(responder) id \(initiatorPort)"
    }

    static func endpoint(_ address: IPAddress, _ port: UInt16) -> String {
        switch address {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }

    /// `tcp`, `icmp` or `icmpv6`.
    public var protocolName: String {
        switch protocolNumber {
        case IPProtocolNumber.tcp: return "tcp"
        case IPProtocolNumber.icmp: return "icmp"
        case IPProtocolNumber.icmpv6: return "icmpv6"
        default: return "\(protocolNumber)"
        }
    }
}

/// One round trip seen on the wire.
public struct RTTSample: Sendable, Equatable {
    public var method: RTTMethod
    /// Capture time of the packet that closed the round trip, nanoseconds since the epoch.
    public var timeNanoseconds: Int64
    public var rttNanoseconds: UInt64
    /// Initiator of the measured exchange → responder.
    public var flow: RTTFlow
    /// 1-based position, among the packets given to the engine, of the packet that
    /// started the clock (tshark's `tcp.analysis.acks_frame` for the ack method).
    public var openingPacketNumber: UInt64
    /// 1-based position of the packet that stopped it (tshark's `frame.number`).
    public var closingPacketNumber: UInt64

    public init(method: RTTMethod, timeNanoseconds: Int64, rttNanoseconds: UInt64, flow: RTTFlow,
                openingPacketNumber: UInt64, closingPacketNumber: UInt64) {
        self.method = method
        self.timeNanoseconds = timeNanoseconds
        self.rttNanoseconds = rttNanoseconds
        self.flow = flow
        self.openingPacketNumber = openingPacketNumber
        self.closingPacketNumber = closingPacketNumber
    }

    /// The `--samples` line (INTERFACE.md):
    /// `{"method":"ack","time_ns":…,"rtt_ns":15259,"flow":"10.0.0.1:51332>10.0.0.2:7001"}`.
    public var jsonLine: String {
        "{\"method\":\"\(method.rawValue)\",\"time_ns\":\(timeNanoseconds),\"rtt_ns\":\(rttNanoseconds),\"flow\":\"\(flow)\"}"
    }
}

/// Limits and rules of the round-trip engine. The defaults keep two million unanswered
/// SYNs from distinct flows well under 200 MB.
public struct RTTConfiguration: Sendable, Equatable {
    /// Flows kept at once; the least recently used is evicted to make room.
    public var maximumFlows = 100_000
    /// A flow with no packet for this long (capture time) is forgotten; pping's `flowMaxIdle`.
    public var flowIdleTimeoutNanoseconds: Int64 = 300_000_000_000
    /// Unacknowledged segments remembered per direction (ack method); tshark's
    /// `TCP_MAX_UNACKED_SEGMENTS`. Further segments are not tracked until ACKs drain the
    /// list, as in tshark. At most 65 535.
    public var maximumOutstandingSegments = 10_000
    /// TSvals waiting for their echo per direction (tsecr method).
    public var maximumOutstandingTimestamps = 64
    /// Echo requests waiting for their reply per ICMP flow; the oldest is given up.
    public var maximumOutstandingEchoes = 64
    /// All pending records together (segments, TSvals, echo requests), 32 bytes each.
    public var maximumPendingRecords = 1 << 20
    public var ackRule = RTTAckRule.karn
    /// Rows in the busiest-flows table.
    public var topFlows = 10

    public init() {}
}

/// Per-method counts of what could not become a sample.
public struct RTTMethodCounters: Codable, Sendable, Equatable {
    /// Requests that saw no answer: SYNs (handshake), open requests (reqresp), echo
    /// requests (icmp), counted when their flow ends in the table or at report time.
    public var unanswered: UInt64 = 0
    /// Answers that matched nothing: SYN-ACKs without a SYN, data from the responder with
    /// no open request, echo replies without a request.
    public var unmatched: UInt64 = 0
    /// Round trips not sampled because a retransmission made them ambiguous (Karn), or,
    /// for handshake, SYNs retransmitted (each restarts the clock).
    public var retransmissions: UInt64 = 0

    public init() {}
}

/// Whole-capture counters of the engine.
public struct RTTCounters: Codable, Sendable, Equatable {
    public var packets: UInt64 = 0
    /// Packets that were neither TCP nor ICMP/ICMPv6 echo, IP fragments, or undecodable.
    public var ignoredPackets: UInt64 = 0
    public var tcpSegments: UInt64 = 0
    public var icmpEchoes: UInt64 = 0
    /// Flows created, including those later evicted or expired.
    public var flows: UInt64 = 0
    /// Flows in the table now.
    public var activeFlows: UInt64 = 0
    /// Flows pushed out by a new one while the table was full (least recently used first).
    public var evicted: UInt64 = 0
    /// Flows forgotten after the idle timeout.
    public var expired: UInt64 = 0
    /// SYNs never answered by a SYN-ACK or RST (the handshake method's `unanswered`).
    public var unanswered: UInt64 = 0
    /// Answers that matched no request, all methods together.
    public var unmatched: UInt64 = 0
    /// TCP segments that resent bytes already seen (RFC 9293 §3.8.1 retransmission),
    /// keep-alives excluded.
    public var retransmissions: UInt64 = 0
    /// TCP segments that filled a hole below data already seen (reordered, or resent
    /// after a loss upstream of the capture point).
    public var outOfOrder: UInt64 = 0
    public var keepAlives: UInt64 = 0
    /// Segments not remembered for the ack method because a limit was reached.
    public var untrackedSegments: UInt64 = 0
    /// TSvals not remembered for the tsecr method because a limit was reached.
    public var untrackedTimestamps: UInt64 = 0
    /// TCP segments without the Timestamps option (RFC 7323 §3.2).
    public var withoutTimestamps: UInt64 = 0
    /// SYNs that started a new connection on a 4-tuple already in use (tshark's "TCP
    /// port numbers reused").
    public var reusedPorts: UInt64 = 0
    /// Pairs whose closing packet was not later than the opening one (equal capture
    /// times, or a clock step); tshark prints no ack_rtt for them either.
    public var nonPositive: UInt64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case packets, ignoredPackets = "ignored_packets", tcpSegments = "tcp_segments"
        case icmpEchoes = "icmp_echoes", flows, activeFlows = "active_flows", evicted, expired
        case unanswered, unmatched, retransmissions, outOfOrder = "out_of_order", keepAlives = "keep_alives"
        case untrackedSegments = "untracked_segments", untrackedTimestamps = "untracked_timestamps"
        case withoutTimestamps = "without_timestamps", reusedPorts = "reused_ports", nonPositive = "non_positive"
    }
}
