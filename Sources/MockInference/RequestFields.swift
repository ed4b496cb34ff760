import DevstackCore
import Foundation

/// A JSON object of a request body, read field by field with the errors OpenAI gives for a missing
/// or mistyped parameter, named by its path (`messages[0].content`).
///
/// Why not `JSONDecoder`: decoding a chat request with it took an eighth of the server's time per
/// request; JSONSerialization and reading the fields by hand take about a third of that.
struct RequestFields {
    private let object: [String: Any]
    private let path: String

    /// The body as a JSON object, or OpenAI's error for what it is instead.
    init(body: Data) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            throw InferenceError.unparsableBody
        }
        guard let object = parsed as? [String: Any] else { throw InferenceError.notAnObject }
        self.init(object, path: "")
    }

    private init(_ object: [String: Any], path: String) {
        self.object = object
        self.path = path
    }

    /// The parameter's name as OpenAI reports it.
    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The raw value, nil when absent or null, for fields that take more than one shape.
    func value(_ key: String) -> Any? {
        guard let value = object[key] else { return nil }
        // Compared by type: `value is NSNull` bridged a whole array to NSArray to answer.
        return type(of: value) == NSNull.self ? nil : value
    }

    /// The raw value of a parameter that takes more than one shape and must be given.
    func requiredValue(_ key: String, expected: String) throws -> Any { try required(key, expected: expected) { $0 } }

    func mistyped(_ key: String, expected: String) -> InferenceError {
        InferenceError.invalidType(name(key), expected: expected)
    }

    func string(_ key: String) throws -> String? { try read(key, expected: "a string") { $0 as? String } }
    func requiredString(_ key: String) throws -> String { try required(key, expected: "a string") { $0 as? String } }

    func bool(_ key: String) throws -> Bool? {
        try read(key, expected: "a boolean") { ($0 as? NSNumber).flatMap { isBoolean($0) ? $0.boolValue : nil } }
    }

    func int(_ key: String) throws -> Int? {
        try read(key, expected: "an integer") { value in
            guard let number = value as? NSNumber, !isBoolean(number), number.doubleValue == number.doubleValue.rounded(),
                abs(number.doubleValue) < 1e15
            else { return nil }
            return number.intValue
        }
    }

    func object(_ key: String) throws -> RequestFields? {
        try read(key, expected: "an object") { ($0 as? [String: Any]).map { RequestFields($0, path: name(key)) } }
    }

    func requiredObject(_ key: String) throws -> RequestFields {
        try required(key, expected: "an object") { ($0 as? [String: Any]).map { RequestFields($0, path: name(key)) } }
    }

    /// A list of objects, each named by its index.
    func objects(_ key: String) throws -> [RequestFields]? {
        guard let list = try read(key, expected: "an array", { $0 as? [Any] }) else { return nil }
        return try Self.objects(in: list, path: name(key))
    }

    func requiredObjects(_ key: String) throws -> [RequestFields] {
        try Self.objects(in: try required(key, expected: "an array") { $0 as? [Any] }, path: name(key))
    }

    static func objects(in list: [Any], path: String) throws -> [RequestFields] {
        try list.enumerated().map { index, element in
            guard let object = element as? [String: Any] else { throw InferenceError.invalidType("\(path)[\(index)]", expected: "an object") }
            return RequestFields(object, path: "\(path)[\(index)]")
        }
    }

    private func read<T>(_ key: String, expected: String, _ cast: (Any) -> T?) throws -> T? {
        guard let value = value(key) else { return nil }
        guard let typed = cast(value) else { throw mistyped(key, expected: expected) }
        return typed
    }

    /// Absent is a missing parameter; null or another type is a wrong type, as OpenAI answers them.
    private func required<T>(_ key: String, expected: String, _ cast: (Any) -> T?) throws -> T {
        guard object[key] != nil else { throw InferenceError.missingParameter(name(key)) }
        guard let typed = try read(key, expected: expected, cast) else { throw mistyped(key, expected: expected) }
        return typed
    }
}
