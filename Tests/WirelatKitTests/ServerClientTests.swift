import Foundation
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatKit
import WirelatTestSupport

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
                #expect(report.clock == .wire && report.appRttNanoseconds?.count == report.samples)
                let wire = try #require(report.wireRttNanoseconds, "no wire clock: \(report.wireClockMissing ?? "")")
                #expect(wire.count + (report.kernelTimestampFallbacks ?? 0) == report.samples, "every round trip is on the wire clock or counted as lacking a timestamp")
                #expect(report.appRttNanoseconds!.p50 >= wire.p50)
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

        @Test("write-dir: the server writes every payload byte, fsyncs once per message, and removes its file when the test ends")
        func writeDirectory() async throws {
            let dir = try scratchDirectory()
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
                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 }
                #expect(ok, "server counters: \(snapshot.counters)")
                #expect(snapshot.log.contains { $0.contains("disk_write=yes") && $0.contains("disk_bytes=\(Int(side.messages) * length)") },
                        "the log does not show \(side.messages) messages of \(length) bytes written: \(snapshot.log)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "files left behind")
            }
        }

        @Test("write-dir, a client without --write: nothing is written, no file is left, and the server's line says disk_write=no")
        func writeDirectoryNotAsked() async throws {
            let dir = try scratchDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await withServer({ $0.writeDirectory = dir }) { server in
                let report = try await runClient(loopbackSettings(port: server.port, length: 100, duration: .milliseconds(300)))
                #expect(report.completed)
                let side = try #require(report.server)
                #expect(!side.diskWrite, "the server said it writes for a client that did not ask")
                #expect(side.fsyncs == 0)
                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 }
                #expect(ok, "server counters: \(snapshot.counters)")
                #expect(snapshot.log.contains { $0.contains("disk_write=no") }, "server log: \(snapshot.log)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "files left behind")
            }
        }

        @Test("write-dir: a --write connection that dies mid-test leaves no file")
        func writeDirectoryConnectionDies() async throws {
            let dir = try scratchDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await withServer({ $0.writeDirectory = dir }) { server in
                let connection = try RawConnection(port: server.port)
                try connection.send(ControlMessage.request(TestRequest(
                    mode: .sync, wantsDiskWrite: true, payloadLength: 1000, durationNanoseconds: 0, testID: 7)).encoded())
                let ready = try connection.read(count: WireProtocol.controlHeaderSize + 16)
                guard case .ready(let r) = controlMessage(in: ready) else {
                    Issue.record("no ready message: \(ready)")
                    return
                }
                #expect(r.diskWrite)
                for sequence in 0..<3 as Range<UInt32> {
                    try connection.send(dataMessage(sequence: sequence, length: 1000))
                    #expect(try connection.read(count: 4) == [0, 0, 0, UInt8(sequence)])
                }
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 1, "no data file while the test runs")
                connection.socket.close()
                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 }
                #expect(ok, "server counters: \(snapshot.counters)")
                #expect(snapshot.log.contains { $0.contains("mid-test") }, "server log: \(snapshot.log)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "files left behind")
            }
        }

        @Test("write-dir, async mode and 4 connections: the summary counts an fsync for every message, every byte is written, and no file is left",
              arguments: [(TestMode.async, 1), (TestMode.sync, 4)])
        func writeDirectoryStreams(mode: TestMode, connections: Int) async throws {
            let dir = try scratchDirectory()
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
                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 }
                #expect(ok, "server counters: \(snapshot.counters)")
                #expect(snapshot.log.contains { $0.contains("disk_bytes=\(Int(side.messages) * length)") },
                        "the log does not show \(side.messages) messages of \(length) bytes written: \(snapshot.log)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "files left behind")
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

/// A fresh directory under the temporary directory; the caller removes it.
func scratchDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wlt-io-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
