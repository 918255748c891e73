@preconcurrency import Glibc

/// A thread of its own for a loop that must not share one: the agent's metrics endpoint,
/// whose answers (rendering a few megabytes of text) would otherwise delay the probes'
/// timestamps. Started at once; ``join()`` waits for `body` to return.
public final class ServiceThread: @unchecked Sendable {
    private var thread = pthread_t()
    private var joined = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    /// Runs `body` on a new thread. The corresponding C function is `pthread_create`.
    public init(_ body: @escaping @Sendable () -> Void) throws(SystemError) {
        pthread_mutex_init(lock, nil)
        do {
            thread = try startThread(body, attributes: nil)
        } catch {
            pthread_mutex_destroy(lock)
            lock.deallocate()
            throw error
        }
    }

    /// Runs `body` on a new detached thread (nobody joins it; it ends when `body`
    /// returns) with a stack of `stackBytes`, so hundreds of probe threads stay cheap. The
    /// corresponding C functions are `pthread_attr_setstacksize`,
    /// `pthread_attr_setdetachstate` and `pthread_create`.
    public static func detach(stackBytes: Int = 512 << 10, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        let page = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))
        pthread_attr_setstacksize(&attributes, max(Int(PTHREAD_STACK_MIN), (stackBytes + page - 1) / page * page))
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        _ = try startThread(body, attributes: &attributes)
    }

    deinit {
        join()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Waits for the thread's body to return; later calls return at once. Never call it
    /// from the thread itself. The corresponding C function is `pthread_join`.
    public func join() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }
}

/// What a new thread runs, handed over through `pthread_create`'s argument.
private final class ThreadStart {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

private func startThread(_ body: @escaping @Sendable () -> Void, attributes: UnsafePointer<pthread_attr_t>?) throws(SystemError) -> pthread_t {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    let status = pthread_create(&thread, attributes, { context in
        Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context)
    if status != 0 {
        Unmanaged<ThreadStart>.fromOpaque(context).release()
        throw SystemError(call: "pthread_create", errno: status)
    }
    return thread
}
