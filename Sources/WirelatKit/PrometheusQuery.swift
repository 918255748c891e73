import WirelatCore
import WirelatIO

/// Why an HTTP GET failed.
public enum HTTPGetError: Error, Sendable, CustomStringConvertible {
    case resolve(ResolveError)
    /// connect, send or receive failed.
    case system(SystemError)
    /// The deadline passed before the whole answer had arrived.
    case timedOut
    case response(HTTPResponseError)

    public var description: String {
        switch self {
        case .resolve(let e): e.description
        case .system(let e):
            // "Connection refused" → "connection refused", as the rest of the line is worded.
            e.reason.prefix(1).lowercased() + e.reason.dropFirst()
        case .timedOut: "no complete answer in time"
        case .response(let e): e.description
        }
    }
}

/// One HTTP/1.1 GET (RFC 9112) on its own connection, `Connection: close`, without
/// Foundation: the host's addresses are tried in getaddrinfo's order, and everything —
/// connect, request, response — must be done by `deadline` (CLOCK_MONOTONIC ns). The
/// body may be framed by Content-Length, chunked, or run to the end of the connection;
/// it may not pass `maxBodyBytes`.
public func httpGet(host: String, port: UInt16, target: String, hostHeader: String,
                    deadline: UInt64, maxBodyBytes: Int) throws(HTTPGetError) -> HTTPResponse {
    let addresses: [SocketAddress]
    do {
        addresses = try SocketAddress.resolveAll(host: host, port: port)
    } catch {
        throw .resolve(error)
    }
    var lastError = HTTPGetError.timedOut
    for address in addresses {
        let socket: TCPSocket
        do {
            socket = try connect(to: address, deadline: deadline)
        } catch {
            lastError = error
            if case .timedOut = error { break }
            continue
        }
        defer { socket.close() }
        let request = "GET \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: wirelat\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        let now = monotonicNanoseconds()
        guard now < deadline, socket.writeAll(Array(request.utf8), timeoutNanoseconds: deadline - now, stop: .never) else {
            if let e = socket.pendingError() { throw .system(e) }
            throw .timedOut
        }
        return try readResponse(socket, deadline: deadline, maxBodyBytes: maxBodyBytes)
    }
    throw lastError
}

private func connect(to address: SocketAddress, deadline: UInt64) throws(HTTPGetError) -> TCPSocket {
    let socket: TCPSocket
    do {
        socket = try TCPSocket(family: address.family)
        if try socket.startConnect(to: address) { return socket }
    } catch {
        throw .system(error)
    }
    let now = monotonicNanoseconds()
    guard now < deadline else { throw .timedOut }
    switch socket.wait(writable: true, timeoutNanoseconds: deadline - now, stop: .never) {
    case .ready:
        if let e = socket.pendingError() { throw .system(e) }
        return socket
    case .timedOut, .stopped:
        throw .timedOut
    case .failed(let e):
        throw .system(e)
    }
}

private func readResponse(_ socket: TCPSocket, deadline: UInt64, maxBodyBytes: Int) throws(HTTPGetError) -> HTTPResponse {
    var reader = HTTPResponseReader(maxBodyBytes: maxBodyBytes)
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let read = chunk.withUnsafeMutableBytes { b in Result { () throws(SystemError) in try socket.read(into: b) } }
        let result: IOResult<Int>
        switch read {
        case .success(let r): result = r
        case .failure(let e): throw .system(e)
        }
        switch result {
        case .processed(0):
            do { return try reader.finish() } catch { throw .response(error) }
        case .processed(let n):
            let response: HTTPResponse?
            do { response = try reader.feed(chunk[..<n]) } catch { throw .response(error) }
            if let response { return response }
        case .wouldBlock:
            let now = monotonicNanoseconds()
            guard now < deadline else { throw .timedOut }
            switch socket.wait(writable: false, timeoutNanoseconds: deadline - now, stop: .never) {
            case .ready: break
            case .timedOut, .stopped: throw .timedOut
            case .failed(let e): throw .system(e)
            }
        }
    }
}

/// Why `mesh` has no matrix: one line, naming the server.
public struct MeshReadError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Prometheus' HTTP API, asked instant queries (`GET /api/v1/query`).
public struct PrometheusClient: Sendable {
    public let url: PrometheusURL
    /// The largest answer read, 64 MiB by default.
    public var maxBodyBytes = 64 << 20
    /// How long everything asked of one ``MeshReader/read(from:selection:)`` may take.
    public var timeoutNanoseconds: UInt64

    public init(url: PrometheusURL, timeoutNanoseconds: UInt64 = 10_000_000_000) {
        self.url = url
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    /// The instant vector `promql` evaluates to now. Fails, with one line naming the
    /// server, when it cannot be reached, does not answer by `deadline`, is not
    /// Prometheus, or refuses the query.
    public func query(_ promql: String, deadline: UInt64) throws(MeshReadError) -> [PrometheusSample] {
        let response: HTTPResponse
        do {
            response = try httpGet(host: url.host, port: url.port, target: url.queryPath(promql), hostHeader: url.hostHeader,
                                   deadline: deadline, maxBodyBytes: maxBodyBytes)
        } catch .timedOut {
            throw MeshReadError("cannot reach Prometheus at \(url): no complete answer within \(formatDuration(nanoseconds: timeoutNanoseconds))")
        } catch {
            throw MeshReadError("cannot reach Prometheus at \(url): \(error)")
        }
        do {
            return try PrometheusAnswer.samples(from: response.body, httpStatus: response.status, reason: response.reason)
        } catch .refused(let type, let message) {
            // An error text may run over lines (a PromQL parse error quotes the query): one line here.
            let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
            throw MeshReadError("Prometheus at \(url) refused the query (\(type)): \(line)")
        } catch {
            throw MeshReadError("Prometheus at \(url): \(error)")
        }
    }
}

/// The Pingmesh matrix of one method and clock, read from Prometheus.
public enum MeshReader {
    /// Asks for the p50 and loss of every (agent, target) pair over the selection's
    /// window, and builds the matrix. Everything must be done within the client's
    /// timeout. With no data for the method at all, the error says which methods have some.
    public static func read(from client: PrometheusClient, selection: MeshSelection) throws(MeshReadError) -> MeshMatrix {
        let deadline = monotonicNanoseconds() &+ client.timeoutNanoseconds
        let p50 = try client.query(selection.p50PromQL, deadline: deadline)
        let loss = try client.query(selection.lossPromQL, deadline: deadline)
        let matrix = MeshMatrix.build(selection: selection, p50: p50, loss: loss)
        guard matrix.isEmpty else { return matrix }
        var line = "Prometheus at \(client.url) has no wirelat data for method \(selection.method) (\(selection.clock) clock) in the last \(selection.promRange)"
        let methods = (try? client.query(MeshSelection.methodsPromQL, deadline: deadline))?
            .compactMap { $0.labels["method"] }.sorted() ?? []
        if methods.isEmpty {
            line += "; it has no wirelat_probes_total series at all: is it scraping the agents?"
        } else {
            line += "; methods with probe counters: \(methods.joined(separator: ", "))"
        }
        throw MeshReadError(line)
    }
}
