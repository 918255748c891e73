import Foundation
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatTestSupport

extension InProcess {
    @Suite("EventLoop")
    struct EventLoopTests {
        struct Firing: Sendable {
            let tag: Int
            let deadline: UInt64
            let firedAt: UInt64
        }

        @Test("timers fire in deadline order, never early, and a cancelled timer never fires")
        func timersInOrder() async throws {
            let result: Result<[Firing], TestFailure>? = await onThread("loop", timeout: .seconds(5)) {
                let loop: EventLoop
                do { loop = try EventLoop() } catch { return .failure(TestFailure("\(error)")) }
                var fired: [Firing] = []
                let base = monotonicNanoseconds()
                @discardableResult
                func at(_ offsetMs: UInt64, _ tag: Int) -> TimerID {
                    let deadline = base + offsetMs * 1_000_000
                    return loop.schedule(at: deadline) { fired.append(Firing(tag: tag, deadline: deadline, firedAt: monotonicNanoseconds())) }
                }
                at(30, 3)
                at(10, 1)
                let cancelled = at(15, 99)
                at(20, 2)
                at(0, 0) // already due
                loop.cancel(cancelled)
                // A timer scheduled from inside another.
                let nestedDeadline = base + 12_000_000
                loop.schedule(at: base + 11_000_000) {
                    loop.schedule(at: nestedDeadline) { fired.append(Firing(tag: 12, deadline: nestedDeadline, firedAt: monotonicNanoseconds())) }
                }
                // A cancelled timer that was the earliest: the loop must re-arm for the next one.
                let early = at(5, 98)
                loop.cancel(early)
                loop.schedule(at: base + 60_000_000) { loop.stop() }
                do { try loop.run() } catch { return .failure(TestFailure("\(error)")) }
                return .success(fired)
            }
            let fired = try #require(result, "the loop did not stop within 5 s").get()
            #expect(fired.map(\.tag) == [0, 1, 12, 2, 3])
            for f in fired {
                #expect(f.firedAt >= f.deadline, "timer \(f.tag) fired \(f.deadline - f.firedAt) ns early")
            }
        }

        @Test("500 timers at random deadlines, a third cancelled: the rest fire once each, sorted by deadline")
        func manyTimers() async throws {
            let result: Result<([UInt64], [UInt64]), TestFailure>? = await onThread("loop", timeout: .seconds(5)) {
                let loop: EventLoop
                do { loop = try EventLoop() } catch { return .failure(TestFailure("\(error)")) }
                var fired: [UInt64] = []
                var expected: [UInt64] = []
                let base = monotonicNanoseconds()
                for i in 0..<500 {
                    let deadline = base + UInt64.random(in: 0...40_000_000)
                    let id = loop.schedule(at: deadline) { fired.append(deadline) }
                    if i % 3 == 0 { loop.cancel(id) } else { expected.append(deadline) }
                }
                loop.schedule(at: base + 80_000_000) { loop.stop() }
                do { try loop.run() } catch { return .failure(TestFailure("\(error)")) }
                return .success((fired, expected.sorted()))
            }
            let (fired, expected) = try #require(result, "the loop did not stop within 5 s").get()
            #expect(fired == expected)
        }

        @Test("an event for a descriptor closed in the same batch never reaches the handler of a new descriptor with its number")
        func staleEventDropped() async throws {
            let result: Result<(swapped: Bool, staleCalls: Int), TestFailure>? = await onThread("loop", timeout: .seconds(5)) {
                do {
                    let loop = try EventLoop()
                    // Two pipes, both readable before the loop starts, so one epoll_wait
                    // returns both events.
                    var first: [CInt] = [-1, -1]
                    var second: [CInt] = [-1, -1]
                    guard pipe(&first) == 0, pipe(&second) == 0 else {
                        return .failure(TestFailure("pipe: errno \(errno)"))
                    }
                    var byte: UInt8 = 1
                    guard write(first[1], &byte, 1) == 1, write(second[1], &byte, 1) == 1 else {
                        return .failure(TestFailure("write: errno \(errno)"))
                    }
                    var swapped = false
                    var staleCalls = 0
                    var replacement: [CInt] = [-1, -1]
                    // Whichever handler runs first closes the other read end and puts a new,
                    // never-written pipe at the same descriptor number (dup2), registered
                    // with its own handler; the old descriptor's event, already in this
                    // batch, must be dropped rather than reach it.
                    func swapOut(_ victim: CInt) {
                        guard !swapped else { return }
                        swapped = true
                        loop.deregister(victim)
                        // dup2 closes the victim and puts the new pipe in its place in one
                        // step: a close first would leave the number free for another
                        // thread's descriptor, which dup2 would then close.
                        guard pipe(&replacement) == 0, dup2(replacement[0], victim) == victim else { return }
                        _ = close(replacement[0])
                        replacement[0] = victim
                        try? loop.register(victim, interest: .readable) { _ in staleCalls += 1 }
                        loop.stop()
                    }
                    try loop.register(first[0], interest: .readable) { _ in swapOut(second[0]) }
                    try loop.register(second[0], interest: .readable) { _ in swapOut(first[0]) }
                    let watchdog = loop.schedule(after: 3_000_000_000) { loop.stop() }
                    try loop.run()
                    loop.cancel(watchdog)
                    for fd in first + second + replacement where fd >= 0 {
                        loop.deregister(fd)
                        _ = close(fd)
                    }
                    return .success((swapped, staleCalls))
                } catch {
                    return .failure(TestFailure("\(error)"))
                }
            }
            let outcome = try #require(result, "the loop did not stop within 5 s").get()
            #expect(outcome.swapped)
            #expect(outcome.staleCalls == 0, "the closed descriptor's event reached the new descriptor's handler")
        }

        @Test("a registered descriptor's handler runs when it becomes readable")
        func readiness() async throws {
            let result: Result<String, TestFailure>? = await onThread("loop", timeout: .seconds(5)) {
                do {
                    let loop = try EventLoop()
                    let listener = try TCPSocket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: 0))
                    guard let port = listener.localAddress?.port else { return .failure(TestFailure("no local address")) }
                    var accepted: TCPSocket?
                    try loop.register(listener.rawValue, interest: .readable) { events in
                        if events.contains(.readable), case .processed(let s)? = try? listener.accept() {
                            accepted = s
                            loop.stop()
                        }
                    }
                    let client = try TCPSocket(family: AF_INET)
                    _ = try client.startConnect(to: try SocketAddress.resolve(host: "127.0.0.1", port: port))
                    let watchdog = loop.schedule(after: 3_000_000_000) { loop.stop() }
                    try loop.run()
                    loop.cancel(watchdog)
                    loop.deregister(listener.rawValue)
                    guard let accepted else { return .failure(TestFailure("the listener's handler never accepted")) }
                    return .success(accepted.peerAddress?.description == client.localAddress?.description ? "ok" : "peer mismatch")
                } catch {
                    return .failure(TestFailure("\(error)"))
                }
            }
            #expect(try #require(result).get() == "ok")
        }
    }

    @Suite("TCPSocket and SocketAddress")
    struct SocketTests {
        @Test("numeric addresses resolve and print as host:port, IPv6 in brackets")
        func addresses() throws {
            let v6 = try SocketAddress.resolve(host: "::1", port: 5555)
            #expect(v6.isIPv6)
            #expect(v6.family == AF_INET6)
            #expect(v6.host == "::1")
            #expect(v6.port == 5555)
            #expect(v6.description == "[::1]:5555")

            let bracketed = try SocketAddress.resolve(host: "[::1]", port: 80)
            #expect(bracketed.description == "[::1]:80")

            let v4 = try SocketAddress.resolve(host: "127.0.0.1", port: 1521)
            #expect(!v4.isIPv6)
            #expect(v4.family == AF_INET)
            #expect(v4.host == "127.0.0.1")
            #expect(v4.port == 1521)
            #expect(v4.description == "127.0.0.1:1521")

            let ula = try SocketAddress.resolve(host: "fd00:77::2", port: 65535)
            #expect(ula.description == "[fd00:77::2]:65535")

            // A name with both families resolves to IPv4 first.
            #expect(try SocketAddress.resolve(host: "localhost", port: 7).description == "127.0.0.1:7")
        }

        @Test("a malformed numeric address does not resolve")
        func badAddress() {
            #expect(throws: ResolveError.self) { try SocketAddress.resolve(host: "[::1", port: 1) }
        }

        @Test("listen, connect, accept, send, read, end of stream — IPv4 and IPv6", arguments: ["127.0.0.1", "::1"])
        func roundTrip(host: String) throws {
            let listener = try TCPSocket.listen(on: try SocketAddress.resolve(host: host, port: 0))
            let local = try #require(listener.localAddress)
            #expect(local.port != 0)
            #expect(local.description == (host.contains(":") ? "[::1]:\(local.port)" : "127.0.0.1:\(local.port)"))

            let client = try RawConnection(port: local.port, host: host)
            try client.socket.setNoDelay()
            #expect(client.socket.intOption(CInt(IPPROTO_TCP), TCP_NODELAY) == 1)

            var p = pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)
            try #require(Glibc.poll(&p, 1, 2000) == 1, "no connection to accept")
            guard case .processed(let server) = try listener.accept() else {
                Issue.record("accept would block after poll said readable")
                return
            }
            #expect(server.peerAddress == client.socket.localAddress)
            #expect(server.localAddress == local)

            try client.send(Array("ping".utf8))
            let serverSide = RawConnection(socket: server)
            #expect(try serverSide.read(count: 4) == Array("ping".utf8))
            client.socket.shutdownWrite()
            let rest = serverSide.readUntilClosed(timeoutMilliseconds: 2000)
            #expect(rest.closed && rest.bytes.isEmpty, "read after the peer's FIN: \(rest)")
        }

        @Test("a second listener on a port in use fails with EADDRINUSE")
        func addressInUse() throws {
            let first = try TCPSocket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: 0))
            let port = try #require(first.localAddress?.port)
            let error = #expect(throws: SystemError.self) {
                try TCPSocket.listen(on: try SocketAddress.resolve(host: "127.0.0.1", port: port))
            }
            #expect(error?.errno == EADDRINUSE)
        }

        @Test("connecting to a closed port fails with ECONNREFUSED")
        func refused() throws {
            let port = try closedPort()
            let address = try SocketAddress.resolve(host: "127.0.0.1", port: port)
            let socket = try TCPSocket(family: address.family)
            do {
                if try !socket.startConnect(to: address) {
                    var p = pollfd(fd: socket.rawValue, events: Int16(POLLOUT), revents: 0)
                    try #require(Glibc.poll(&p, 1, 2000) == 1)
                    let error = try #require(socket.pendingError())
                    #expect(error.errno == ECONNREFUSED)
                    #expect(error.isConnectionLoss == false)
                } else {
                    Issue.record("connect to a closed port succeeded")
                }
            } catch let error as SystemError {
                #expect(error.errno == ECONNREFUSED)
            }
        }
    }
}
