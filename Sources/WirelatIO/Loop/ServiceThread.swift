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
        final class Start {
            let body: @Sendable () -> Void
            init(body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Start(body: body)).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Start>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        if status != 0 {
            Unmanaged<Start>.fromOpaque(context).release()
            pthread_mutex_destroy(lock)
            lock.deallocate()
            throw SystemError(call: "pthread_create", errno: status)
        }
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
