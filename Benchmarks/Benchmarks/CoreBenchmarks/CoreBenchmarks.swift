import Benchmark
import WirelatCore

/// The pure hot paths of a round trip: parsing requests on the server,
/// parsing replies and recording latencies on the client.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(2)
    )

    let requests: [UInt8] = {
        var bytes: [UInt8] = []
        for sequence in 0..<1000 {
            var header = [UInt8](repeating: 0, count: WireProtocol.messageHeaderSize)
            header.withUnsafeMutableBytes {
                MessageHeader(kind: .data, sequence: UInt32(sequence), payloadLength: 250).write(to: $0)
            }
            bytes += header + [UInt8](repeating: 0x5A, count: 250)
        }
        return bytes
    }()

    Benchmark("RequestStreamParser: 1000 requests of 250 bytes") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = RequestStreamParser(payloadLength: 250)
            var count = 0
            requests.withUnsafeBytes { bytes in
                try? parser.consume(bytes, onPayload: { _ in }, onMessage: { _ in count += 1 })
            }
            blackHole(count)
        }
    }

    let replies: [UInt8] = (0..<1000).flatMap { (s: UInt32) -> [UInt8] in
        [UInt8(s >> 24), UInt8(truncatingIfNeeded: s >> 16), UInt8(truncatingIfNeeded: s >> 8), UInt8(truncatingIfNeeded: s)]
    }

    Benchmark("ReplyStreamParser: 1000 replies") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = ReplyStreamParser()
            var sum: UInt64 = 0
            replies.withUnsafeBytes { parser.consume($0) { sum &+= UInt64($0) } }
            blackHole(sum)
        }
    }

    Benchmark("LatencyRecorder.record: 1000 samples") { benchmark in
        var recorder = LatencyRecorder()
        var value: UInt64 = 7_000
        for _ in benchmark.scaledIterations {
            for _ in 0..<1000 {
                value = value &* 6364136223846793005 &+ 1442695040888963407
                recorder.record(5_000 + (value >> 48))
            }
        }
        blackHole(recorder.count)
    }

    Benchmark("LatencyRecorder.summary") { benchmark in
        var recorder = LatencyRecorder()
        for v in 0..<100_000 { recorder.record(UInt64(5_000 + v % 50_000)) }
        for _ in benchmark.scaledIterations {
            blackHole(recorder.summary())
        }
    }
}
