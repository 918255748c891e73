import Foundation

// The arithmetic of the oratcptest note's worked example, and the reports that feed it.
//
// A transaction that makes `roundtrips` round trips of `RTT` each, and completes `TPS`
// times a second one after another, spends per transaction
//
//     processing = (1 s − RTT × roundtrips × TPS) / TPS
//
// outside network transit (application, database, client and kernel time), and at
// another RTT it would complete
//
//     TPS' = 1 s / (processing + RTT' × roundtrips)
//
// transactions a second. Every time here is in nanoseconds, as a Double.

/// Why `wirelat model` cannot go on: one line, naming the input and what to do.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

// MARK: - The arithmetic

/// The transaction model of the oratcptest note: a serial stream of transactions,
/// each `processing + roundtrips × RTT` long.
public enum TransactionModel {
    public static let nanosecondsPerSecond = 1e9

    /// Time per transaction outside the network: (1 s − RTT × roundtrips × TPS) / TPS.
    ///
    /// Refuses a negative or non-finite RTT, a TPS or round-trip count that is not
    /// positive, and inputs whose network time alone fills the second
    /// (RTT × roundtrips × TPS ≥ 1 s).
    public static func processingNanoseconds(rttNanoseconds rtt: Double, tps: Double,
                                             roundtrips: Double = 1) throws(ModelError) -> Double {
        guard rtt.isFinite, rtt >= 0 else { throw ModelError("the RTT must be zero or more, not \(formatMilliseconds(rtt)) ms") }
        guard tps.isFinite, tps > 0 else { throw ModelError("the TPS must be more than 0, not \(formatNumber(tps))") }
        guard roundtrips.isFinite, roundtrips > 0 else {
            throw ModelError("--roundtrips must be more than 0, not \(formatNumber(roundtrips))")
        }
        let networkPerSecond = rtt * roundtrips * tps
        guard networkPerSecond < nanosecondsPerSecond else {
            throw ModelError(
                "impossible: \(formatMilliseconds(rtt)) ms × \(formatNumber(roundtrips)) round trip\(roundtrips == 1 ? "" : "s") × \(formatNumber(tps)) TPS is \(formatFixed(networkPerSecond / 1e9, 3)) s of network time per second; RTT × roundtrips × TPS must stay under 1 s (check the units: --rtt 685us is 0.685 ms)")
        }
        return (nanosecondsPerSecond - networkPerSecond) / tps
    }

    /// Transactions per second at another RTT: 1 s / (processing + RTT × roundtrips).
    public static func tps(processingNanoseconds processing: Double, rttNanoseconds rtt: Double,
                           roundtrips: Double = 1) -> Double {
        nanosecondsPerSecond / (processing + rtt * roundtrips)
    }

    /// The fraction of each transaction spent in network transit: RTT × roundtrips × TPS / 1 s.
    public static func networkShare(rttNanoseconds rtt: Double, tps: Double, roundtrips: Double = 1) -> Double {
        rtt * roundtrips * tps / nanosecondsPerSecond
    }
}

// MARK: - RTT against payload size

/// Which statistic of each sweep point the size fit uses.
public enum FitStatistic: String, Codable, Sendable, CaseIterable {
    /// The median round trip: a stall of the scheduler in one run does not tilt the line.
    case p50
    /// The mean round trip: what the throughput arithmetic sees, outliers included.
    case mean
}

/// One payload size of a `client --sweep` report.
public struct SizePoint: Codable, Equatable, Sendable {
    /// The request's payload (`--length`); the request carries 12 bytes more, the reply is 4 bytes.
    public var payloadBytes: Double
    public var rttNanoseconds: Double
    public var samples: UInt64

    public init(payloadBytes: Double, rttNanoseconds: Double, samples: UInt64 = 0) {
        self.payloadBytes = payloadBytes
        self.rttNanoseconds = rttNanoseconds
        self.samples = samples
    }

    enum CodingKeys: String, CodingKey {
        case payloadBytes = "payload_bytes", rttNanoseconds = "rtt_ns", samples
    }
}

/// RTT(payload) = base + payload × per-byte cost, by ordinary least squares, each
/// sweep point counting once.
///
/// The x axis is the request's payload (`client --length`), so `base` is the round trip
/// of a request with no payload: its 12-byte header and the 4-byte reply still cross.
/// Fitted against the request's 12 + length bytes instead, the slope is the same and the
/// intercept is `base − 12 × perByte`. The bandwidth the line implies, 1 / per-byte cost,
/// is the rate at which the extra request bytes cross: one direction's payload.
public struct SizeFit: Equatable, Sendable {
    public var baseNanoseconds: Double
    public var perByteNanoseconds: Double
    /// Coefficient of determination, 1 − SS_res / SS_tot; 1 when the points lie on the line.
    public var rSquared: Double
    public var statistic: FitStatistic
    public var points: [SizePoint]

    /// Bytes per second the per-byte cost implies; nil unless the cost is positive.
    public var bandwidthBytesPerSecond: Double? {
        perByteNanoseconds > 0 ? TransactionModel.nanosecondsPerSecond / perByteNanoseconds : nil
    }

    public func rttNanoseconds(payloadBytes: Double) -> Double {
        baseNanoseconds + payloadBytes * perByteNanoseconds
    }

    /// Fits the line through `points`; needs two or more distinct payload sizes.
    public static func leastSquares(_ points: [SizePoint], statistic: FitStatistic = .p50) throws(ModelError) -> SizeFit {
        guard let first = points.first, points.contains(where: { $0.payloadBytes != first.payloadBytes }) else {
            throw ModelError("a size fit needs a sweep of two or more payload sizes, e.g. client --sweep 0,1000,8000")
        }
        let n = Double(points.count)
        let meanX = points.reduce(0) { $0 + $1.payloadBytes } / n
        let meanY = points.reduce(0) { $0 + $1.rttNanoseconds } / n
        var sxx = 0.0, sxy = 0.0, syy = 0.0
        for p in points {
            let dx = p.payloadBytes - meanX, dy = p.rttNanoseconds - meanY
            sxx += dx * dx
            sxy += dx * dy
            syy += dy * dy
        }
        let slope = sxy / sxx
        let intercept = meanY - slope * meanX
        var residual = 0.0
        for p in points {
            let e = p.rttNanoseconds - (intercept + slope * p.payloadBytes)
            residual += e * e
        }
        // Relative to the spread of the RTTs; a residual at rounding level is an exact fit.
        let exact = residual <= 1e-18 * max(syy, meanY * meanY)
        let r2 = exact ? 1 : (syy > 0 ? max(0, 1 - residual / syy) : 0)
        return SizeFit(baseNanoseconds: intercept, perByteNanoseconds: slope, rSquared: r2, statistic: statistic,
                       points: points)
    }
}

// MARK: - What a report contributes

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
            if let underlying = context.underlyingError as NSError? {
                return underlying.userInfo[NSDebugDescriptionErrorKey] as? String ?? "not valid JSON"
            }
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

// MARK: - Putting it together

/// What `wirelat model` was given: options first, reports to fill the gaps.
public struct ModelInput: Sendable {
    /// `--rtt`: the round trip of a bare exchange (ping, SYN probe, `client --length 0`).
    public var rttNanoseconds: Double?
    /// `--tps`: transactions per second measured at that RTT.
    public var tps: Double?
    /// `--roundtrips`: network round trips per transaction.
    public var roundtrips: Double = 1
    /// `--payload`: the workload's request payload, for the size fit.
    public var payloadBytes: Double?
    /// `--predict`: bare round trips of other networks.
    public var predictNanoseconds: [Double] = []
    public var fitStatistic: FitStatistic = .p50
    /// `--from`, in the order given.
    public var evidence: [ModelEvidence] = []

    public init(rttNanoseconds: Double? = nil, tps: Double? = nil, roundtrips: Double = 1, payloadBytes: Double? = nil,
                predictNanoseconds: [Double] = [], fitStatistic: FitStatistic = .p50, evidence: [ModelEvidence] = []) {
        self.rttNanoseconds = rttNanoseconds
        self.tps = tps
        self.roundtrips = roundtrips
        self.payloadBytes = payloadBytes
        self.predictNanoseconds = predictNanoseconds
        self.fitStatistic = fitStatistic
        self.evidence = evidence
    }
}

/// TPS at one other network.
public struct ModelPrediction: Equatable, Sendable {
    /// The bare round trip of that network, as given.
    public var rttNanoseconds: Double
    /// The round trip the workload would see there: the bare RTT plus the payload's
    /// per-byte cost when a size fit and a payload are known; otherwise the same.
    public var rttAtPayloadNanoseconds: Double
    public var tps: Double
    /// tps / measured TPS − 1.
    public var change: Double
}

/// The JSON report of `wirelat model` and everything the text and page show.
public struct ModelReport: Equatable, Sendable {
    public var command = "model"
    /// The round trip per network exchange the arithmetic used (payload cost included).
    public var rttNanoseconds: Double
    /// Which round trip `rttNanoseconds` is, and where it came from.
    public var rttSource: String
    public var tps: Double
    public var tpsSource: String
    public var roundtrips: Double
    public var processingNanoseconds: Double
    /// RTT × roundtrips × TPS / 1 s.
    public var networkShare: Double
    /// 1 s / processing: TPS with no network time at all.
    public var tpsCeiling: Double
    public var predictions: [ModelPrediction]
    public var fit: SizeFit?
    public var fitTarget: String?
    /// The workload's request payload and where it came from.
    public var payloadBytes: Double?
    public var payloadSource: String?
    /// The RTT as measured, before moving it along the size fit to `payloadBytes`.
    public var measuredRTTNanoseconds: Double
    public var measuredPayloadBytes: Double?
    public var sources: [ModelSource]
    public var notes: [String]
    public var conclusion: String

    public var transactionNanoseconds: Double { TransactionModel.nanosecondsPerSecond / tps }
    public var networkNanosecondsPerTransaction: Double { rttNanoseconds * roundtrips }

    /// The network's RTT with no payload: what `--predict` values are compared with.
    public var bareRTTNanoseconds: Double {
        guard let fit, let payloadBytes else { return rttNanoseconds }
        return rttNanoseconds - payloadBytes * fit.perByteNanoseconds
    }

    /// Runs the model. Options win over reports; see docs/MEASURING.md, "Combining reports".
    public static func make(_ input: ModelInput) throws(ModelError) -> ModelReport {
        let evidence = input.evidence
        guard input.roundtrips.isFinite, input.roundtrips > 0 else {
            throw ModelError("--roundtrips must be more than 0, not \(formatNumber(input.roundtrips))")
        }
        if let p = input.payloadBytes, !(p.isFinite && p >= 0) {
            throw ModelError("--payload must be zero or more bytes")
        }
        for d in input.predictNanoseconds where !(d.isFinite && d >= 0) {
            throw ModelError("--predict RTTs must be zero or more")
        }

        // The size fit: every sweep point of every sweep report, to one target.
        let sweeps = evidence.filter { $0.kind == .clientSweep }
        var fit: SizeFit?
        var fitTarget: String?
        if let first = sweeps.first {
            if let other = sweeps.first(where: { $0.target != first.target }) {
                throw ModelError("\(first.name) swept \(first.target) but \(other.name) swept \(other.target): one size fit needs sweeps of one network path")
            }
            fit = try SizeFit.leastSquares(sweeps.flatMap { $0.sweep(input.fitStatistic) }, statistic: input.fitStatistic)
            fitTarget = first.target
        }

        if input.payloadBytes != nil && fit == nil {
            throw ModelError("--payload needs a size fit: add --from with a client --sweep report")
        }

        // The RTT as measured, and the payload it was measured at.
        let measured: Double
        var measuredPayload: Double?
        var rttSource: String
        let rttObservations = evidence.compactMap { e in e.rtt.map { (e.name, $0) } }
        if let rtt = input.rttNanoseconds {
            guard rtt.isFinite, rtt >= 0 else { throw ModelError("the RTT must be zero or more, not \(formatMilliseconds(rtt)) ms") }
            measured = rtt
            measuredPayload = 0
            rttSource = "full round trip, from --rtt"
        } else if !rttObservations.isEmpty {
            let total = rttObservations.reduce(0.0) { $0 + Double($1.1.samples) }
            measured = rttObservations.reduce(0.0) { $0 + $1.1.rttNanoseconds * Double($1.1.samples) } / total
            if rttObservations.allSatisfy({ $0.1.payloadBytes != nil }) {
                measuredPayload = rttObservations.reduce(0.0) { $0 + ($1.1.payloadBytes ?? 0) * Double($1.1.samples) } / total
            }
            let names = rttObservations.map(\.0).joined(separator: ", ")
            rttSource = "TCP request/response RTT, mean" + (rttObservations.count > 1 ? " of \(names) weighted by samples" : " from \(names)")
        } else if let fit {
            measured = fit.baseNanoseconds
            measuredPayload = 0
            rttSource = "TCP request/response RTT with no payload, the size fit's base"
            guard measured >= 0 else {
                throw ModelError("the size fit's base RTT is negative (\(formatMilliseconds(measured)) ms): the sweep is too noisy to stand for the RTT; give --rtt")
            }
        } else {
            throw ModelError("nothing gives the RTT: pass --rtt D, or --from a client or capture --rtt report")
        }

        // The workload's payload: --payload, a capture's average payload, or what the RTT was measured at.
        var payload: Double?
        var payloadSource: String?
        if let p = input.payloadBytes {
            payload = p
            payloadSource = "--payload"
        } else {
            let captures = evidence.filter { $0.kind == .capture && $0.averagePayloadBytes != nil }
            if !captures.isEmpty {
                let total = captures.reduce(0.0) { $0 + Double($1.rtt?.samples ?? 1) }
                payload = captures.reduce(0.0) { $0 + ($1.averagePayloadBytes ?? 0) * Double($1.rtt?.samples ?? 1) } / total
                payloadSource = "average payload of " + captures.map(\.name).joined(separator: ", ")
            } else if fit != nil, let m = measuredPayload {
                payload = m
                payloadSource = "the payload the RTT was measured at"
            }
        }

        var rtt = measured
        if let fit, let payload {
            rtt = measured + (payload - (measuredPayload ?? payload)) * fit.perByteNanoseconds
            if input.rttNanoseconds == nil && rttObservations.isEmpty {
                rttSource = "TCP request/response RTT at a \(formatNumber(payload))-byte payload, from the size fit"
            } else if rtt != measured {
                rttSource += ", moved along the size fit from \(formatNumber(measuredPayload ?? 0)) to \(formatNumber(payload)) payload bytes"
            }
            guard rtt >= 0 else {
                throw ModelError("the size fit puts the RTT at \(formatNumber(payload)) payload bytes below zero (\(formatMilliseconds(rtt)) ms): the sweep is too noisy for this payload")
            }
        }

        // TPS: --tps, or the client reports' round trips per second of one connection, weighted by duration.
        let tps: Double
        let tpsSource: String
        let tpsObservations = evidence.compactMap { e in e.tps.map { (e.name, $0) } }
        if let t = input.tps {
            tps = t
            tpsSource = "--tps"
        } else if !tpsObservations.isEmpty {
            let seconds = tpsObservations.reduce(0.0) { $0 + $1.1.seconds }
            tps = tpsObservations.reduce(0.0) { $0 + $1.1.tps * $1.1.seconds } / seconds
            tpsSource = "round trips/s of one connection, " + tpsObservations.map(\.0).joined(separator: ", ")
                + (tpsObservations.count > 1 ? " weighted by duration" : "")
        } else {
            throw ModelError("nothing gives the TPS: pass --tps N (transactions per second measured at this RTT), or --from a client report")
        }

        let processing = try TransactionModel.processingNanoseconds(rttNanoseconds: rtt, tps: tps, roundtrips: input.roundtrips)
        let share = TransactionModel.networkShare(rttNanoseconds: rtt, tps: tps, roundtrips: input.roundtrips)
        let payloadCost = fit.map { (payload ?? 0) * $0.perByteNanoseconds } ?? 0
        let bare = rtt - payloadCost
        var predictAt = input.predictNanoseconds
        if predictAt.isEmpty {
            predictAt = bare > 0 ? [bare / 2, bare * 2] : [0]
        }
        let predictions = predictAt.map { d -> ModelPrediction in
            let effective = max(0, d + payloadCost)
            let t = TransactionModel.tps(processingNanoseconds: processing, rttNanoseconds: effective, roundtrips: input.roundtrips)
            return ModelPrediction(rttNanoseconds: d, rttAtPayloadNanoseconds: effective, tps: t, change: t / tps - 1)
        }

        var notes = evidence.flatMap(\.notes)
        if let fit, fit.perByteNanoseconds <= 0 {
            notes.append("the size fit's per-byte cost is not positive: the sweep could not see payload size in the RTT (sizes too close together, or too noisy)")
        }
        let sources = evidence.map { e -> ModelSource in
            var gives: [String] = []
            if e.rtt != nil && input.rttNanoseconds == nil { gives.append("rtt") }
            if e.tps != nil && input.tps == nil { gives.append("tps") }
            if e.kind == .clientSweep { gives.append("fit") }
            if e.averagePayloadBytes != nil && input.payloadBytes == nil { gives.append("payload") }
            return ModelSource(file: e.name, kind: e.kind, target: e.target, provides: gives)
        }

        var report = ModelReport(
            rttNanoseconds: rtt, rttSource: rttSource, tps: tps, tpsSource: tpsSource, roundtrips: input.roundtrips,
            processingNanoseconds: processing, networkShare: share,
            tpsCeiling: TransactionModel.nanosecondsPerSecond / processing, predictions: predictions, fit: fit,
            fitTarget: fitTarget, payloadBytes: fit != nil ? payload : nil, payloadSource: fit != nil ? payloadSource : nil,
            measuredRTTNanoseconds: measured, measuredPayloadBytes: measuredPayload, sources: sources, notes: notes,
            conclusion: "")
        report.conclusion = report.sentence()
        return report
    }

    /// "at 0.685 ms, 58% of each transaction is network; on a 0.161 ms network this
    /// workload would do about 1546 TPS (+81%)".
    func sentence() -> String {
        var at = "at \(formatMilliseconds(rttNanoseconds)) ms"
        if roundtrips != 1 { at += " × \(formatNumber(roundtrips)) round trips" }
        if let fit, let payloadBytes, fit.perByteNanoseconds != 0 {
            at += " (\(formatNumber(payloadBytes))-byte requests)"
        }
        var s = "\(at), \(formatFixed(networkShare * 100, 0))% of each transaction is network"
        let others = predictions.filter { $0.rttNanoseconds != bareRTTNanoseconds || predictions.count == 1 }
        for (i, p) in others.enumerated() {
            let change = formatPercentChange(p.change)
            if i == 0 {
                s += "; on a \(formatMilliseconds(p.rttNanoseconds)) ms network this workload would do about \(formatFixed(p.tps, 0)) TPS (\(change))"
            } else {
                s += ", on \(formatMilliseconds(p.rttNanoseconds)) ms about \(formatFixed(p.tps, 0)) (\(change))"
            }
        }
        s += "; with no network time at all it would top out near \(formatFixed(tpsCeiling, 0)) TPS"
        return s
    }
}

/// One `--from` report and what it was used for.
public struct ModelSource: Equatable, Sendable, Encodable {
    public var file: String
    public var kind: ModelEvidence.Kind
    public var target: String
    /// Some of `rtt`, `tps`, `fit`, `payload`: what the model took from it.
    public var provides: [String]
}

extension ModelReport: Encodable {
    enum CodingKeys: String, CodingKey {
        case command, processingMilliseconds = "processing_ms", predictions, rttMilliseconds = "rtt_ms", rttSource = "rtt_source"
        case tps, tpsSource = "tps_source", roundtrips, networkShare = "network_share", tpsCeiling = "tps_ceiling"
        case transactionMilliseconds = "transaction_ms", networkMilliseconds = "network_ms_per_transaction"
        case fit, payloadBytes = "payload_bytes", payloadSource = "payload_source"
        case measuredRTTMilliseconds = "measured_rtt_ms", measuredPayloadBytes = "measured_payload_bytes"
        case sources, notes, conclusion
    }

    enum PredictionKeys: String, CodingKey {
        case rttMilliseconds = "rtt_ms", rttAtPayloadMilliseconds = "rtt_at_payload_ms", tps, change
    }

    enum FitKeys: String, CodingKey {
        case baseMilliseconds = "base_ms", perByteMicroseconds = "per_byte_us", r2
        case bandwidth = "bandwidth_bytes_per_s", statistic, target, x, points
    }

    enum PointKeys: String, CodingKey {
        case payloadBytes = "payload_bytes", rttMilliseconds = "rtt_ms", samples
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(command, forKey: .command)
        try c.encode(processingNanoseconds / 1e6, forKey: .processingMilliseconds)
        var list = c.nestedUnkeyedContainer(forKey: .predictions)
        for p in predictions {
            var e = list.nestedContainer(keyedBy: PredictionKeys.self)
            try e.encode(p.rttNanoseconds / 1e6, forKey: .rttMilliseconds)
            if p.rttAtPayloadNanoseconds != p.rttNanoseconds {
                try e.encode(p.rttAtPayloadNanoseconds / 1e6, forKey: .rttAtPayloadMilliseconds)
            }
            try e.encode(p.tps, forKey: .tps)
            try e.encode(p.change, forKey: .change)
        }
        try c.encode(rttNanoseconds / 1e6, forKey: .rttMilliseconds)
        try c.encode(rttSource, forKey: .rttSource)
        try c.encode(tps, forKey: .tps)
        try c.encode(tpsSource, forKey: .tpsSource)
        try c.encode(roundtrips, forKey: .roundtrips)
        try c.encode(networkShare, forKey: .networkShare)
        try c.encode(tpsCeiling, forKey: .tpsCeiling)
        try c.encode(transactionNanoseconds / 1e6, forKey: .transactionMilliseconds)
        try c.encode(networkNanosecondsPerTransaction / 1e6, forKey: .networkMilliseconds)
        try c.encode(measuredRTTNanoseconds / 1e6, forKey: .measuredRTTMilliseconds)
        try c.encodeIfPresent(measuredPayloadBytes, forKey: .measuredPayloadBytes)
        if let fit {
            var f = c.nestedContainer(keyedBy: FitKeys.self, forKey: .fit)
            try f.encode(fit.baseNanoseconds / 1e6, forKey: .baseMilliseconds)
            try f.encode(fit.perByteNanoseconds / 1e3, forKey: .perByteMicroseconds)
            try f.encode(fit.rSquared, forKey: .r2)
            try f.encode(fit.bandwidthBytesPerSecond, forKey: .bandwidth)
            try f.encode(fit.statistic, forKey: .statistic)
            try f.encodeIfPresent(fitTarget, forKey: .target)
            try f.encode("payload_bytes (the request carries 12 more, the reply 4)", forKey: .x)
            var points = f.nestedUnkeyedContainer(forKey: .points)
            for p in fit.points {
                var e = points.nestedContainer(keyedBy: PointKeys.self)
                try e.encode(p.payloadBytes, forKey: .payloadBytes)
                try e.encode(p.rttNanoseconds / 1e6, forKey: .rttMilliseconds)
                try e.encode(p.samples, forKey: .samples)
            }
            try c.encodeIfPresent(payloadBytes, forKey: .payloadBytes)
            try c.encodeIfPresent(payloadSource, forKey: .payloadSource)
        }
        try c.encode(sources, forKey: .sources)
        try c.encode(notes, forKey: .notes)
        try c.encode(conclusion, forKey: .conclusion)
    }
}

// MARK: - Text

extension ModelReport {
    /// The table `wirelat model` prints.
    public var text: String {
        var t = "TPS model: time per transaction = processing + roundtrips × RTT (full round trip)\n"
        t += "  RTT           \(formatMilliseconds(rttNanoseconds)) ms  (\(rttSource))\n"
        t += "  TPS           \(formatFixed(tps, 1))  (\(tpsSource))\n"
        t += "  round trips   \(formatNumber(roundtrips)) per transaction\n"
        if let fit {
            t += "  size fit      RTT = \(formatMilliseconds(fit.baseNanoseconds)) ms + payload × \(formatFixed(fit.perByteNanoseconds, 4)) ns/byte"
            t += "  (R² \(formatFixed(fit.rSquared, 4)), \(fit.points.count) sweep points, \(fit.statistic.rawValue) of each)\n"
            if let bw = fit.bandwidthBytesPerSecond {
                let bits = bw * 8
                let rate = bits >= 1e9 ? "\(formatFixed(bits / 1e9, 2)) Gbit/s" : "\(formatFixed(bits / 1e6, 1)) Mbit/s"
                t += "                implies \(formatBytesHuman(bw))/s (\(rate)) for request payload\n"
            }
            if let payloadBytes {
                t += "  payload       \(formatNumber(payloadBytes)) bytes per request (\(payloadSource ?? "--payload"))\n"
            }
        }
        t += "\n"
        let transaction = transactionNanoseconds
        t += "  per transaction   \(formatMilliseconds(transaction)) ms\n"
        t += "    network         \(formatMilliseconds(networkNanosecondsPerTransaction)) ms  \(leftPad(formatFixed(networkShare * 100, 1), 5))%\n"
        t += "    processing      \(formatMilliseconds(processingNanoseconds)) ms  \(leftPad(formatFixed((1 - networkShare) * 100, 1), 5))%   (everything outside network transit)\n"
        t += "\n"
        let payloadColumn = predictions.contains { $0.rttAtPayloadNanoseconds != $0.rttNanoseconds }
        var header = "  \(leftPad("RTT (ms)", 10))"
        if payloadColumn { header += "  \(leftPad("with payload", 12))" }
        header += "  \(leftPad("TPS", 10))  \(leftPad("change", 8))\n"
        t += header
        var measuredRow = "  \(leftPad(formatMilliseconds(bareRTTNanoseconds), 10))"
        if payloadColumn { measuredRow += "  \(leftPad(formatMilliseconds(rttNanoseconds), 12))" }
        measuredRow += "  \(leftPad(formatFixed(tps, 1), 10))  \(leftPad("measured", 8))\n"
        t += measuredRow
        for p in predictions {
            var row = "  \(leftPad(formatMilliseconds(p.rttNanoseconds), 10))"
            if payloadColumn { row += "  \(leftPad(formatMilliseconds(p.rttAtPayloadNanoseconds), 12))" }
            row += "  \(leftPad(formatFixed(p.tps, 1), 10))  \(leftPad(formatPercentChange(p.change), 8))\n"
            t += row
        }
        t += "  \(leftPad("0.000", 10))"
        if payloadColumn { t += "  \(leftPad("", 12))" }
        t += "  \(leftPad(formatFixed(tpsCeiling, 1), 10))  \(leftPad("ceiling", 8))\n"
        if !notes.isEmpty {
            t += "\n" + notes.map { "  note: \($0)\n" }.joined()
        }
        t += "\n\(conclusion.prefix(1).uppercased() + conclusion.dropFirst()).\n"
        return t
    }
}

/// `+84%`, `-12%`, `+0.4%` (one decimal under 1 %).
func formatPercentChange(_ change: Double) -> String {
    let percent = change * 100
    let digits = abs(percent) < 0.95 ? 1 : 0
    let text = formatFixed(abs(percent), digits)
    return (percent < 0 && text != formatFixed(0, digits) ? "-" : "+") + text + "%"
}

/// A count without a needless fraction: 1, 2.5, 8000.
func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    var text = formatFixed(value, 3)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}

// MARK: - The page

extension ModelReport {
    /// `wirelat model --html`: one self-contained page (inline CSS and SVG, no script,
    /// nothing loaded) plotting TPS against RTT, with the measured and predicted points.
    public func html(generator: String = "wirelat model") -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h += "<title>wirelat model — TPS against RTT</title>\n<style>\n\(Self.pageStyle)</style>\n</head>\n<body>\n"
        h += "<h1>wirelat model — TPS against RTT</h1>\n"
        h += "<p class=\"sentence\">\(escapeHTML(conclusion.prefix(1).uppercased() + conclusion.dropFirst())).</p>\n"
        h += chart()
        h += "<h2>Numbers</h2>\n<table>\n<tr><th class=\"l\">point</th><th>RTT (ms)</th>"
        let payloadColumn = predictions.contains { $0.rttAtPayloadNanoseconds != $0.rttNanoseconds }
        if payloadColumn { h += "<th>with payload (ms)</th>" }
        h += "<th>TPS</th><th>change</th></tr>\n"
        func row(_ name: String, _ bare: Double, _ effective: Double, _ t: Double, _ change: String) {
            h += "<tr><td class=\"l\">\(escapeHTML(name))</td><td>\(formatMilliseconds(bare))</td>"
            if payloadColumn { h += "<td>\(formatMilliseconds(effective))</td>" }
            h += "<td>\(formatFixed(t, 1))</td><td>\(escapeHTML(change))</td></tr>\n"
        }
        row("measured", bareRTTNanoseconds, rttNanoseconds, tps, "")
        for p in predictions { row("predicted", p.rttNanoseconds, p.rttAtPayloadNanoseconds, p.tps, formatPercentChange(p.change)) }
        h += "</table>\n<ul class=\"notes\">\n"
        var facts = [
            "RTT \(formatMilliseconds(rttNanoseconds)) ms: \(rttSource).",
            "TPS \(formatFixed(tps, 1)): \(tpsSource).",
            "\(formatNumber(roundtrips)) round trip\(roundtrips == 1 ? "" : "s") per transaction; processing (time outside network transit) \(formatMilliseconds(processingNanoseconds)) ms per transaction.",
        ]
        if let fit {
            var f = "Size fit: RTT = \(formatMilliseconds(fit.baseNanoseconds)) ms + payload × \(formatFixed(fit.perByteNanoseconds, 4)) ns/byte, R² \(formatFixed(fit.rSquared, 4))"
            if let bw = fit.bandwidthBytesPerSecond { f += ", about \(formatBytesHuman(bw))/s" }
            facts.append(f + ".")
        }
        facts += notes
        h += facts.map { "<li>\(escapeHTML($0))</li>\n" }.joined()
        h += "</ul>\n<p class=\"small\">TPS = 1 s / (processing + roundtrips × RTT). Every RTT is a full round trip. Generated by \(escapeHTML(generator)); this page loads nothing from the network.</p>\n"
        h += "</body>\n</html>\n"
        return h
    }

    static let pageStyle = """
    body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 960px; }
    h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
    .sentence { font-size: 15px; background: #f4f6fa; padding: 10px 12px; border-left: 4px solid #1f77b4; }
    .notes { color: #555; font-size: 13px; } .small { color: #666; font-size: 12px; }
    table { border-collapse: collapse; font-size: 13px; }
    th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right; }
    th.l, td.l { text-align: left; }
    svg { background: #fff; border: 1px solid #e3e3e3; }
    svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
    .grid { stroke: #eee; stroke-width: 1; } .axis { stroke: #555; stroke-width: 1; }
    .curve { fill: none; stroke: #1f77b4; stroke-width: 2; }
    .measured { fill: #d62728; } .predicted { fill: #fff; stroke: #ff7f0e; stroke-width: 2; }

    """

    /// TPS against the bare RTT, from 0 to past the largest point.
    func chart() -> String {
        let width = 760.0, height = 420.0
        let left = 70.0, right = 20.0, top = 20.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let payloadCost = rttNanoseconds - bareRTTNanoseconds
        let xs = [bareRTTNanoseconds] + predictions.map(\.rttNanoseconds)
        let (xMax, xStep) = niceAxis(max(xs.max() ?? 0, 1_000) * 1.15)
        let ys = [tps] + predictions.map(\.tps)
        let (yMax, yStep) = niceAxis(max(min(tpsCeiling, (ys.max() ?? tps) * 1.6), ys.max() ?? tps) * 1.05)
        func px(_ rttNs: Double) -> Double { left + rttNs / xMax * plotW }
        func py(_ t: Double) -> Double { top + plotH - min(t, yMax) / yMax * plotH }
        func f(_ v: Double) -> String { formatFixed(v, 1) }
        // Beside the point, on whichever side has room.
        func label(_ x: Double, _ y: Double, _ text: String) -> String {
            let onLeft = x > left + plotW * 0.6
            return "<text x=\"\(f(onLeft ? x - 8 : x + 8))\" y=\"\(f(y))\" text-anchor=\"\(onLeft ? "end" : "start")\">\(escapeHTML(text))</text>\n"
        }

        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"TPS against RTT\">\n"
        s += "<defs><clipPath id=\"plot\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/></clipPath></defs>\n"
        for i in 0 ... Int((xMax / xStep).rounded()) {
            let x = px(Double(i) * xStep)
            s += "<line class=\"grid\" x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\"/>\n"
            s += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(escapeHTML(axisLabel(Double(i) * xStep / 1e6)))</text>\n"
        }
        for i in 0 ... Int((yMax / yStep).rounded()) {
            let y = py(Double(i) * yStep)
            s += "<line class=\"grid\" x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\"/>\n"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escapeHTML(axisLabel(Double(i) * yStep)))</text>\n"
        }
        s += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\"/>\n"
        s += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\"/>\n"
        let xTitle = payloadCost != 0 ? "RTT of the network with no payload (ms, full round trip)" : "RTT (ms, full round trip)"
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(escapeHTML(xTitle))</text>\n"
        s += "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">transactions per second</text>\n"
        var path = ""
        for i in 0 ... 200 {
            let r = xMax * Double(i) / 200
            let t = TransactionModel.tps(processingNanoseconds: processingNanoseconds, rttNanoseconds: max(0, r + payloadCost),
                                         roundtrips: roundtrips)
            path += (i == 0 ? "M" : " L") + "\(f(px(r))) \(f(py(t)))"
        }
        s += "<path class=\"curve\" clip-path=\"url(#plot)\" d=\"\(path)\"/>\n"
        for p in predictions {
            s += "<circle class=\"predicted\" cx=\"\(f(px(p.rttNanoseconds)))\" cy=\"\(f(py(p.tps)))\" r=\"5\"><title>predicted: \(formatFixed(p.tps, 1)) TPS at \(formatMilliseconds(p.rttNanoseconds)) ms</title></circle>\n"
            s += label(px(p.rttNanoseconds), py(p.tps) - 8, "\(formatFixed(p.tps, 0)) TPS @ \(formatMilliseconds(p.rttNanoseconds)) ms")
        }
        s += "<circle class=\"measured\" cx=\"\(f(px(bareRTTNanoseconds)))\" cy=\"\(f(py(tps)))\" r=\"6\"><title>measured: \(formatFixed(tps, 1)) TPS at \(formatMilliseconds(bareRTTNanoseconds)) ms</title></circle>\n"
        s += label(px(bareRTTNanoseconds), py(tps) + 18, "measured \(formatFixed(tps, 0)) TPS @ \(formatMilliseconds(bareRTTNanoseconds)) ms")
        let legendX = left + plotW - 170
        s += "<circle class=\"measured\" cx=\"\(f(legendX))\" cy=\"\(f(top + 14))\" r=\"5\"/><text x=\"\(f(legendX + 10))\" y=\"\(f(top + 18))\">measured</text>\n"
        s += "<circle class=\"predicted\" cx=\"\(f(legendX + 80))\" cy=\"\(f(top + 14))\" r=\"5\"/><text x=\"\(f(legendX + 90))\" y=\"\(f(top + 18))\">predicted</text>\n"
        s += "</svg>\n"
        return s
    }
}

/// An axis from 0 to at least `value` in four to ten steps of 1, 2, 2.5 or 5 × 10ⁿ.
func niceAxis(_ value: Double) -> (top: Double, step: Double) {
    guard value > 0, value.isFinite else { return (1, 0.2) }
    let rough = value / 5
    let magnitude = pow(10, floor(log10(rough)))
    var step = 10 * magnitude
    for m in [1.0, 2, 2.5, 5] where m * magnitude >= rough * (1 - 1e-12) {
        step = m * magnitude
        break
    }
    return ((value / step * (1 - 1e-12)).rounded(.up) * step, step)
}

/// An axis tick: no more decimals than it needs.
func axisLabel(_ value: Double) -> String {
    for digits in 0 ... 4 {
        let text = formatFixed(value, digits)
        if abs((Double(text) ?? value) - value) <= abs(value) * 1e-9 { return text }
    }
    return formatFixed(value, 4)
}

