import Foundation
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatKit
import WirelatTestSupport

extension InProcess {
    @Suite("A server under abuse")
    struct UnderAbuse {
        @Test("garbage, silence, half a request, a reset mid-message and a 4 GiB length; then a normal test still works")
        func abuseThenNormalTest() async throws {
            try await withServer({ $0.handshakeTimeoutNanoseconds = 300_000_000 }) { server in
                for abuse in Abuse.allCases {
                    let problems = commit(abuse, port: server.port)
                    #expect(problems.isEmpty, "\(abuse): \(problems)")
                }
                let (settled, counted) = await server.waitUntil {
                    $0.counters.accepted == Abuse.allCases.count && $0.openConnections == 0 && $0.counters.resets >= 1
                }
                #expect(settled, "server counters: \(counted.counters), open \(counted.openConnections)")

                let report = try await runClient(loopbackSettings(port: server.port, length: 64, duration: .milliseconds(500)))
                #expect(report.error == nil)
                #expect(report.completed)
                #expect(report.samples > 0)
                #expect(report.server?.messages == report.samples)

                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 2 && $0.openConnections == 0 }
                #expect(ok, "server counters: \(snapshot.counters)")
                let c = snapshot.counters
                #expect(c.accepted == Abuse.allCases.count + 1)
                #expect(c.protocolErrors == 2, "the HTTP request and the random bytes")
                #expect(c.timeouts == 2, "the silent connection and the truncated request")
                #expect(c.resets == 1, "the reset mid-message")
                #expect(c.refused == 1, "the 4 GiB − 1 length")
                #expect(c.testsFinished == 2, "the reset test and the normal one")
                #expect(snapshot.log.contains { $0.contains("connection reset by the client") }, "server log: \(snapshot.log)")
                #expect(snapshot.log.contains { $0.contains("no test request within") }, "server log: \(snapshot.log)")
            }
        }

        @Test("port checks (connect then close, connect then reset, before a byte): counted apart, not logged, not resets; a normal test still works")
        func portChecks() async throws {
            try await withServer { server in
                for i in 0..<6 {
                    let raw = try RawConnection(port: server.port)
                    // Closed at the end of the iteration: 3 with a FIN, 3 with an RST.
                    if i % 2 == 1 { raw.socket.setLingerZero() }
                }
                let (settled, counted) = await server.waitUntil { $0.counters.accepted == 6 && $0.openConnections == 0 }
                #expect(settled, "server counters: \(counted.counters), open \(counted.openConnections)")
                let report = try await runClient(loopbackSettings(port: server.port, length: 0, duration: .milliseconds(300)))
                #expect(report.completed && report.error == nil, "\(String(describing: report.error))")
                let (ok, snapshot) = await server.waitUntil { $0.counters.testsFinished == 1 && $0.openConnections == 0 }
                #expect(ok, "server counters: \(snapshot.counters)")
                let c = snapshot.counters
                #expect(c.closedBeforeRequest == 6, "\(c)")
                #expect(c.resets == 0 && c.timeouts == 0 && c.protocolErrors == 0, "\(c)")
                #expect(snapshot.log.count == 1, "only the test's own line: \(snapshot.log)")
            }
        }

        @Test("50 abusive connections leave no descriptor behind")
        func noDescriptorLeak() async throws {
            // Dispatch opens a timerfd the first time a task sleeps on a clock; let that happen
            // before counting, with the same kinds of waits the test makes below.
            _ = await onThread("warm-up", timeout: .seconds(1)) { 0 }
            _ = await eventually(timeout: .milliseconds(20)) { false }
            let before = DescriptorCensus.take()
            try #require(before.all > 0)
            try await withServer({ $0.handshakeTimeoutNanoseconds = 300_000_000 }) { server in
                let port = server.port
                // The measurement sees the server's sockets: the listener, then one test connection.
                #expect(socketDescriptors(onLocalPort: port) == 1)
                do {
                    let probe = try RawConnection(port: port)
                    try probe.send(testRequest(length: 0))
                    #expect(controlMessage(in: try probe.read(count: 8 + 16)) != nil, "no answer to a test request")
                    #expect(await eventually(timeout: .seconds(3)) { socketDescriptors(onLocalPort: port) == 2 },
                            "descriptors on port \(port) with one client: \(socketDescriptors(onLocalPort: port))")
                }
                // All 50 at once, each on its own thread, so the silent ones time out together.
                let problems = await withTaskGroup(of: [String].self) { group in
                    for i in 0..<50 {
                        let abuse = Abuse.allCases[i % Abuse.allCases.count]
                        group.addTask {
                            await onThread("abuse-\(i)", timeout: .seconds(15)) { commit(abuse, port: port) }
                                ?? ["\(abuse): did not finish within 15 s"]
                        }
                    }
                    return await group.reduce(into: []) { $0 += $1 }
                }
                #expect(problems.isEmpty, "\(problems)")
                let (ok, snapshot) = await server.waitUntil { $0.counters.accepted == 51 && $0.openConnections == 0 }
                #expect(ok, "server counters: \(snapshot.counters), open \(snapshot.openConnections)")
                // While the server still runs, the only socket of its port left is the listener.
                #expect(await eventually(timeout: .seconds(3)) { socketDescriptors(onLocalPort: port) == 1 },
                        "descriptors on port \(port): \(socketDescriptors(onLocalPort: port))")
            }
            // Once the server and its loop are gone, this process holds as many TCP sockets,
            // epoll instances and timerfds as before. (The end-to-end tests run in this same
            // process and open files and pipes meanwhile, so `all` may differ; it is only shown.)
            let settled = await eventually(timeout: .seconds(3)) { DescriptorCensus.take().holdsNoMoreServerDescriptors(than: before) }
            let after = DescriptorCensus.take()
            #expect(settled, "before the server: \(before); after: \(after)")
        }
    }
}
