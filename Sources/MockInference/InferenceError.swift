import DevstackCore
import Foundation
import HTTPTypes
import Hummingbird

/// An error answered in the API's own shape: OpenAI's `{"error":{message,type,param,code}}` under `/v1`,
/// OpenRouter's `{"error":{code,message,metadata}}` under `/api/v1`.
struct InferenceError: Error, Sendable {
    var status: Int
    var message: String
    var type: String
    var param: String?
    var code: String?
    var retryAfterMs: Int?

    init(_ status: Int, _ message: String, type: String? = nil, param: String? = nil, code: String? = nil, retryAfterMs: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type ?? Self.defaultType(status)
        self.param = param
        self.code = code
        self.retryAfterMs = retryAfterMs
    }

    init(_ failure: InferenceFixture.Failure) {
        self.init(
            failure.status, failure.message ?? Self.defaultMessage(failure.status), type: failure.type,
            code: failure.code ?? Self.defaultCode(failure.status), retryAfterMs: failure.retryAfterMs ?? (failure.status == 429 ? 1000 : nil))
    }

    static func defaultType(_ status: Int) -> String {
        switch status {
        case 401: return "invalid_request_error"
        case 403: return "permission_error"
        case 429: return "requests"
        case 500...: return "server_error"
        default: return "invalid_request_error"
        }
    }

    static func defaultCode(_ status: Int) -> String? {
        switch status {
        case 401: return "invalid_api_key"
        case 404: return "not_found"
        case 429: return "rate_limit_exceeded"
        default: return nil
        }
    }

    static func defaultMessage(_ status: Int) -> String {
        switch status {
        case 400: return "Bad request (injected by devstack)."
        case 401: return "Incorrect API key provided."
        case 403: return "You are not allowed to sample from this model."
        case 404: return "The requested resource does not exist."
        case 408: return "Request timed out."
        case 409: return "Conflict (injected by devstack)."
        case 422: return "Unprocessable entity (injected by devstack)."
        case 429: return "Rate limit reached (injected by devstack). Please try again later."
        case 503: return "The server is overloaded or not ready yet."
        default: return "The server had an error while processing your request (injected by devstack)."
        }
    }

    func body(openRouter: Bool) -> ByteBuffer {
        let object: [String: Any]
        if openRouter {
            object = ["error": ["code": status, "message": message, "metadata": ["provider_name": "devstack"]] as [String: Any]]
        } else {
            object = ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return ByteBuffer(bytes: data)
    }

    func response(openRouter: Bool) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterMs {
            headers[HTTPField.Name("retry-after-ms")!] = String(retryAfterMs)
            headers[.retryAfter] = String(Int((Double(retryAfterMs) / 1000).rounded(.up)))
        }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: body(openRouter: openRouter)))
    }

    static func missingParameter(_ name: String) -> InferenceError {
        InferenceError(400, "Missing required parameter: '\(name)'.", param: name, code: "missing_required_parameter")
    }

    static func invalidType(_ name: String, expected: String) -> InferenceError {
        InferenceError(400, "Invalid type for '\(name)': expected \(expected).", param: name, code: "invalid_type")
    }

    static func invalidValue(_ name: String, _ detail: String) -> InferenceError {
        InferenceError(400, "Invalid value for '\(name)': \(detail)", param: name, code: "invalid_value")
    }

    static let unparsableBody = InferenceError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. "
            + "The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")

    static let notAnObject = InferenceError(400, "The body of your request must be a JSON object.")

    /// A body that did not decode, in the words OpenAI uses.
    static func decoding(_ error: any Error) -> InferenceError {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            var text = ""
            for key in codingPath + (last.map { [$0] } ?? []) {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return missingParameter(path(context.codingPath, key))
        case DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty:
            return notAnObject
        case DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context):
            return invalidType(path(context.codingPath), expected: Self.describe(type))
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
            return invalidValue(path(context.codingPath), context.debugDescription)
        default:
            return unparsableBody
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// Routes that do not exist and other framework errors, in the API's error shape: never an empty 404 or a 500.
struct APIErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let openRouter = request.uri.path.hasPrefix("/api/")
        do {
            return try await next(request, context)
        } catch let error as InferenceError {
            return error.response(openRouter: openRouter)
        } catch let error as HTTPError {
            let status = Int(error.status.code)
            let message =
                status == 404
                ? "Invalid URL (\(request.method.rawValue) \(request.uri.path))" : (error.body ?? error.status.reasonPhrase)
            return InferenceError(status, message).response(openRouter: openRouter)
        } catch {
            return InferenceError(500, "The mock could not answer: \(error)").response(openRouter: openRouter)
        }
    }
}
