import Foundation
import Testing
@preconcurrency import Glibc
import WirelatCore
import WirelatIO
import WirelatTestSupport

extension InProcess {
    @Suite("BlockingCallPool")
    struct BlockingCallPoolTests {
        struct Outcome: Sendable {
            var completed: [Int] = []
            var onLoopThread = true
            var timersWhileBlocked = 0
            var failure: BlockingCallResult?
        }

        @Test("200 calls and one that blocks until the loop's timers have fired 3 times: each completion runs once, on the loop's thread; a failed call reports its errno")
        func callsComplete() async throws {
            let result: Result<Outcome, TestFailure>? = await onThread("loop", timeout: .seconds(10)) {
                do {
                    let loop = try EventLoop()
                    let pool = try BlockingCallPool(threads: 4, loop: loop)
                    let loopThread = pthread_self()
                    var outcome = Outcome()
                    var gate: [CInt] = [-1, -1]
                    guard pipe(&gate) == 0 else { return .failure(TestFailure("pipe: \(errno)")) }
                    defer { Glibc.close(gate[0]); Glibc.close(gate[1]) }
                    let gateRead = gate[0]
                    var gateOpened = false
                    pool.submit({
                        var byte: UInt8 = 0
                        return Int64(Glibc.read(gateRead, &byte, 1))
                    }) { r in gateOpened = r.result == 1 }
                    for i in 0..<200 {
                        pool.submit({ Int64(i) }) { r in
                            outcome.completed.append(Int(r.result))
                            if pthread_equal(pthread_self(), loopThread) == 0 { outcome.onLoopThread = false }
                        }
                    }
                    pool.submit({ Int64(Glibc.fsync(-1)) }) { r in outcome.failure = r }
                    func tick() {
                        _ = loop.schedule(after: 200_000) {
                            outcome.timersWhileBlocked += 1
                            if outcome.timersWhileBlocked == 3 {
                                var byte: UInt8 = 1
                                _ = Glibc.write(gate[1], &byte, 1)
                            }
                            if gateOpened && pool.pending == 0 { loop.stop() } else { tick() }
                        }
                    }
                    tick()
                    let watchdog = loop.schedule(after: 5_000_000_000) { loop.stop() }
                    try loop.run()
                    loop.cancel(watchdog)
                    pool.shutdown()
                    if !gateOpened { return .failure(TestFailure("the blocking call never returned")) }
                    return .success(outcome)
                } catch {
                    return .failure(TestFailure("\(error)"))
                }
            }
            let outcome = try #require(result).get()
            #expect(outcome.completed.sorted() == Array(0..<200), "completions: \(outcome.completed.count)")
            #expect(outcome.onLoopThread, "a completion ran off the loop's thread")
            #expect(outcome.timersWhileBlocked >= 3)
            let failure = try #require(outcome.failure, "the failing call never completed")
            #expect(failure.failed && failure.errno == EBADF, "\(failure)")
        }

        @Test("shutdown with calls still queued: joins its threads and drops their completions")
        func shutdownWithQueuedCalls() async throws {
            let result: Result<Int, TestFailure>? = await onThread("loop", timeout: .seconds(10)) {
                do {
                    let loop = try EventLoop()
                    let pool = try BlockingCallPool(threads: 1, loop: loop)
                    var completions = 0
                    for _ in 0..<50 {
                        pool.submit({ usleep(1_000); return 0 }) { _ in completions += 1 }
                    }
                    pool.shutdown()
                    _ = loop.schedule(after: 20_000_000) { loop.stop() }
                    try loop.run()
                    return .success(completions + pool.pending)
                } catch {
                    return .failure(TestFailure("\(error)"))
                }
            }
            #expect(try #require(result).get() == 0)
        }
    }
}
