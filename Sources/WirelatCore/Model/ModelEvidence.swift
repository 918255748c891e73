import FoundationEssentials

/// What one JSON report tells the model.
///
/// - `client` (sync mode, one payload size): the request/response RTT and the
///   round trips per second of one connection, which is one serial stream of transactions.
/// - `client --sweep`: one point per payload size for the size fit; nothing else.
/// - `capture --rtt`: the `reqresp` RTT and, when the report carries
///   `average_payload_bytes` (top level or in the reqresp entry), the payload size.
public struct ModelEvidence: Equatable, Sendable {
    public enum Kind: String, Sendable, Codable {
        case client, clientSweep = "client-sweep", capture
    }

    /// An RTT measured at a known payload size.
    public struct RTTObservation: Equatable, Sendable {
        /// The network's share of the round trip: the mean, less the server's think time
        /// and fsync time when the report shows them.
        public var rttNanoseconds: Double
        public var samples: UInt64
        /// The payload the round trips carried; nil when the report does not say.
        public var payloadBytes: Double?
    }

    /// Transactions per second of one serial stream, over `seconds`.
    public struct TPSObservation: Equatable, Sendable {
        public var tps: Double
        public var seconds: Double
    }

    public var name: String
    public var kind: Kind
    public var target: String
    public var rtt: RTTObservation?
    public var tps: TPSObservation?
    /// Sweep points, by statistic.
    public var sweepP50: [SizePoint] = []
    public var sweepMean: [SizePoint] = []
    public var averagePayloadBytes: Double?
    /// Σ bytes / Σ packets of the capture's busiest flows: IP packet size, headers
    /// included, as tcpstat's `%a` counts it on Ethernet. Context, not a payload size.
    public var averagePacketBytes: Double?
    /// What was read and what was taken out, in plain words.
    public var notes: [String] = []

    public func sweep(_ statistic: FitStatistic) -> [SizePoint] {
        statistic == .p50 ? sweepP50 : sweepMean
    }

    /// Reads one report. `name` is how errors refer to it (the file name).
    public static func read(_ data: Data, name: String) throws(ModelError) -> ModelEvidence {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            throw ModelError("\(name) is empty: give a JSON report written by wirelat client --json or capture --rtt --json")
        }
        let command: String
        do {
            let header = try JSONDecoder().decode(ReportHeader.self, from: data)
            guard let c = header.command else {
                throw ModelError("\(name) has no \"command\" key: it is not a wirelat JSON report")
            }
            command = c
        } catch let error as ModelError {
            throw error
        } catch {
            throw ModelError("\(name) is not a JSON object: \(decodingProblem(error))")
        }
        switch command {
        case "client":
            let report: ClientSlice
            do {
                report = try JSONDecoder().decode(ClientSlice.self, from: data)
            } catch {
                throw ModelError("\(name) is a client report without the keys model needs: \(decodingProblem(error))")
            }
            return try clientEvidence(report, name: name)
        case "capture":
            let report: CaptureSlice
            do {
                report = try JSONDecoder().decode(CaptureSlice.self, from: data)
            } catch {
                throw ModelError("\(name) is a capture report without the keys model needs: \(decodingProblem(error))")
            }
            return try captureEvidence(report, name: name)
        default:
            throw ModelError("\(name) is a \(command) report; model reads client (sync mode, --sweep) and capture --rtt reports")
        }
    }

    private static func clientEvidence(_ report: ClientSlice, name: String) throws(ModelError) -> ModelEvidence {
        guard report.mode == "sync" else {
            throw ModelError("\(name) is a client report in \(report.mode) mode: its RTT is request→acknowledgement, not a transaction's round trip; measure with --mode sync")
        }
        var evidence = ModelEvidence(name: name, kind: .client, target: report.target)
        if let sweep = report.sweep, !sweep.isEmpty {
            evidence.kind = .clientSweep
            for point in sweep {
                guard point.samples > 0 else {
                    throw ModelError("\(name): the sweep's \(point.length)-byte test holds no round trips (samples 0)")
                }
                let p50 = try networkRTT(point, statistic: .p50, name: name)
                let mean = try networkRTT(point, statistic: .mean, name: name)
                evidence.sweepP50.append(SizePoint(payloadBytes: Double(point.length), rttNanoseconds: p50.rtt, samples: point.samples))
                evidence.sweepMean.append(SizePoint(payloadBytes: Double(point.length), rttNanoseconds: mean.rtt, samples: point.samples))
                if let note = p50.note, !evidence.notes.contains(note) { evidence.notes.append(note) }
            }
            evidence.notes.insert("\(name): a sweep of \(sweep.count) payload sizes (\(sweep.map { String($0.length) }.joined(separator: ", ")) bytes) to \(report.target)", at: 0)
            return evidence
        }
        guard report.samples > 0 else {
            throw ModelError("\(name) holds no round trips (samples 0): the client test did not run")
        }
        let rtt = try networkRTT(report, statistic: .mean, name: name)
        evidence.rtt = RTTObservation(rttNanoseconds: rtt.rtt, samples: report.samples, payloadBytes: Double(report.length))
        let connections = max(1, report.connections)
        let perConnection = report.roundtripsPerSecond / Double(connections)
        if perConnection.isFinite, perConnection > 0 {
            evidence.tps = TPSObservation(tps: perConnection, seconds: max(report.durationSeconds, 1e-9))
        }
        var note = "\(name): TCP request/response RTT \(formatMilliseconds(rtt.rtt)) ms (mean) and \(formatFixed(perConnection, 1)) round trips/s"
        note += connections > 1 ? " per connection (\(formatFixed(report.roundtripsPerSecond, 1)) over \(connections) connections)" : ""
        note += " to \(report.target), \(report.length)-byte payload"
        evidence.notes.append(note)
        if let extra = rtt.note { evidence.notes.append(extra) }
        return evidence
    }

    /// The round trip less what the server reported spending on it (think time, fsync).
    /// With `--rate`, the plain service time, not the coordinated-omission-corrected latency.
    private static func networkRTT(_ report: ClientSlice, statistic: FitStatistic,
                                   name: String) throws(ModelError) -> (rtt: Double, note: String?) {
        let summary = report.serviceTime ?? report.rtt
        var rtt = statistic == .p50 ? summary.p50 : summary.mean
        var taken: [String] = []
        if let server = report.server {
            if server.thinkTimeNanoseconds > 0 {
                rtt -= Double(server.thinkTimeNanoseconds)
                taken.append("the server's think time \(formatMilliseconds(Double(server.thinkTimeNanoseconds))) ms")
            }
            if server.diskWrite == true, let fsync = server.fsyncMeanNanoseconds, fsync > 0 {
                rtt -= Double(fsync)
                taken.append("its mean fsync \(formatMilliseconds(Double(fsync))) ms")
            }
        }
        guard rtt.isFinite, rtt >= 0 else {
            throw ModelError("\(name) is inconsistent: its round trip is shorter than the server's reported think and fsync time")
        }
        let note = taken.isEmpty ? nil : "\(name): \(taken.joined(separator: " and ")) subtracted from each round trip (processing, not network)"
        return (rtt, note)
    }

    private static func captureEvidence(_ report: CaptureSlice, name: String) throws(ModelError) -> ModelEvidence {
        guard let methods = report.methods else {
            throw ModelError("\(name) is a capture report without RTT methods: write it with capture --rtt --json")
        }
        guard let reqresp = methods.first(where: { $0.method == "reqresp" }), reqresp.samples > 0, let summary = reqresp.rtt else {
            throw ModelError("\(name) holds no request/response round trips (reqresp samples 0): capture the sync exchange itself, e.g. with the filter port 1521")
        }
        var evidence = ModelEvidence(name: name, kind: .capture, target: report.target ?? name)
        let payload = reqresp.averagePayloadBytes ?? report.averagePayloadBytes
        if let payload, !(payload.isFinite && payload >= 0) {
            throw ModelError("\(name): average_payload_bytes must be zero or more, not \(payload)")
        }
        evidence.rtt = RTTObservation(rttNanoseconds: summary.mean, samples: reqresp.samples, payloadBytes: payload)
        evidence.averagePayloadBytes = payload
        var note = "\(name): TCP request/response RTT \(formatMilliseconds(summary.mean)) ms (capture reqresp, mean of \(reqresp.samples)) on \(evidence.target)"
        if let payload { note += ", average payload \(formatFixed(payload, 1)) bytes" }
        evidence.notes.append(note)
        evidence.notes.append("\(name): reqresp includes the responder's time for each request, so it is the network's round trip only when the responder answers at once (wirelat server, oratcptest) and the capture ran on the client's host")
        if let flows = report.topFlows, !flows.isEmpty {
            let packets = flows.reduce(0.0) { $0 + Double($1.packets) }
            let bytes = flows.reduce(0.0) { $0 + Double($1.bytes) }
            if packets > 0 {
                evidence.averagePacketBytes = bytes / packets
                evidence.notes.append("\(name): average packet \(formatFixed(bytes / packets, 1)) bytes (IP, headers included, as tcpstat's %a) over the \(flows.count) busiest flow\(flows.count == 1 ? "" : "s")")
            }
        }
        return evidence
    }

    private static func decodingProblem(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "no \"\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))\" key"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

// The parts of the reports the model reads; everything else in them is ignored.

private struct ReportHeader: Decodable {
    var command: String?
}

private struct SummarySlice: Decodable {
    var mean: Double
    var p50: Double
}

private struct ServerSlice: Decodable {
    var thinkTimeNanoseconds: UInt64
    var diskWrite: Bool?
    var fsyncMeanNanoseconds: Double?

    enum CodingKeys: String, CodingKey {
        case thinkTimeNanoseconds = "think_time_ns", diskWrite = "disk_write", fsyncMeanNanoseconds = "fsync_mean_ns"
    }
}

private struct ClientSlice: Decodable {
    var mode: String
    var target: String
    var length: Int
    var connections: Int
    var samples: UInt64
    var rtt: SummarySlice
    var serviceTime: SummarySlice?
    var roundtripsPerSecond: Double
    var durationSeconds: Double
    var server: ServerSlice?
    var sweep: [ClientSlice]?

    enum CodingKeys: String, CodingKey {
        case mode, target, length, connections, samples, rtt = "rtt_ns", serviceTime = "service_time_ns"
        case roundtripsPerSecond = "roundtrips_per_s", durationSeconds = "duration_s", server, sweep
    }
}

private struct CaptureMethodSlice: Decodable {
    var method: String
    var samples: UInt64
    var rtt: SummarySlice?
    var averagePayloadBytes: Double?

    enum CodingKeys: String, CodingKey {
        case method, samples, rtt = "rtt_ns", averagePayloadBytes = "average_payload_bytes"
    }
}

private struct FlowSlice: Decodable {
    var packets: UInt64
    var bytes: UInt64
}

private struct CaptureSlice: Decodable {
    var target: String?
    var methods: [CaptureMethodSlice]?
    var averagePayloadBytes: Double?
    var topFlows: [FlowSlice]?

    enum CodingKeys: String, CodingKey {
        case target, methods, averagePayloadBytes = "average_payload_bytes", topFlows = "top_flows"
    }
}

