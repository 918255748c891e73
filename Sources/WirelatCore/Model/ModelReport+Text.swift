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
