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

