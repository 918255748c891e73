@preconcurrency import Glibc
import CWirelatShim

/// What a blocking call returned on a worker thread: its result, `errno` when the result
/// was -1, and how long the call took.
public struct BlockingCallResult: Sendable {
    public var result: Int64
    public var errno: CInt
    public var nanoseconds: UInt64

    public var failed: Bool { result == -1 }
}

/// A few threads that make blocking calls (fsync(2), say) for an event loop, so the loop
/// never waits on one; each result comes back on the loop's thread, through an eventfd.
///
/// Calls run in submission order as threads come free; a caller that needs two calls in
/// order submits the second from the first one's completion.
public final class BlockingCallPool {
    public typealias Call = @Sendable () -> Int64
    public typealias Completion = (BlockingCallResult) -> Void

    private let loop: EventLoop
    private let wakeFD: FileDescriptor
    private let shared: Shared
    private var threads: [pthread_t] = []
    private var completions: [UInt64: Completion] = [:]
    private var nextID: UInt64 = 1

    /// Starts `threads` workers and registers the wake-up descriptor with `loop`.
    /// The corresponding C functions are `eventfd` and `pthread_create`.
    public init(threads count: Int, loop: EventLoop) throws(SystemError) {
        self.loop = loop
        let fd = try retrying("eventfd") { wl_eventfd() }
        wakeFD = FileDescriptor(owning: fd)
        shared = Shared(wakeFD: fd)
        try loop.register(fd, interest: .readable) { [unowned self] _ in self.drain() }
        for _ in 0..<max(1, count) {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(shared).toOpaque()
            let status = pthread_create(&thread, nil, { context in
                Unmanaged<Shared>.fromOpaque(context!).takeRetainedValue().work()
                return nil
            }, context)
            if status != 0 {
                Unmanaged<Shared>.fromOpaque(context).release()
                shutdown()
                throw SystemError(call: "pthread_create", errno: status)
            }
            threads.append(thread)
        }
    }

    deinit {
        shutdown()
    }

    /// Calls still running or waiting for a thread.
    public var pending: Int { completions.count }

    /// Runs `call` on a worker thread; `completion` runs later on the loop's thread, unless
    /// the pool is shut down first.
    public func submit(_ call: @escaping Call, completion: @escaping Completion) {
        let id = nextID
        nextID &+= 1
        completions[id] = completion
        shared.enqueue(id, call)
    }

    /// Lets running calls finish, drops queued ones, and joins the threads.
    /// The corresponding C function is `pthread_join`.
    public func shutdown() {
        guard !threads.isEmpty || !completions.isEmpty else { return }
        shared.stop()
        for thread in threads { pthread_join(thread, nil) }
        threads = []
        completions = [:]
        loop.deregister(wakeFD.rawValue)
    }

    private func drain() {
        var counter: UInt64 = 0
        // Resets the eventfd; the results are taken from the queue, not the count, so a
        // failed read (EAGAIN: already reset) loses nothing.
        _ = Glibc.read(wakeFD.rawValue, &counter, 8)
        for (id, result) in shared.takeFinished() {
            completions.removeValue(forKey: id)?(result)
        }
    }

    /// The queues both sides touch, under one mutex.
    private final class Shared: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let wakeFD: CInt
        private var queued: [(UInt64, Call)] = []
        private var queuedHead = 0
        private var finished: [(UInt64, BlockingCallResult)] = []
        private var stopping = false

        init(wakeFD: CInt) {
            self.wakeFD = wakeFD
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(condition, nil)
        }

        deinit {
            pthread_cond_destroy(condition)
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
            condition.deallocate()
        }

        func enqueue(_ id: UInt64, _ call: @escaping Call) {
            pthread_mutex_lock(mutex)
            queued.append((id, call))
            pthread_cond_signal(condition)
            pthread_mutex_unlock(mutex)
        }

        func stop() {
            pthread_mutex_lock(mutex)
            stopping = true
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }

        func takeFinished() -> [(UInt64, BlockingCallResult)] {
            pthread_mutex_lock(mutex)
            let done = finished
            finished = []
            pthread_mutex_unlock(mutex)
            return done
        }

        /// A worker thread's life: take a call, run it unlocked, post the result.
        func work() {
            pthread_mutex_lock(mutex)
            while true {
                while !stopping && queuedHead == queued.count { pthread_cond_wait(condition, mutex) }
                if stopping { break }
                let (id, call) = queued[queuedHead]
                queuedHead += 1
                if queuedHead == queued.count {
                    queued.removeAll(keepingCapacity: true)
                    queuedHead = 0
                }
                pthread_mutex_unlock(mutex)
                let start = monotonicNanoseconds()
                let result = call()
                let code = result == -1 ? Glibc.errno : 0
                let outcome = BlockingCallResult(result: result, errno: code, nanoseconds: monotonicNanoseconds() &- start)
                pthread_mutex_lock(mutex)
                finished.append((id, outcome))
                var one: UInt64 = 1
                // An eventfd write fails only when the counter would overflow, and the
                // loop resets it on every wake-up.
                _ = Glibc.write(wakeFD, &one, 8)
            }
            pthread_mutex_unlock(mutex)
        }
    }
}
