import Foundation
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatKit

/// Every test in this target opens descriptors, and the leak test counts this process's
/// descriptors before and after, so the in-process tests run one at a time.
@Suite("In process, on loopback", .serialized, .timeLimit(.minutes(1)))
struct InProcess {}

extension InProcess {
    @Suite("Server and client")
    struct ServerAndClient {
        @Test("a 1-second sync test: every round trip the client timed is a request the server counted", arguments: [0, 250])
        func syncTest(length: Int) async throws {
            try await withServer { server in
                let report = try await runClient(loopbackSettings(port: server.port, length: length))
                #expect(report.error == nil)
                #expect(report.completed)
                #expect(!report.interrupted)
                #expect(report.samples > 0)
                #expect(report.method == "tcp-reqresp")
                #expect(report.target == "127.0.0.1:\(server.port)")
                #expect(report.requestBytes == 12 + length)
                #expect(report.replyBytes == 4)
                #expect(report.intervals.count >= 1)
                let side = try #require(report.server, "the server's summary is missing from the report")
                #expect(side.messages == report.samples)
                #expect(side.payloadBytes == report.samples * UInt64(length))
                #expect(side.fsyncs == 0)
                #expect(report.rttNanoseconds.min > 0)
                #expect(report.rttNanoseconds.min <= report.rttNanoseconds.p50)
                #expect(report.rttNanoseconds.p50 <= report.rttNanoseconds.p99)
                #expect(report.rttNanoseconds.p99 <= report.rttNanoseconds.max)

                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 && $0.openConnections == 0 }
                #expect(ok, "server counters: \(snapshot.counters)")
                #expect(snapshot.counters.accepted == 1)
                #expect(snapshot.counters.protocolErrors == 0)
                #expect(snapshot.counters.resets == 0)
                #expect(snapshot.log.contains { $0.contains("messages=\(side.messages)") && $0.contains("outcome=finished") },
                        "server log: \(snapshot.log)")
            }
        }

        @Test("async mode: one acknowledgement timed per ackEvery messages the server counted")
        func asyncTest() async throws {
            try await withServer { server in
                var settings = loopbackSettings(port: server.port, length: 1000)
                settings.mode = .async
                let report = try await runClient(settings)
                #expect(report.error == nil)
                #expect(report.completed)
                #expect(report.method == "tcp-async-ack")
                #expect(report.mode == .async)
                #expect(report.samples > 0)
                let side = try #require(report.server)
                #expect(side.messages >= report.samples)
                #expect(report.samples == side.messages / UInt64(settings.asyncAckEvery),
                        "\(side.messages) messages, an ack every \(settings.asyncAckEvery)")
                #expect(side.payloadBytes == side.messages * 1000)
            }
        }

        @Test("200 concurrent sync connections: one test, 200 connections on the server")
        func twoHundredConnections() async throws {
            raiseDescriptorLimit()
            try await withServer { server in
                var settings = loopbackSettings(port: server.port)
                settings.connections = 200
                let report = try await runClient(settings)
                #expect(report.error == nil)
                #expect(report.completed)
                #expect(report.connections == 200)
                #expect(report.samples >= 200, "every connection completes at least one round trip")
                let side = try #require(report.server)
                #expect(side.messages == report.samples)
                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 && $0.openConnections == 0 }
                #expect(ok, "server counters: \(snapshot.counters), open \(snapshot.openConnections)")
                #expect(snapshot.counters.accepted == 200)
                #expect(snapshot.log.contains { $0.contains("connections=200") && $0.contains("outcome=finished") },
                        "server log: \(snapshot.log)")
            }
        }

        @Test("think time 2 ms: the server holds every reply, so no round trip is shorter than 2 ms")
        func thinkTime() async throws {
            try await withServer({ $0.thinkTimeNanoseconds = 2_000_000 }) { server in
                let report = try await runClient(loopbackSettings(port: server.port, duration: .milliseconds(500)))
                #expect(report.completed)
                #expect(report.samples > 0)
                #expect(report.rttNanoseconds.min >= 2_000_000, "min RTT \(report.rttNanoseconds.min) ns")
                #expect(report.server?.thinkTimeNanoseconds == 2_000_000)
                #expect(report.server?.messages == report.samples)
            }
        }

        @Test("write-dir: the server writes every payload byte and fsyncs once per message")
        func writeDirectory() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wlt-io-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let length = 100
            try await withServer({ $0.writeDirectory = dir }) { server in
                var settings = loopbackSettings(port: server.port, length: length, duration: .milliseconds(500))
                settings.wantsDiskWrite = true
                let report = try await runClient(settings)
                #expect(report.error == nil)
                #expect(report.completed)
                let side = try #require(report.server)
                #expect(side.diskWrite)
                #expect(side.messages > 0)
                #expect(side.messages == report.samples)
                #expect(side.fsyncs == side.messages)
                #expect(side.fsyncMaxNanoseconds > 0)
                _ = await server.waitUntil { $0.counters.testsFinished == 1 }

                let files = try FileManager.default.contentsOfDirectory(atPath: dir)
                try #require(files.count == 1, "files written: \(files)")
                #expect(files[0].hasPrefix("wirelat-") && files[0].hasSuffix("-0.dat"), "\(files[0])")
                let size = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(files[0])")[.size] as? Int
                #expect(size == Int(side.messages) * length, "file of \(size ?? -1) bytes for \(side.messages) messages of \(length)")
            }
        }

        @Test("write-dir, async mode and 4 connections: the summary counts an fsync for every message, and every byte is on disk",
              arguments: [(TestMode.async, 1), (TestMode.sync, 4)])
        func writeDirectoryStreams(mode: TestMode, connections: Int) async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wlt-io-\(UInt32.random(in: 0...UInt32.max))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let length = 1000
            try await withServer({ $0.writeDirectory = dir }) { server in
                var settings = loopbackSettings(port: server.port, length: length, duration: .milliseconds(500))
                settings.mode = mode
                settings.connections = connections
                settings.wantsDiskWrite = true
                let report = try await runClient(settings)
                #expect(report.error == nil)
                #expect(report.completed)
                let side = try #require(report.server)
                #expect(side.messages > 0)
                #expect(side.fsyncs == side.messages, "\(side.fsyncs) fsyncs for \(side.messages) messages")
                _ = await server.waitUntil { $0.counters.testsFinished == 1 }

                let files = try FileManager.default.contentsOfDirectory(atPath: dir)
                #expect(files.count == connections, "files written: \(files)")
                let total = try files.reduce(0) { sum, name in
                    sum + ((try FileManager.default.attributesOfItem(atPath: "\(dir)/\(name)")[.size] as? Int) ?? 0)
                }
                #expect(total == Int(side.messages) * length, "\(total) bytes on disk for \(side.messages) messages of \(length)")
            }
        }

        @Test("a length above the server's maximum is refused, and the report says so")
        func lengthAboveServerMaximum() async throws {
            try await withServer({ $0.maxPayloadLength = 1000 }) { server in
                let report = try await runClient(loopbackSettings(port: server.port, length: 2000))
                #expect(!report.completed)
                #expect(report.samples == 0)
                let error = try #require(report.error)
                #expect(error.contains("refused"), "\(error)")
                #expect(error.contains("2000"), "\(error)")
                let (ok, snapshot) = await server.waitUntil { $0.counters.refused == 1 }
                #expect(ok, "server counters: \(snapshot.counters)")
            }
        }

        @Test("nothing listening: connection refused, reported as an error")
        func connectionRefused() async throws {
            let port = try closedPort()
            let report = try await runClient(loopbackSettings(port: port))
            #expect(!report.completed)
            #expect(report.samples == 0)
            let error = try #require(report.error)
            #expect(error.lowercased().contains("refused"), "\(error)")
            #expect(error.contains("127.0.0.1:\(port)"), "\(error)")
        }
    }
}
