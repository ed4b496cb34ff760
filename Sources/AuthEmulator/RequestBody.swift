import DevstackCore
import Foundation
import Hummingbird
import NIOCore

/// A JSON object from a request body, read field by field so a wrong type is a 400 that names the field.
struct RequestBody {
    let object: [String: Any]

    static let limit = 1 << 20

    static func read(_ request: inout Request) async throws -> RequestBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw AuthError(413, "request_too_large", "Request body too large")
        }
        if buffer.readableBytes == 0 { return RequestBody(object: [:]) }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(buffer: buffer), options: [.fragmentsAllowed])
        } catch {
            throw AuthError(400, "bad_json", "Could not parse request body as JSON: invalid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw AuthError(400, "bad_json", "Could not parse request body as JSON: expected an object")
        }
        return RequestBody(object: object)
    }

    func string(_ key: String) throws -> String? {
        switch object[key] {
        case nil, is NSNull: return nil
        case let value as String: return value
        default: throw AuthError(400, "bad_json", "Could not parse request body as JSON: '\(key)' must be a string")
        }
    }

    /// A string that must not be blank when present.
    func text(_ key: String) throws -> String? {
        try string(key).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    func bool(_ key: String) throws -> Bool? {
        switch object[key] {
        case nil, is NSNull: return nil
        case let value as NSNumber where isBoolean(value): return value.boolValue
        default: throw AuthError(400, "bad_json", "Could not parse request body as JSON: '\(key)' must be a boolean")
        }
    }

    func dictionary(_ key: String) throws -> [String: Any]? {
        switch object[key] {
        case nil, is NSNull: return nil
        case let value as [String: Any]: return value
        default: throw AuthError(400, "bad_json", "Could not parse request body as JSON: '\(key)' must be an object")
        }
    }
}

func jsonResponse(_ object: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
    return jsonResponse(body: ByteBuffer(bytes: data), status: status, headers: headers)
}

/// A body that already is JSON text.
func jsonResponse(text: String, headers: HTTPFields = [:]) -> Response {
    jsonResponse(body: ByteBuffer(string: text), status: .ok, headers: headers)
}

private func jsonResponse(body: ByteBuffer, status: HTTPResponse.Status, headers: HTTPFields) -> Response {
    var fields: HTTPFields = [.contentType: "application/json"]
    fields.append(contentsOf: headers)
    return Response(status: status, headers: fields, body: .init(byteBuffer: body))
}
