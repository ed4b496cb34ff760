import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import Logging
import NIOCore
import PostgresNIO
import PostgresRetry

/// The claims the gateway needs from a Supabase access token.
struct UserClaims: JWTPayload {
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var role: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try aud.verifyIntendedAudience(includes: "authenticated")
    }
}

struct GatewayError: Error {
    var status: HTTPResponse.Status
    var message: String
    var retryAfter: Int?
}

/// `POST /v1/chat`, `GET /v1/conversations`, `GET /healthz`.
struct Gateway: Sendable {
    let configuration: GatewayConfiguration
    let database: PostgresClient
    let keys: JWTKeyCollection
    /// The auth service's public keys, for tokens it signed with a key pair (`signing_keys: RS256|ES256`).
    let published: JWKSKeys?
    let limiter = RateLimiter()
    let logger: Logger

    init(configuration: GatewayConfiguration, database: PostgresClient, logger: Logger) async {
        self.configuration = configuration
        self.database = database
        self.logger = logger
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: configuration.jwtSecret), digestAlgorithm: .sha256)
        published = configuration.jwksURL.map(JWKSKeys.init(url:))
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        router.get("/healthz") { _, _ in try json(["status": "ok"]) }
        router.post("/v1/chat") { request, _ in try await chat(request) }
        router.get("/v1/conversations") { request, _ in try await conversations(request) }
        return router
    }

    /// The caller's verified claims, as JSON for `request.jwt.claims`, and their user id.
    func authenticate(_ request: Request) async throws -> (user: String, claims: String) {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw GatewayError(status: .unauthorized, message: "missing bearer token")
        }
        let token = String(header.dropFirst(7))
        do {
            let claims = try await verifier(for: token).verify(token, as: UserClaims.self)
            // The whole payload goes to Postgres, as PostgREST does.
            let payload = token.split(separator: ".").dropFirst().first.map(String.init) ?? ""
            var base64 = payload.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            let text = Data(base64Encoded: base64).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return (claims.sub.value, text)
        } catch {
            logger.debug("rejected token: \(error)")
            throw GatewayError(status: .unauthorized, message: "invalid or expired token")
        }
    }

    /// jwt-kit checks with the key it holds whatever the header names, so the key is chosen here: the
    /// secret for HS256, the published key the kid names for RS256 and ES256, nothing for anything else.
    private func verifier(for token: String) async throws -> JWTKeyCollection {
        let header = (try? DefaultJWTParser().parse(Array(token.utf8), as: UserClaims.self))?.header
        switch header?.alg {
        case "HS256" where header?.kid == nil:
            return keys
        case let algorithm? where algorithm == "RS256" || algorithm == "ES256":
            if let kid = header?.kid, let published, let keys = await published.keys(kid: kid, algorithm: algorithm) { return keys }
        default: break
        }
        throw GatewayError(status: .unauthorized, message: "invalid or expired token")
    }

    struct ChatRequest: Decodable {
        var message: String
        var mode: String?
        var stream: Bool?
    }

    private func chat(_ request: Request) async throws -> Response {
        var request = request
        let (user, claims) = try await authenticate(request)
        if let budget = configuration.rateLimit.budget, let wait = await limiter.admit(user, budget: budget, per: .seconds(60)) {
            throw GatewayError(status: .tooManyRequests, message: "rate limit: \(budget) requests per minute", retryAfter: wait)
        }
        let body = try await readBody(&request, limit: Self.bodyLimit)
        guard let chat = try? JSONDecoder().decode(ChatRequest.self, from: Data(buffer: body)), !chat.message.isEmpty else {
            throw GatewayError(status: .badRequest, message: "send {\"message\": \"...\", \"mode\": \"instant\" | \"thinking\", \"stream\": false}")
        }
        // Postgres text cannot hold NUL: refused here, not found out when the answer is stored.
        guard !chat.message.unicodeScalars.contains("\u{0}") else {
            throw GatewayError(status: .badRequest, message: "message must not contain NUL (\\u0000) characters")
        }
        let mode = chat.mode ?? "instant"
        guard mode == "instant" || mode == "thinking" else { throw GatewayError(status: .badRequest, message: "mode is instant or thinking") }
        let base = mode == "instant" ? configuration.instantURL : configuration.thinkURL
        var upstream = HTTPClientRequest(url: base + "/chat/completions")
        upstream.method = .POST
        upstream.headers.add(name: "content-type", value: "application/json")
        let streaming = chat.stream == true
        let payload: [String: Any] = ["model": mode, "messages": [["role": "user", "content": chat.message]], "stream": streaming]
        upstream.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: payload)))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(upstream, timeout: .seconds(120))
        } catch {
            throw GatewayError(status: .badGateway, message: "the \(mode) model is unreachable: \(error)")
        }
        guard response.status == .ok else {
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            throw GatewayError(status: .badGateway, message: "the \(mode) model answered \(response.status.code): \(text)")
        }
        if !streaming {
            let object = try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 8 << 20))) as? [String: Any]
            let message = ((object?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]) ?? [:]
            let answer = message["content"] as? String ?? ""
            let id = try await store(user: user, claims: claims, mode: mode, prompt: chat.message, answer: answer)
            var reply: [String: Any] = ["id": id, "mode": mode, "answer": answer]
            if let reasoning = message["reasoning"] as? String { reply["reasoning"] = reasoning }
            return try json(reply)
        }
        // Relay the deltas as they come, then store the whole answer and say so.
        let store = self.store
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var answer = ""
                var pending = ""
                for try await buffer in response.body {
                    pending += String(buffer: buffer)
                    while let end = pending.range(of: "\n\n") {
                        let event = String(pending[..<end.lowerBound])
                        pending = String(pending[end.upperBound...])
                        guard event.hasPrefix("data: "), event != "data: [DONE]" else { continue }
                        let chunk = try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any]
                        let delta = (chunk?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
                        var out: [String: Any] = [:]
                        if let content = delta?["content"] as? String, !content.isEmpty {
                            answer += content
                            out["delta"] = content
                        }
                        if let reasoning = delta?["reasoning"] as? String { out["reasoning"] = reasoning }
                        if out.isEmpty { continue }
                        try await writer.write(
                            ByteBuffer(string: "data: " + String(decoding: try JSONSerialization.data(withJSONObject: out), as: UTF8.self) + "\n\n"))
                    }
                }
                // The status is sent: a failure from here on ends the stream with an error event, never a cut.
                let last: String
                do {
                    last = "{\"done\":true,\"id\":\(try await store(user, claims, mode, chat.message, answer))}"
                } catch {
                    last = "{\"error\":\"the answer could not be stored\"}"
                }
                try await writer.write(ByteBuffer(string: "data: \(last)\n\n"))
                try await writer.finish(nil)
            })
    }

    static let bodyLimit = 1 << 20

    /// The whole body: 413 past `limit`, 400 when it cannot be read (malformed chunked encoding …).
    private func readBody(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw GatewayError(status: .contentTooLarge, message: "the body is larger than \(limit) bytes")
        } catch {
            throw GatewayError(status: .badRequest, message: "the request body could not be read")
        }
    }

    /// Inserts the exchange as the user: RLS checks that the row is theirs.
    func store(user: String, claims: String, mode: String, prompt: String, answer: String) async throws -> Int64 {
        try await asUser(claims) { connection in
            let rows = try await connection.query(
                "insert into public.conversations (mode, prompt, answer) values (\(mode), \(prompt), \(answer)) returning id", logger: logger)
            for try await id in rows.decode(Int64.self) { return id }
            throw GatewayError(status: .internalServerError, message: "the row was not stored")
        }
    }

    private func conversations(_ request: Request) async throws -> Response {
        let (_, claims) = try await authenticate(request)
        let rows = try await asUser(claims) { connection in
            let result = try await connection.query(
                "select id, mode, prompt, answer, created_at::text from public.conversations order by id", logger: logger)
            var rows: [(Int64, String, String, String, String)] = []
            for try await row in result.decode((Int64, String, String, String, String).self) { rows.append(row) }
            return rows
        }
        return try json([
            "conversations": rows.map { id, mode, prompt, answer, created in
                ["id": id, "mode": mode, "prompt": prompt, "answer": answer, "created_at": created] as [String: Any]
            }
        ])
    }

    /// A transaction acting as the token's user: `SET LOCAL ROLE authenticated` and its claims. The whole
    /// transaction rides over a `devstack reset` (see `PostgresRetry`).
    func asUser<T: Sendable>(_ claims: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let (database, logger) = (database, logger)
        return try await PostgresRetry.run {
            try await database.withTransaction(logger: logger) { connection in
                try await connection.query("set local role authenticated", logger: logger)
                try await connection.query("select set_config('request.jwt.claims', \(claims), true)", logger: logger)
                return try await body(connection)
            }
        }
    }
}

/// A sliding window per user.
actor RateLimiter {
    private var windows: [String: [ContinuousClock.Instant]] = [:]

    /// nil when admitted; otherwise the seconds to wait.
    func admit(_ user: String, budget: Int, per window: Duration) -> Int? {
        let now = ContinuousClock.now
        var events = (windows[user] ?? []).filter { now - $0 < window }
        if events.count >= budget, let oldest = events.first {
            windows[user] = events
            return max(1, Int((window - (now - oldest)).components.seconds) + 1)
        }
        events.append(now)
        windows[user] = events
        return nil
    }
}

struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as GatewayError {
            var response = try json(["error": error.message], status: error.status)
            if let wait = error.retryAfter { response.headers[.retryAfter] = String(wait) }
            return response
        } catch let error as HTTPError {
            return try json(["error": error.body ?? error.status.reasonPhrase], status: error.status)
        } catch {
            context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            return try json(["error": "internal error"], status: .internalServerError)
        }
    }
}

func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))))
}
