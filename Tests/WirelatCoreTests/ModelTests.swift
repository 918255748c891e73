import Foundation
import Testing
import WirelatCore

private func ms(_ milliseconds: Double) -> Double { milliseconds * 1e6 }

private func isClose(_ value: Double, to expected: Double, relative: Double = 1e-9) -> Bool {
    abs(value - expected) <= abs(expected) * relative
}

/// A client report as `wirelat client --json` writes it, trimmed to what a test needs.
private func clientJSON(length: Int = 0, meanNs: Double, p50Ns: Double? = nil, roundtripsPerSecond: Double,
                        connections: Int = 1, mode: String = "sync", samples: Int = 1000, durationSeconds: Double = 10,
                        thinkTimeNs: Int = 0, target: String = "10.0.0.2:1521", sweep: [String]? = nil) -> String {
    var json = """
    {"command":"client","method":"tcp-reqresp","target":"\(target)","mode":"\(mode)","length":\(length),
     "connections":\(connections),"samples":\(samples),"roundtrips_per_s":\(roundtripsPerSecond),"duration_s":\(durationSeconds),
     "throughput_bytes_per_s":0,"intervals":[],"request_bytes":\(12 + length),"reply_bytes":4,
     "rtt_ns":{"min":1,"p50":\(p50Ns ?? meanNs),"p90":1,"p99":1,"p999":1,"max":1,"mean":\(meanNs),"stddev":0},
     "server":{"messages":1,"payload_bytes":0,"think_time_ns":\(thinkTimeNs),"disk_write":false,"fsyncs":0,
               "fsync_mean_ns":0,"fsync_p99_ns":0,"fsync_max_ns":0}
    """
    if let sweep { json += ",\"sweep\":[\(sweep.joined(separator: ","))]" }
    return json + "}"
}

private func evidence(_ json: String, name: String = "report.json") throws -> ModelEvidence {
    try ModelEvidence.read(Data(json.utf8), name: name)
}

@Suite("TPS model")
struct ModelTests {
    // The oratcptest note: the same workload on three networks.
    static let workedExample: [(rttMs: Double, tps: Double, processing: String)] = [
        (0.021, 2356, "0.403"),
        (0.161, 1567, "0.477"),
        (0.685, 854, "0.486"),
    ]

    @Test("the worked example: processing 0.403, 0.477 and 0.486 ms per transaction")
    func workedExample() throws {
        for (rtt, tps, expected) in Self.workedExample {
            let processing = try TransactionModel.processingNanoseconds(rttNanoseconds: ms(rtt), tps: tps)
            #expect(formatMilliseconds(processing) == expected, "\(rtt) ms at \(tps) TPS")
            let report = try ModelReport.make(ModelInput(rttNanoseconds: ms(rtt), tps: tps))
            #expect(formatMilliseconds(report.processingNanoseconds) == expected)
            #expect(report.text.contains("processing      \(expected) ms"), "\(report.text)")
        }
    }

    @Test("predicting back at the measured RTT gives the measured TPS")
    func roundTripIdentity() throws {
        for (rtt, tps, _) in Self.workedExample {
            for roundtrips in [1.0, 2, 3.5] where ms(rtt) * roundtrips * tps < 1e9 {
                let report = try ModelReport.make(ModelInput(
                    rttNanoseconds: ms(rtt), tps: tps, roundtrips: roundtrips,
                    predictNanoseconds: Self.workedExample.map { ms($0.rttMs) }))
                let back = try #require(report.predictions.first { $0.rttNanoseconds == ms(rtt) })
                #expect(isClose(back.tps, to: tps, relative: 1e-12), "\(rtt) ms × \(roundtrips): \(back.tps)")
                #expect(abs(back.change) < 1e-12)
            }
        }
    }

    @Test("the sentence for 0.685 ms at 854 TPS, predicted on 0.161 ms")
    func conclusion() throws {
        let report = try ModelReport.make(ModelInput(rttNanoseconds: ms(0.685), tps: 854, predictNanoseconds: [ms(0.161), ms(0.021)]))
        #expect(formatFixed(report.networkShare * 100, 0) == "58")
        #expect(report.conclusion.hasPrefix("at 0.685 ms, 58% of each transaction is network; on a 0.161 ms network this workload would do about 1546 TPS (+81%)"), "\(report.conclusion)")
        // 1 s / (0.48596 + 0.161) ms and 1 s / (0.48596 + 0.021) ms.
        #expect(formatFixed(report.predictions[0].tps, 1) == "1545.7")
        #expect(formatFixed(report.predictions[1].tps, 1) == "1972.5")
        #expect(formatFixed(report.tpsCeiling, 0) == "2058")
    }

    @Test("the JSON carries the keys INTERFACE.md lists, in milliseconds")
    func jsonKeys() throws {
        let report = try ModelReport.make(ModelInput(rttNanoseconds: ms(0.685), tps: 854, predictNanoseconds: [ms(0.161)]))
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["command"] as? String == "model")
        #expect(isClose(object["processing_ms"] as? Double ?? 0, to: 0.485_960_187_353_629_97, relative: 1e-12))
        #expect(object["rtt_ms"] as? Double == 0.685)
        #expect(object["tps"] as? Double == 854)
        #expect(object["roundtrips"] as? Double == 1)
        #expect(isClose(object["network_share"] as? Double ?? 0, to: 0.58499, relative: 1e-9))
        let predictions = try #require(object["predictions"] as? [[String: Any]])
        #expect(predictions.count == 1)
        #expect(predictions[0]["rtt_ms"] as? Double == 0.161)
        #expect(predictions[0]["tps"] is Double)
        #expect(object["fit"] == nil)
    }

    @Test("impossible inputs are refused with the reason", arguments: [
        (0.685, 1460.0, 1.0, "must stay under 1 s"),   // 0.685 ms × 1460 = 1.0001 s
        (1.0, 1000.0, 1.0, "must stay under 1 s"),     // exactly 1 s: nothing left for processing
        (0.5, 1000.0, 2.0, "must stay under 1 s"),
        (-0.1, 854.0, 1.0, "RTT must be zero or more"),
        (0.685, 0.0, 1.0, "TPS must be more than 0"),
        (0.685, -5.0, 1.0, "TPS must be more than 0"),
        (0.685, 854.0, 0.0, "--roundtrips must be more than 0"),
        (0.685, 854.0, -1.0, "--roundtrips must be more than 0"),
    ])
    func impossible(rtt: Double, tps: Double, roundtrips: Double, message: String) {
        #expect {
            _ = try ModelReport.make(ModelInput(rttNanoseconds: ms(rtt), tps: tps, roundtrips: roundtrips))
        } throws: { error in
            (error as? ModelError)?.message.contains(message) == true
        }
    }

    @Test("a fit on synthetic points recovers slope and intercept, R² = 1")
    func exactFit() throws {
        // 50 µs plus 0.8 ns per byte: 1.25 GB/s.
        let points = [0.0, 1000, 8000, 65536].map { SizePoint(payloadBytes: $0, rttNanoseconds: 50_000 + 0.8 * $0) }
        let fit = try SizeFit.leastSquares(points)
        #expect(isClose(fit.baseNanoseconds, to: 50_000, relative: 1e-12))
        #expect(isClose(fit.perByteNanoseconds, to: 0.8, relative: 1e-12))
        #expect(fit.rSquared == 1)
        #expect(isClose(fit.bandwidthBytesPerSecond ?? 0, to: 1.25e9, relative: 1e-12))
        #expect(isClose(fit.rttNanoseconds(payloadBytes: 4000), to: 53_200, relative: 1e-12))
    }

    @Test("a noisy fit: least squares by hand, R² below 1")
    func noisyFit() throws {
        let points = [(0.0, 10.0), (1.0, 12.0), (2.0, 13.0), (3.0, 17.0)].map { SizePoint(payloadBytes: $0.0, rttNanoseconds: $0.1) }
        let fit = try SizeFit.leastSquares(points)
        // x̄ 1.5, ȳ 13; Sxy = (-1.5)(-3) + (-0.5)(-1) + (0.5)(0) + (1.5)(4) = 11, Sxx = 5: slope 2.2.
        #expect(isClose(fit.perByteNanoseconds, to: 2.2))
        #expect(isClose(fit.baseNanoseconds, to: 13 - 2.2 * 1.5))
        // SS_res: residuals 0.3, 0.1, -1.1, 0.7 → 1.8; SS_tot 26.
        #expect(isClose(fit.rSquared, to: 1 - 1.8 / 26))
    }

    @Test("a fit needs two payload sizes")
    func fitNeedsTwoSizes() {
        #expect(throws: ModelError.self) { try SizeFit.leastSquares([SizePoint(payloadBytes: 100, rttNanoseconds: 1)]) }
        #expect(throws: ModelError.self) {
            try SizeFit.leastSquares([SizePoint(payloadBytes: 100, rttNanoseconds: 1), SizePoint(payloadBytes: 100, rttNanoseconds: 2)])
        }
    }

    @Test("a sweep report feeds the fit; --payload moves the RTT along it")
    func sweepReport() throws {
        let points = [0, 1000, 8000].map { length in
            clientJSON(length: length, meanNs: 99_999, p50Ns: 20_000 + 2.5 * Double(length), roundtripsPerSecond: 1)
        }
        let sweep = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, sweep: points), name: "sweep.json")
        #expect(sweep.kind == .clientSweep)
        #expect(sweep.rtt == nil && sweep.tps == nil)

        let report = try ModelReport.make(ModelInput(rttNanoseconds: ms(0.100), tps: 1000, payloadBytes: 4000, evidence: [sweep]))
        let fit = try #require(report.fit)
        #expect(isClose(fit.baseNanoseconds, to: 20_000) && isClose(fit.perByteNanoseconds, to: 2.5) && fit.rSquared == 1)
        #expect(isClose(fit.bandwidthBytesPerSecond ?? 0, to: 4e8))
        // --rtt is a bare round trip: 0.100 ms + 4000 × 2.5 ns = 0.110 ms per round trip.
        #expect(isClose(report.rttNanoseconds, to: 110_000))
        #expect(isClose(report.processingNanoseconds, to: 1e6 - 110_000))
        // With no --rtt, the fit alone gives the RTT at the payload: 20 µs + 10 µs.
        let alone = try ModelReport.make(ModelInput(tps: 1000, payloadBytes: 4000, evidence: [sweep]))
        #expect(isClose(alone.rttNanoseconds, to: 30_000))
        // Predictions are bare round trips, and pay the payload's cost on top.
        let predicted = try ModelReport.make(ModelInput(rttNanoseconds: ms(0.100), tps: 1000, payloadBytes: 4000,
                                                        predictNanoseconds: [ms(0.100)], evidence: [sweep]))
        #expect(isClose(predicted.predictions[0].tps, to: 1000, relative: 1e-12))
        #expect(isClose(predicted.predictions[0].rttAtPayloadNanoseconds, to: 110_000))

        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        let fitJSON = try #require(json["fit"] as? [String: Any])
        #expect(isClose(fitJSON["base_ms"] as? Double ?? 0, to: 0.02))
        #expect(isClose(fitJSON["per_byte_us"] as? Double ?? 0, to: 0.0025))
        #expect(fitJSON["r2"] as? Double == 1)
        #expect(isClose(fitJSON["bandwidth_bytes_per_s"] as? Double ?? 0, to: 4e8))
        #expect(json["payload_bytes"] as? Double == 4000)
    }

    @Test("--fit-on mean uses each sweep point's mean")
    func fitOnMean() throws {
        let points = [0, 1000].map { clientJSON(length: $0, meanNs: 30_000 + Double($0), p50Ns: 5, roundtripsPerSecond: 1) }
        let sweep = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, sweep: points))
        let report = try ModelReport.make(ModelInput(tps: 100, payloadBytes: 0, fitStatistic: .mean, evidence: [sweep]))
        #expect(isClose(report.fit?.perByteNanoseconds ?? 0, to: 1) && report.fit?.statistic == .mean)
    }

    @Test("a plain client report gives the RTT less think time, and one connection's round trips per second")
    func clientReport() throws {
        // 4 connections doing 4000 round trips/s together: 1000 each, at 0.9 ms of which 0.5 ms is think time.
        let client = try evidence(clientJSON(meanNs: 900_000, roundtripsPerSecond: 4000, connections: 4, thinkTimeNs: 500_000))
        #expect(client.rtt?.rttNanoseconds == 400_000)
        #expect(client.tps?.tps == 1000)
        let report = try ModelReport.make(ModelInput(evidence: [client]))
        #expect(isClose(report.processingNanoseconds, to: 600_000))
        #expect(report.sources.first?.provides == ["rtt", "tps"])
        // Options win over the report.
        let overridden = try ModelReport.make(ModelInput(rttNanoseconds: ms(0.2), evidence: [client]))
        #expect(isClose(overridden.processingNanoseconds, to: 800_000))
        #expect(overridden.sources.first?.provides == ["tps"])
    }

    @Test("several reports: RTTs weighted by samples, TPS by duration")
    func combined() throws {
        let a = try evidence(clientJSON(meanNs: 100_000, roundtripsPerSecond: 1000, samples: 1000, durationSeconds: 1), name: "a.json")
        let b = try evidence(clientJSON(meanNs: 200_000, roundtripsPerSecond: 1600, samples: 3000, durationSeconds: 3), name: "b.json")
        let report = try ModelReport.make(ModelInput(evidence: [a, b]))
        #expect(isClose(report.rttNanoseconds, to: 175_000))
        #expect(isClose(report.tps, to: 1450))
        #expect(report.rttSource.contains("a.json, b.json"))
    }

    @Test("a capture --rtt report gives the reqresp RTT, and its payload when it has one")
    func captureReport() throws {
        let capture = """
        {"command":"capture","target":"eth0 (port 1521)","ack_rule":"karn","counters":{},
         "methods":[{"method":"handshake","samples":1,"rtt_ns":{"min":1,"p50":1,"p90":1,"p99":1,"p999":1,"max":1,"mean":50000,"stddev":0}},
                    {"method":"reqresp","samples":500,"average_payload_bytes":2000,"rtt_ns":{"min":1,"p50":1,"p90":1,"p99":1,"p999":1,"max":1,"mean":685000,"stddev":0}}],
         "top_flows":[{"flow":"a>b","protocol":"tcp","packets":10,"bytes":1850,"samples":5}]}
        """
        let e = try evidence(capture, name: "cap.json")
        #expect(e.kind == .capture && e.rtt?.rttNanoseconds == 685_000 && e.averagePayloadBytes == 2000)
        #expect(e.averagePacketBytes == 185)
        let report = try ModelReport.make(ModelInput(tps: 854, evidence: [e]))
        #expect(formatMilliseconds(report.processingNanoseconds) == "0.486")
        // With a sweep, the capture's payload is the workload's; its RTT was measured there, so it stays.
        let points = [0, 4000].map { clientJSON(length: $0, meanNs: 1, p50Ns: 20_000 + Double($0), roundtripsPerSecond: 1) }
        let sweep = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, sweep: points), name: "sweep.json")
        let both = try ModelReport.make(ModelInput(tps: 854, predictNanoseconds: [ms(0.161)], evidence: [e, sweep]))
        #expect(both.payloadBytes == 2000 && both.rttNanoseconds == 685_000)
        #expect(isClose(both.predictions[0].rttAtPayloadNanoseconds, to: 163_000))
    }

    @Test("empty, foreign and mismatched reports are refused, naming the file", arguments: [
        ("", "x.json is empty"),
        ("  \n", "x.json is empty"),
        ("not json", "x.json is not a JSON object"),
        ("[1,2]", "x.json is not a JSON object"),
        ("{\"samples\":3}", "has no \"command\" key"),
        ("{\"command\":\"compare\",\"methods\":[]}", "is a compare report"),
        ("{\"command\":\"client\",\"mode\":\"sync\"}", "is a client report without the keys model needs"),
        ("{\"command\":\"capture\",\"target\":\"lo\"}", "without RTT methods"),
        ("{\"command\":\"capture\",\"methods\":[{\"method\":\"reqresp\",\"samples\":0}]}", "holds no request/response round trips"),
    ])
    func badReports(json: String, message: String) {
        #expect {
            _ = try ModelEvidence.read(Data(json.utf8), name: "x.json")
        } throws: { error in
            (error as? ModelError)?.message.contains(message) == true
        }
    }

    @Test("client reports model cannot use")
    func unusableClientReports() throws {
        #expect(throws: ModelError("x.json is a client report in async mode: its RTT is request→acknowledgement, not a transaction's round trip; measure with --mode sync")) {
            _ = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, mode: "async"), name: "x.json")
        }
        #expect(throws: ModelError.self) { _ = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, samples: 0)) }
        // Sweeps of two different paths cannot share a line.
        let p = [0, 1000].map { clientJSON(length: $0, meanNs: 1, roundtripsPerSecond: 1) }
        let one = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, target: "a:1", sweep: p), name: "one.json")
        let two = try evidence(clientJSON(meanNs: 1, roundtripsPerSecond: 1, target: "b:1", sweep: p), name: "two.json")
        #expect { _ = try ModelReport.make(ModelInput(tps: 10, evidence: [one, two])) } throws: { error in
            (error as? ModelError)?.message.contains("one size fit needs sweeps of one network path") == true
        }
        // Nothing gives the TPS.
        #expect { _ = try ModelReport.make(ModelInput(payloadBytes: 0, evidence: [one])) } throws: { error in
            (error as? ModelError)?.message.contains("nothing gives the TPS") == true
        }
    }

    @Test("the page is self-contained: inline SVG, nothing loaded, the points drawn")
    func page() throws {
        let report = try ModelReport.make(ModelInput(rttNanoseconds: ms(0.685), tps: 854, predictNanoseconds: [ms(0.161), ms(0.021)]))
        let page = report.html()
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains("<svg") && page.contains("class=\"curve\""))
        #expect(page.components(separatedBy: "<circle class=\"predicted\"").count - 1 == 2 + 1)
        #expect(page.components(separatedBy: "<circle class=\"measured\"").count - 1 == 1 + 1)
        for external in ["src=", "href=", "<script", "@import", "url(http"] {
            #expect(!page.contains(external), "the page loads something: \(external)")
        }
        #expect(page.contains("58% of each transaction is network"))
    }
}
