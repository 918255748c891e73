import FoundationEssentials

/// Any JSON text read into Swift values, as the merge of saved reports reads it:
/// objects as `[String: Any]`, arrays as `[Any]`, numbers as `Double`, strings,
/// booleans, and `JSONAny.null` for null.
enum JSONAny: Decodable {
    /// JSON's null: present, but no value.
    struct Null: Sendable {}

    case value(Any)

    var value: Any {
        switch self { case .value(let v): return v }
    }

    /// Reads a JSON text whose top level is an object or an array, as
    /// JSONSerialization reads it; nil for anything else.
    static func parse(_ data: Data) -> Any? {
        guard let top = try? JSONDecoder().decode(JSONAny.self, from: data).value,
              top is [String: Any] || top is [Any] else { return nil }
        return top
    }

    init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var out: [Any] = []
            while !array.isAtEnd { out.append(try array.decode(JSONAny.self).value) }
            self = .value(out)
        } else if let object = try? decoder.container(keyedBy: Key.self) {
            var out: [String: Any] = [:]
            for key in object.allKeys { out[key.stringValue] = try object.decode(JSONAny.self, forKey: key).value }
            self = .value(out)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                self = .value(Null())
            } else if let b = try? single.decode(Bool.self) {
                self = .value(b)
            } else if let d = try? single.decode(Double.self) {
                self = .value(d)
            } else {
                self = .value(try single.decode(String.self))
            }
        }
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
