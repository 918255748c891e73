import FoundationEssentials

/// One element of an instant vector: its labels and its value.
public struct PrometheusSample: Sendable, Equatable {
    public var labels: [String: String]
    /// NaN and ±Inf as Prometheus writes them ("NaN", "+Inf", "-Inf").
    public var value: Double

    public init(labels: [String: String], value: Double) {
        self.labels = labels
        self.value = value
    }
}

/// What Prometheus' HTTP API said instead of data.
public enum PrometheusAnswerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `{"status":"error","errorType":…,"error":…}`, as for a bad query (400, 422) or an
    /// overloaded server (503).
    case refused(errorType: String, message: String)
    /// The body is not the API's JSON (a proxy's page, another server); the HTTP status.
    case notAPI(status: Int, reason: String)
    /// A result other than an instant vector.
    case unexpectedResult(String)

    public var description: String {
        switch self {
        case .refused(let type, let message): "refused the query (\(type)): \(message)"
        case .notAPI(let status, let reason):
            "the answer is not Prometheus' query API (HTTP \(status)\(reason.isEmpty ? "" : " \(reason)")); is the URL Prometheus' own, with its route prefix?"
        case .unexpectedResult(let type): "Prometheus answered with a \(type), not an instant vector"
        }
    }
}

/// The JSON of `GET /api/v1/query` (Prometheus' HTTP API, "Instant queries" and
/// "Expression query result formats"):
/// `{"status":"success","data":{"resultType":"vector","result":[{"metric":{…},"value":[t,"v"]}]}}`
/// or `{"status":"error","errorType":"bad_data","error":"…"}`.
public enum PrometheusAnswer {
    /// The samples of an instant-vector answer. The HTTP status is only used to word the
    /// error when the body is not the API's JSON.
    public static func samples(from body: [UInt8], httpStatus: Int, reason: String = "") throws(PrometheusAnswerError) -> [PrometheusSample] {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)) else {
            throw .notAPI(status: httpStatus, reason: reason)
        }
        if envelope.status != "success" {
            throw .refused(errorType: envelope.errorType ?? "unknown", message: envelope.error ?? "status \(envelope.status)")
        }
        guard let data = envelope.data else { throw .notAPI(status: httpStatus, reason: reason) }
        guard data.resultType == "vector" else { throw .unexpectedResult(data.resultType) }
        return (data.result ?? []).map { PrometheusSample(labels: $0.metric, value: $0.value.value) }
    }

    private struct Envelope: Decodable {
        var status: String
        var errorType: String?
        var error: String?
        var data: Payload?
    }

    private struct Payload: Decodable {
        var resultType: String
        var result: [VectorElement]?
    }

    private struct VectorElement: Decodable {
        var metric: [String: String]
        var value: SampleValue
    }

    /// `[1700000000.123, "0.000051"]`: the evaluation time, then the value as a string.
    private struct SampleValue: Decodable {
        var value: Double

        init(from decoder: Decoder) throws {
            var pair = try decoder.unkeyedContainer()
            _ = try pair.decode(Double.self)
            let text = try pair.decode(String.self)
            switch text {
            case "NaN": value = .nan
            case "+Inf", "Inf": value = .infinity
            case "-Inf": value = -.infinity
            default:
                guard let v = Double(text) else {
                    throw DecodingError.dataCorruptedError(in: pair, debugDescription: "not a number: \(text)")
                }
                value = v
            }
        }
    }
}
