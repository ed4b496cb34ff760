import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PostgresNIO

/// A GoTrue error: its HTTP status, its `error_code`, and its message. Rendered in the legacy shape
/// `{code, error_code, msg}`, or `{code, message}` when the client sends `X-Supabase-Api-Version: 2024-01-01`.
public struct AuthError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    /// `weak_password` reasons: length, characters, pwned.
    public var reasons: [String]?

    public init(_ status: Int, _ code: String, _ message: String, reasons: [String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.reasons = reasons
    }

    public var description: String { "\(status) \(code): \(message)" }

    static let invalidCredentials = AuthError(400, "invalid_credentials", "Invalid login credentials")
    static let notAdmin = AuthError(403, "not_admin", "User not allowed")
    static let noAuthorization = AuthError(401, "no_authorization", "This endpoint requires a Bearer token")
    static let userNotFound = AuthError(404, "user_not_found", "User not found")
    static let factorNotFound = AuthError(404, "mfa_factor_not_found", "Factor not found")
    static let otpExpired = AuthError(403, "otp_expired", "Token has expired or is invalid")
    static func badJWT(_ detail: String) -> AuthError {
        AuthError(403, "bad_jwt", "invalid JWT: unable to parse or verify signature, \(detail)")
    }
    static func validation(_ message: String) -> AuthError { AuthError(400, "validation_failed", message) }

    /// What Postgres refusing a request's values, or missing pgcrypto, means to the client.
    init?(storing error: PSQLError) {
        switch error.sqlState {
        case "22021", "22P05":
            // Text and jsonb cannot hold U+0000, which JSON can.
            self.init(400, "validation_failed", "A value contains the NUL character (\\u0000), which cannot be stored")
        case "42883", "3F000":
            guard Self.namesPgcrypto(error) else { return nil }
            self.init(
                500, "unexpected_failure",
                "Passwords are hashed by pgcrypto's crypt() in the database's extensions schema, which is missing: "
                    + "give the postgres service supabase: true, or run create extension pgcrypto with schema extensions")
        default:
            return nil
        }
    }

    /// Postgres's message for a missing function or schema names it: only the emulator's own calls
    /// are about pgcrypto, not, say, a user's trigger on `auth.users` calling a missing function.
    private static func namesPgcrypto(_ error: PSQLError) -> Bool {
        let message = error.serverInfo?[.message] ?? ""
        return ["extensions.crypt(", "extensions.gen_salt(", #"schema "extensions""#].contains { message.contains($0) }
    }

    static let apiVersionHeader = HTTPField.Name("X-Supabase-Api-Version")!
    static let currentAPIVersion = "2024-01-01"

    func response(apiVersioned: Bool) -> Response {
        var object: [String: Any]
        if apiVersioned {
            object = ["code": code, "message": message]
        } else {
            object = ["code": status, "error_code": code, "msg": message]
        }
        if let reasons { object["weak_password"] = ["reasons": reasons] }
        var headers: HTTPFields = [.contentType: "application/json", Self.apiVersionHeader: Self.currentAPIVersion]
        if status == 429 { headers[.retryAfter] = "60" }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Every failure leaves as a GoTrue error: unknown routes, framework errors, and anything unexpected (logged).
struct AuthErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let versioned = request.headers[AuthError.apiVersionHeader].map { $0 >= AuthError.currentAPIVersion } ?? false
        do {
            var response = try await next(request, context)
            response.headers[AuthError.apiVersionHeader] = AuthError.currentAPIVersion
            return response
        } catch let error as AuthError {
            return error.response(apiVersioned: versioned)
        } catch let error as HTTPError {
            let status = Int(error.status.code)
            let code = status == 404 ? "not_found" : status == 405 ? "method_not_allowed" : status == 413 ? "request_too_large" : "validation_failed"
            return AuthError(status, code, error.body ?? (status == 404 ? "Not found: \(request.uri.path)" : error.status.reasonPhrase))
                .response(apiVersioned: versioned)
        } catch {
            if let refused = error.postgres.flatMap(AuthError.init(storing:)) {
                if refused.status >= 500 { context.logger.error("\(request.method) \(request.uri.path): \(refused.message)") }
                return refused.response(apiVersioned: versioned)
            }
            context.logger.error("unexpected failure on \(request.method) \(request.uri.path): \(String(reflecting: error))")
            return AuthError(500, "unexpected_failure", "Unexpected failure, please check server logs for more information")
                .response(apiVersioned: versioned)
        }
    }
}
