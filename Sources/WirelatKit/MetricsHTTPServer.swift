import Synchronization
import WirelatCore
import WirelatIO

/// The agent's HTTP endpoint (`/metrics`, `/-/healthy`, `/`): HTTP/1.1 with keep-alive
/// on one epoll loop, hardened against clients that misbehave.
///
/// - GET and HEAD only (others 405); a request with a body (Content-Length above 0,
///   Transfer-Encoding) is answered 413 and closed; what is not HTTP/1.x, 400 and closed.
/// - A request head must be complete within ``Limits/headTimeoutNanoseconds``, counted
///   from the accept or from the end of the previous response; a head above
///   ``Limits/requestHeadBytes`` is answered 431 and closed.
/// - At ``Limits/maxConnections``, the oldest connection without a complete request is
///   closed to make room, so idle connections never lock a scraper out.
/// - Writes never block; a response is read one at a time (pipelined requests wait in
///   the kernel), and a client that does not take its response within
///   ``Limits/responseTimeoutNanoseconds`` is closed.
/// - After the last answer on a connection (an error, HTTP/1.0, `Connection: close`) the
///   server sends its FIN and reads what the client still sends for up to
///   ``Limits/lingerNanoseconds`` before it closes, so the answer is not lost to a reset.
///
/// Every connection the server closes on its own is counted by reason in ``stats``; with
/// `appendsOwnMetrics`, those counters follow the handler's body on every `/metrics`
/// answer (see ``HTTPServerStats``).
///
/// Threads: `init` binds and listens on the caller's thread; ``run(stop:)`` runs the
/// server's own ``EventLoop`` on the thread that calls it (the handler runs there, one
/// request at a time) until ``stop()`` is called from any thread or `stop` fires;
/// ``start()`` does the same on a thread of its own, which ``stop()`` joins.
/// ``stats`` and ``boundPort`` may be read from any thread. Every other piece of state is
/// touched only by the thread in ``run(stop:)``, which is why the class can be handed
/// to that thread.
public final class MetricsHTTPServer: @unchecked Sendable {
    /// The answer to one request: status code, Content-Type and body.
    public typealias Response = (status: Int, contentType: String, body: [UInt8])
    /// Called on the server's thread with the request's path (no query).
    public typealias Handler = @Sendable (_ path: String) -> Response

    public struct Limits: Sendable {
        /// The largest request head (request line and header fields) read; above it, 431.
        public var requestHeadBytes = 8192
        /// How long a request head may take to arrive, from the accept or from the end of
        /// the previous response.
        public var headTimeoutNanoseconds: UInt64 = 5_000_000_000
        /// How long a kept-alive connection may wait for the first byte of its next request;
        /// from that byte on, the head timeout applies. nil: the head timeout counts from
        /// the end of the previous response. Set it above the scrape interval to keep a
        /// scraper's connection open between scrapes; idle connections are still the
        /// first closed at the connection limit.
        public var keepAliveIdleNanoseconds: UInt64?
        /// Connections held at once; a new one beyond closes the oldest that has no
        /// complete request.
        public var maxConnections = 256
        /// The most output queued on one connection. Answers go out one at a time, so this
        /// bounds the answer: a larger one closes the connection (`response_too_large`).
        public var outputBytes = 64 << 20
        /// How long a client may take to read its whole response.
        public var responseTimeoutNanoseconds: UInt64 = 10_000_000_000
        /// How long, after an error answer, the server reads and discards what the client
        /// still sends before it closes.
        public var lingerNanoseconds: UInt64 = 1_000_000_000

        public init() {}
    }

    public let limits: Limits
    private let handler: Handler
    private let appendsOwnMetrics: Bool
    private var listener: TCPSocket?
    private let port: UInt16
    private let shared = Mutex(HTTPServerStats())
    private let stopRequested = Atomic(false)
    /// The thread ``start()`` made, until ``stop()`` joins it.
    private let serviceThread = Mutex<ServiceThread?>(nil)
    private let loopFailure = Mutex<String?>(nil)

    // Owned by the thread in `run`.
    private var loop: EventLoop?
    private var connections: [CInt: HTTPConnection] = [:]
    private var nextConnectionID: UInt64 = 0
    private var acceptPaused = false
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)

    /// Binds `host`:`port` (port 0: any free port, see ``boundPort``) and listens; `::`
    /// falls back to 0.0.0.0 where IPv6 is unavailable. `appendsOwnMetrics` adds the
    /// server's own counters to every 200 answer for `/metrics`. Throws a one-line error
    /// (a port in use says so).
    public init(host: String, port: UInt16, limits: Limits = .init(), appendsOwnMetrics: Bool = true,
                handler: @escaping Handler) throws(MetricsHTTPServerError) {
        self.limits = limits
        self.handler = handler
        self.appendsOwnMetrics = appendsOwnMetrics
        let address: SocketAddress
        do {
            address = try SocketAddress.resolve(host: host, port: port, passive: true)
        } catch {
            throw MetricsHTTPServerError(description: "listen address \(host): \(error.reason)")
        }
        let socket: TCPSocket
        do {
            socket = try TCPSocket.listen(on: address, backlog: 1024)
        } catch let e where e.errno == Errno.addressFamilyNotSupported && address.isIPv6 && host == "::" {
            do {
                socket = try TCPSocket.listen(on: try SocketAddress.resolve(host: "0.0.0.0", port: port, passive: true), backlog: 1024)
            } catch {
                throw MetricsHTTPServerError(description: "cannot listen on port \(port): \(error)")
            }
        } catch {
            let hint = error.errno == Errno.addressInUse ? " (port \(port) is in use by another process)" : ""
            throw MetricsHTTPServerError(description: "cannot listen on \(address): \(error)\(hint)")
        }
        listener = socket
        self.port = socket.localAddress?.port ?? port
    }

    deinit {
        for c in connections.values {
            loop?.deregister(c.socket.rawValue)
            c.socket.close()
        }
        if let listener {
            loop?.deregister(listener.rawValue)
            listener.close()
        }
    }

    /// The port the server listens on (the one the kernel chose for port 0).
    public var boundPort: UInt16 { port }

    /// What the server has counted so far; from any thread.
    public var stats: HTTPServerStats { shared.withLock { $0 } }

    /// Serves on a thread of its own (``run(stop:)`` there), so that rendering an answer
    /// never delays the caller's loop; ``stop()`` ends it. The corresponding C function is
    /// `pthread_create`.
    public func start() throws(MetricsHTTPServerError) {
        let thread: ServiceThread
        do {
            thread = try ServiceThread { [self] in
                do {
                    try self.run()
                } catch {
                    let reason = "\(error)"
                    self.loopFailure.withLock { $0 = reason }
                }
            }
        } catch {
            throw MetricsHTTPServerError(description: "cannot start the metrics server's thread: \(error)")
        }
        serviceThread.withLock { $0 = thread }
    }

    /// Why the loop that ``start()`` began ended on its own, if it did.
    public var failure: String? { loopFailure.withLock { $0 } }

    /// Makes ``run(stop:)`` return within 50 ms; from any thread. After ``start()``, also
    /// waits for the server's thread to close every connection and end (not to be called
    /// from the handler).
    public func stop() {
        stopRequested.store(true, ordering: .relaxed)
        let thread = serviceThread.withLock { t -> ServiceThread? in
            let started = t
            t = nil
            return started
        }
        thread?.join()
    }

    /// Serves on the calling thread until ``stop()`` is called or `stop` fires (SIGINT or
    /// SIGTERM with `.interrupt()`), then closes every connection and the listener. Throws
    /// when the loop cannot be made or fails.
    public func run(stop: StopSignal = .never) throws(MetricsHTTPServerError) {
        guard let listener else { throw MetricsHTTPServerError(description: "the metrics server was already run") }
        let loop: EventLoop
        do {
            loop = try EventLoop()
            try loop.register(listener.rawValue, interest: .readable) { [unowned self] _ in self.acceptAll() }
        } catch {
            throw MetricsHTTPServerError(description: "metrics server: \(error)")
        }
        self.loop = loop
        func watchForStop() {
            loop.schedule(after: 50_000_000) { [unowned self] in
                if self.stopRequested.load(ordering: .relaxed) || stop.received { loop.stop() } else { watchForStop() }
            }
        }
        watchForStop()
        defer {
            for fd in Array(connections.keys) { close(fd, dropped: nil) }
            loop.deregister(listener.rawValue)
            listener.close()
            self.listener = nil
            self.loop = nil
        }
        do {
            try loop.run()
        } catch {
            throw MetricsHTTPServerError(description: "metrics server: \(error)")
        }
    }

    // MARK: Connections

    private func count(_ change: (inout HTTPServerStats) -> Void) {
        shared.withLock { change(&$0) }
    }

    private func acceptAll() {
        guard let listener, let loop else { return }
        for _ in 0..<64 {
            let result: IOResult<TCPSocket>
            do {
                result = try listener.accept()
            } catch {
                if error.errno == Errno.tooManyOpenFiles || error.errno == Errno.tooManyOpenFilesInSystem {
                    pauseAccepting()
                }
                return
            }
            guard case .processed(let socket) = result else { return }
            count { $0.connectionsAccepted += 1 }
            if connections.count >= limits.maxConnections && !makeRoom() {
                // Every connection is busy with a request: this one waits for nothing.
                count { $0.connectionsDropped[.evicted, default: 0] += 1 }
                socket.close()
                continue
            }
            adopt(socket, loop: loop)
        }
    }

    /// Closes the oldest connection that has no complete request (an idle keep-alive, a
    /// silent or trickling client, one already closing); false when there is none.
    private func makeRoom() -> Bool {
        var oldest: HTTPConnection?
        for c in connections.values where c.phase != .responding {
            if oldest == nil || c.id < oldest!.id { oldest = c }
        }
        guard let oldest else { return false }
        close(oldest.socket.rawValue, dropped: oldest.phase == .lingering ? nil : .evicted)
        return true
    }

    private func pauseAccepting() {
        guard let listener, let loop, !acceptPaused else { return }
        acceptPaused = true
        loop.deregister(listener.rawValue)
        loop.schedule(after: 100_000_000) { [weak self] in
            guard let self, let listener = self.listener, let loop = self.loop else { return }
            self.acceptPaused = false
            try? loop.register(listener.rawValue, interest: .readable) { [unowned self] _ in self.acceptAll() }
        }
    }

    private func adopt(_ socket: TCPSocket, loop: EventLoop) {
        let fd = socket.rawValue
        nextConnectionID &+= 1
        let c = HTTPConnection(socket: socket, id: nextConnectionID)
        do {
            try loop.register(fd, interest: [.readable, .peerClosed]) { [unowned self] events in self.handle(fd, events) }
        } catch {
            socket.close()
            return
        }
        connections[fd] = c
        count { $0.openConnections = self.connections.count }
        awaitHead(c)
    }

    /// Starts the head timer: from now, the next request head has its timeout to arrive
    /// (or, on a kept-alive connection with ``Limits/keepAliveIdleNanoseconds``, its first byte).
    private func awaitHead(_ c: HTTPConnection) {
        c.phase = .readingHead
        c.waitingForFirstByte = c.served > 0 && c.input.isEmpty && limits.keepAliveIdleNanoseconds != nil
        let timeout = c.waitingForFirstByte ? limits.keepAliveIdleNanoseconds! : limits.headTimeoutNanoseconds
        setDeadline(c, after: timeout) { [unowned self] in
            // A keep-alive connection that simply went quiet is closed as idle.
            let reason: HTTPDropReason = c.input.isEmpty && c.served > 0 ? .idle : .headTimeout
            self.close(c.socket.rawValue, dropped: reason)
        }
    }

    private func setDeadline(_ c: HTTPConnection, after nanoseconds: UInt64, _ action: @escaping () -> Void) {
        guard let loop else { return }
        if let timer = c.deadline { loop.cancel(timer) }
        let fd = c.socket.rawValue
        c.deadline = loop.schedule(after: nanoseconds) { [weak self, weak c] in
            guard let self, let c, self.connections[fd] === c else { return }
            c.deadline = nil
            action()
        }
    }

    private func handle(_ fd: CInt, _ events: IOEvents) {
        guard let c = connections[fd] else { return }
        if events.contains(.writable) {
            progress(c)
            guard connections[fd] === c else { return }
        }
        if c.phase != .responding, !events.isDisjoint(with: [.readable, .hangup, .error, .peerClosed]) {
            readFrom(c)
        }
    }

    private func readFrom(_ c: HTTPConnection) {
        let fd = c.socket.rawValue
        let result: IOResult<Int>
        do {
            result = try readBuffer.withUnsafeMutableBytes { b in try c.socket.read(into: b) }
        } catch {
            close(fd, dropped: nil)
            return
        }
        guard case .processed(let n) = result else { return }
        if n == 0 {
            // The client closed: its own choice, not counted as a drop.
            close(fd, dropped: nil)
            return
        }
        if c.phase == .lingering { return }
        c.input.append(contentsOf: readBuffer[0..<n])
        if c.waitingForFirstByte {
            // The next request has begun: from now it has the head timeout to arrive.
            awaitHead(c)
        }
        progress(c)
    }

    /// Moves the connection on as far as it can go without waiting: answers the request
    /// at the head of its input, writes the answer, and once it is out answers the next
    /// one already received (pipelining) — in a loop, so a burst of pipelined requests
    /// never deepens the stack.
    private func progress(_ c: HTTPConnection) {
        let fd = c.socket.rawValue
        while connections[fd] === c {
            switch c.phase {
            case .readingHead:
                guard !c.input.isEmpty, answerBuffered(c) else { return }
            case .responding:
                do {
                    try c.flush()
                } catch {
                    close(fd, dropped: nil)
                    return
                }
                if c.hasPendingOutput {
                    watch(c, readable: false, writable: true)
                    return
                }
                if c.closeAfterResponse {
                    linger(c)
                    return
                }
                watch(c, readable: true, writable: false)
                awaitHead(c)
            case .lingering:
                return
            }
        }
    }

    /// Queues the answer to the request whose head `c.input` starts with, if the head is
    /// whole or already wrong; false when more bytes are needed.
    private func answerBuffered(_ c: HTTPConnection) -> Bool {
        switch HTTPRequestHead.parse(c.input) {
        case .incomplete:
            guard c.input.count > limits.requestHeadBytes else { return false }
            refuse(c, status: 431, reason: .headTooLarge)
        case .malformed:
            refuse(c, status: 400, reason: .badRequest)
        case .complete(let head, let consumed):
            if consumed > limits.requestHeadBytes {
                refuse(c, status: 431, reason: .headTooLarge)
            } else if head.hasBody {
                refuse(c, status: 413, reason: .requestBody)
            } else {
                c.input.removeFirst(consumed)
                respond(c, to: head)
            }
        }
        return true
    }

    private func respond(_ c: HTTPConnection, to head: HTTPRequestHead) {
        var response: Response
        var extraHeaders = ""
        if head.method == "GET" || head.method == "HEAD" {
            response = handler(head.path)
            if appendsOwnMetrics && response.status == 200 && head.path == "/metrics" {
                var w = PrometheusTextWriter()
                stats.write(to: &w)
                response.body += Array(w.text.utf8)
            }
        } else {
            let text = "method \(head.method) is not allowed here: use GET or HEAD\n"
            response = (405, "text/plain; charset=utf-8", Array(text.utf8))
            extraHeaders = "Allow: GET, HEAD\r\n"
        }
        queue(c, response, extraHeaders: extraHeaders, includeBody: head.method != "HEAD", keepAlive: head.keepAlive)
    }

    /// Answers `status` with a one-line body, and closes once it is sent.
    private func refuse(_ c: HTTPConnection, status: Int, reason: HTTPDropReason) {
        count { $0.connectionsDropped[reason, default: 0] += 1 }
        c.input = []
        let text = "\(status) \(HTTPRequestHead.reasonPhrase(status))\n"
        queue(c, (status, "text/plain; charset=utf-8", Array(text.utf8)), extraHeaders: "", includeBody: true, keepAlive: false)
    }

    /// Queues `response` (its head, and its body unless `includeBody` is false) and starts
    /// the response timer; ``progress(_:)`` writes it.
    private func queue(_ c: HTTPConnection, _ response: Response, extraHeaders: String, includeBody: Bool, keepAlive: Bool) {
        let fd = c.socket.rawValue
        var headText = "HTTP/1.1 \(response.status) \(HTTPRequestHead.reasonPhrase(response.status))\r\n"
        headText += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
        headText += extraHeaders
        if !keepAlive { headText += "Connection: close\r\n" }
        headText += "\r\n"
        let size = headText.utf8.count + (includeBody ? response.body.count : 0)
        if c.pendingOutputBytes + size > limits.outputBytes {
            close(fd, dropped: .responseTooLarge)
            return
        }
        c.output.append(contentsOf: headText.utf8)
        if includeBody { c.output.append(contentsOf: response.body) }
        count { $0.requestsByCode[response.status, default: 0] += 1 }
        c.served += 1
        c.closeAfterResponse = !keepAlive
        c.phase = .responding
        setDeadline(c, after: limits.responseTimeoutNanoseconds) { [unowned self] in
            self.close(fd, dropped: .slowReader)
        }
    }

    /// After the last answer (an error, HTTP/1.0, `Connection: close`): FIN now, discard
    /// what the client still sends, close when it closes or the linger time passes. Closing
    /// with unread bytes would send a reset, which can destroy the answer before the
    /// client reads it.
    private func linger(_ c: HTTPConnection) {
        c.phase = .lingering
        c.socket.shutdownWrite()
        watch(c, readable: true, writable: false)
        setDeadline(c, after: limits.lingerNanoseconds) { [unowned self] in
            self.close(c.socket.rawValue, dropped: nil)
        }
    }

    private func watch(_ c: HTTPConnection, readable: Bool, writable: Bool) {
        guard c.watchingReadable != readable || c.watchingWritable != writable, let loop else { return }
        // A client's FIN (peerClosed) matters only while reading: one that half-closes
        // after its request still reads the answer, and a level-triggered FIN would
        // otherwise wake the loop until the answer is out.
        var interest: IOEvents = []
        if readable { interest.formUnion([.readable, .peerClosed]) }
        if writable { interest.insert(.writable) }
        try? loop.modify(c.socket.rawValue, interest: interest)
        c.watchingReadable = readable
        c.watchingWritable = writable
    }

    /// Closes `fd`; `dropped` counts it as the server's own decision.
    private func close(_ fd: CInt, dropped: HTTPDropReason?) {
        guard let c = connections.removeValue(forKey: fd) else { return }
        loop?.deregister(fd)
        if let timer = c.deadline { loop?.cancel(timer) }
        c.socket.close()
        count {
            if let dropped { $0.connectionsDropped[dropped, default: 0] += 1 }
            $0.openConnections = self.connections.count
        }
    }
}

/// Why the metrics endpoint could not start: one line.
public struct MetricsHTTPServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// One client connection of the metrics endpoint.
final class HTTPConnection {
    enum Phase {
        /// Waiting for (the rest of) a request head.
        case readingHead
        /// A response is being written; nothing is read meanwhile.
        case responding
        /// An error answer went out with a FIN; what arrives is discarded until close.
        case lingering
    }

    let socket: TCPSocket
    /// Accept order: the smallest is the oldest.
    let id: UInt64
    var phase = Phase.readingHead
    var input: [UInt8] = []
    var output = PendingOutput(keepsCapacity: false)
    var deadline: TimerID?
    var served = 0
    /// Kept alive and waiting, on the idle timer, for a next request to begin.
    var waitingForFirstByte = false
    var closeAfterResponse = false
    var watchingReadable = true
    var watchingWritable = false

    init(socket: TCPSocket, id: UInt64) {
        self.socket = socket
        self.id = id
    }

    var hasPendingOutput: Bool { output.isPending }
    var pendingOutputBytes: Int { output.count }

    /// Writes what is queued until done or the socket would block.
    func flush() throws(SystemError) { try output.flush(to: socket) }
}

extension MetricsHTTPServer {
    /// The agent's routes: `/metrics` (the exposition from `metrics`), `/-/healthy`
    /// (200 `Healthy`), `/` (the page from `statusPage`) and 404 for every other path.
    public static func agentRoutes(metrics: @escaping @Sendable () -> String,
                                   statusPage: @escaping @Sendable () -> String) -> Handler {
        { path in
            switch path {
            case "/metrics": (200, prometheusTextContentType, Array(metrics().utf8))
            case "/-/healthy": (200, "text/plain; charset=utf-8", Array("Healthy\n".utf8))
            case "/": (200, "text/html; charset=utf-8", Array(statusPage().utf8))
            default: (404, "text/plain; charset=utf-8", Array("404 Not Found: \(path)\n".utf8))
            }
        }
    }
}
