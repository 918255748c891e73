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

