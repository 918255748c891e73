import WirelatCore
import WirelatIO

/// What `wirelat compare` is asked to do.
public struct CompareSettings: Sendable {
    public var host: String
    public var port: UInt16
    /// Rounds; each sends one probe of every method.
    public var count = 100
    public var intervalNanoseconds: UInt64 = 10_000_000
    public var timeoutNanoseconds: UInt64 = 1_000_000_000
    /// ICMP echo data bytes (ping's -s).
    public var payloadBytes = 56
    /// The clock of the first table's columns; the others follow in tables of their own.
    public var clock = ProbeClock.wire
    /// The listener's own protocol in place of a wirelat server's request/response.
    public var app: AppProtocolKind?

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
}

/// ICMP echo, SYN probe, connect and sync request/response against one host,
/// interleaved round-robin, one probe of each per round, so that whatever drifts
/// during the run (CPU frequency, other load, the path) hits every method alike.
///
/// A first round is sent and not counted: it pays for neighbour resolution (ARP, NDP)
/// and cold caches, which would otherwise land on whichever method goes first.
public enum CompareRun {
    public static func run(_ settings: CompareSettings, stop: StopSignal, say: (String) -> Void) throws(ProbeSetupError) -> CompareReport {
        let target = try ProbeTarget(host: settings.host, port: settings.port)
        var probers: [Prober] = []
        var notes: [String] = []

        do {
            probers.append(try ICMPProber(target: target, payloadBytes: settings.payloadBytes))
        } catch {
            notes.append("icmp-echo skipped: \(error.description)")
        }
        do {
            probers.append(try SYNProber(target: target, port: settings.port))
        } catch {
            if case .privilege = error {
                notes.append("tcp-syn skipped: a SYN probe needs CAP_NET_RAW (run as root, or setcap cap_net_raw+ep wirelat)")
            } else {
                notes.append("tcp-syn skipped: \(error.description)")
            }
        }
        probers.append(ConnectProber(target: target, port: settings.port))
        if let app = settings.app {
            probers.append(app.prober(address: target.address.withPort(settings.port)))
            notes.append("\(app.rawValue): \(app.exchange); its TCP handshakes are not in its row")
        } else {
            do {
                probers.append(try RequestResponseProber(target: target, port: settings.port,
                                                         timeoutNanoseconds: settings.timeoutNanoseconds, stop: stop))
            } catch {
                notes.append("tcp-reqresp skipped: no wirelat server answered on port \(settings.port) (\(error.description))")
            }
        }

        say("wirelat compare \(target.text): \(settings.count) rounds of \(probers.map(\.method.rawValue).joined(separator: ", ")), one of each per round, a round every \(formatDuration(.nanoseconds(Int64(clamping: settings.intervalNanoseconds))))\n")
        for n in notes { say("note: \(n)\n") }

        var replies = [[ProbeReply]](repeating: [], count: probers.count)
        var interrupted = false
        var rounds = 0
        let start = monotonicNanoseconds()
        roundLoop: for round in 0...settings.count {
            if round > 0 {
                let due = start &+ UInt64(round) &* settings.intervalNanoseconds
                if !probeSleep(until: due, stop: stop) {
                    interrupted = true
                    break
                }
            }
            for (i, prober) in probers.enumerated() {
                switch prober.probe(index: round, timeoutNanoseconds: settings.timeoutNanoseconds, stop: stop) {
                case .interrupted:
                    interrupted = true
                    break roundLoop
                case .reply(let r):
                    if round > 0 { replies[i].append(r) }
                }
            }
            if round > 0 { rounds += 1 }
        }
        for p in probers { p.finish() }
        if interrupted { notes.append("interrupted after \(rounds) of \(settings.count) rounds") }
        notes.append("round 0 was sent and not counted (neighbour resolution, cold caches)")
        let rows = zip(probers, replies).map { prober, r in
            CompareMethodReport(method: prober.method, target: prober.method == .icmpEcho ? target.host : target.text, replies: r)
        }
        return CompareReport(target: target.text, rounds: rounds, intervalNanoseconds: settings.intervalNanoseconds,
                             methods: rows, notes: notes, clock: settings.clock)
    }
}
