import Crypto
import DevstackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import AuthEmulator

/// The auth emulator's routes in-process, through Hummingbird's test client: what needs no database
/// against an unreachable one, the rest against a real Postgres from a test stack.
@Suite(.serialized) struct AuthRouteTests {
    static let secret = "an-auth-route-test-secret-of-32-bytes-or-more"

    static func configuration(_ database: AuthConfiguration.Database) -> AuthConfiguration {
        AuthConfiguration(
            service: "auth", host: "127.0.0.1", port: 0, externalURL: "http://127.0.0.1:9999", database: database, jwtSecret: secret,
            bcryptCost: 4)
    }

    /// Runs `body` with the routes of an emulator whose pool points at `database` (running while the body runs).
    func withRoutes(
        database: AuthConfiguration.Database = .init(host: "127.0.0.1", port: 1, user: "x", password: "x", database: "x", socketDirectory: nil),
        configure: (inout AuthConfiguration) -> Void = { _ in }, logLevel: Logger.Level = .critical,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        var configuration = Self.configuration(database)
        configure(&configuration)
        var logger = Logger(label: "auth-route-tests")
        logger.logLevel = logLevel
        let client = PostgresClient(configuration: configuration.database.poolConfiguration, backgroundLogger: logger)
        let pool = Task { await client.run() }
        defer { pool.cancel() }
        let server = try await AuthServer(configuration: configuration, client: client, logger: logger)
        try await Application(router: server.router()).test(.router, body)
    }

    static func token(role: String, alg: String = "HS256", secret: String = AuthRouteTests.secret) -> String {
        token(claims: ["role": role, "exp": Int(Date().timeIntervalSince1970) + 600], alg: alg, secret: secret)
    }

    /// A token signed by hand, as people and fixtures make them.
    static func token(claims: [String: Any], alg: String = "HS256", secret: String = AuthRouteTests.secret, kid: String? = nil) -> String {
        func encode(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        var headerFields = ["alg": alg, "typ": "JWT"]
        if let kid { headerFields["kid"] = kid }
        let header = encode(try! JSONSerialization.data(withJSONObject: headerFields))
        let payload = encode(try! JSONSerialization.data(withJSONObject: claims))
        let signature = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "\(header).\(payload).\(encode(Data(signature)))"
    }

    /// The body as a JSON object; empty when it is not one (the expectations on it then fail).
    func json(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
    }

    @Test func healthSettingsAndKeysAnswerUnderBothPrefixes() async throws {
        try await withRoutes { client in
            for prefix in ["", "/auth/v1"] {
                try await client.execute(uri: "\(prefix)/health", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(json(response.body)["name"] as? String == "GoTrue")
                }
                try await client.execute(uri: "\(prefix)/settings", method: .get) { response in
                    let settings = json(response.body)
                    #expect(settings["mailer_autoconfirm"] as? Bool == true)
                    #expect((settings["external"] as? [String: Any])?["email"] as? Bool == true)
                }
                try await client.execute(uri: "\(prefix)/.well-known/jwks.json", method: .get) { response in
                    #expect((json(response.body)["keys"] as? [Any])?.isEmpty == true)
                }
            }
        }
    }

    @Test func tokensNamingAnotherAlgorithmAreRefusedInBothErrorShapes() async throws {
        try await withRoutes { client in
            for alg in ["RS256", "none", "hs256", "HS512"] {
                let forged = Self.token(role: "service_role", alg: alg)
                try await client.execute(uri: "/admin/users", method: .get, headers: [.authorization: "Bearer \(forged)"]) { response in
                    #expect(response.status == .forbidden, "\(alg)")
                    let body = json(response.body)
                    #expect(body["error_code"] as? String == "bad_jwt")
                    #expect((body["msg"] as? String)?.hasSuffix("signing method \(alg) is invalid") == true, "\(alg)")
                }
                let versioned: HTTPFields = [.authorization: "Bearer \(forged)", HTTPField.Name("X-Supabase-Api-Version")!: "2024-01-01"]
                try await client.execute(uri: "/user", method: .get, headers: versioned) { response in
                    #expect(response.status == .forbidden)
                    #expect(json(response.body)["code"] as? String == "bad_jwt")
                }
            }
        }
    }

    @Test func adminRoutesNeedAnAdminRoleAndBadBodiesAre400() async throws {
        try await withRoutes { client in
            try await client.execute(uri: "/admin/users", method: .get, headers: [.authorization: "Bearer \(Self.token(role: "anon"))"]) { response in
                #expect(response.status == .forbidden)
                #expect(json(response.body)["error_code"] as? String == "not_admin")
            }
            for body in ["{", "[]", #"{"email": 5, "password": "x"}"#] {
                try await client.execute(
                    uri: "/token?grant_type=password", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                }
            }
            try await client.execute(uri: "/token?grant_type=magic", method: .post) { #expect($0.status == .badRequest) }
            // A hand-signed service token with no exp passes the admin check (the missing user is the next answer);
            // an exp in the past does not.
            let noExp = Self.token(claims: ["role": "service_role"])
            try await client.execute(uri: "/admin/users/not-a-uuid", method: .get, headers: [.authorization: "Bearer \(noExp)"]) { response in
                #expect(response.status == .notFound)
                #expect(json(response.body)["error_code"] as? String == "user_not_found")
            }
            let expired = Self.token(claims: ["role": "service_role", "exp": Int(Date().timeIntervalSince1970) - 5])
            try await client.execute(uri: "/admin/users/not-a-uuid", method: .get, headers: [.authorization: "Bearer \(expired)"]) { response in
                #expect(response.status == .forbidden)
                #expect(json(response.body)["error_code"] as? String == "bad_jwt")
            }
            try await client.execute(
                uri: "/auth/v1/sso", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"domain": "example.com"}"#)
            ) {
                response in
                #expect(response.status == .notFound)
                #expect(json(response.body)["error_code"] as? String == "sso_provider_not_found")
                #expect(json(response.body)["msg"] as? String == "SAML 2.0 is disabled")
            }
            try await client.execute(
                uri: "/verify", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"type": "sms", "phone": "12", "token": "123456"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(json(response.body)["msg"] as? String == "Invalid phone number format (E.164 required)")
            }
        }
    }

    @Test func signUpSignInAndTheUserAgainstARealDatabase() async throws {
        let stack = try StackUnderTest(stack: "services:\n  db: { kind: postgres, database: app, supabase: true }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let database = AuthConfiguration.Database(
            host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database: endpoint.database,
            socketDirectory: nil)
        try await withRoutes(database: database) { client in
            let credentials = ByteBuffer(string: #"{"email": "route@example.com", "password": "route-password"}"#)
            let json: HTTPFields = [.contentType: "application/json"]
            try await client.execute(uri: "/auth/v1/signup", method: .post, headers: json, body: credentials) { response in
                #expect(response.status == .ok)
                #expect(self.json(response.body)["access_token"] is String)
            }
            try await client.execute(uri: "/auth/v1/signup", method: .post, headers: json, body: credentials) { response in
                #expect(response.status == .unprocessableContent)
                #expect(self.json(response.body)["error_code"] as? String == "user_already_exists")
            }
            var token = ""
            try await client.execute(uri: "/auth/v1/token?grant_type=password", method: .post, headers: json, body: credentials) { response in
                #expect(response.status == .ok)
                let session = self.json(response.body)
                token = session["access_token"] as? String ?? ""
                #expect(session["token_type"] as? String == "bearer")
                #expect((session["user"] as? [String: Any])?["email"] as? String == "route@example.com")
            }
            try await client.execute(uri: "/auth/v1/user", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
                #expect(self.json(response.body)["email"] as? String == "route@example.com")
            }
            let wrong = ByteBuffer(string: #"{"email": "route@example.com", "password": "not-it"}"#)
            try await client.execute(uri: "/auth/v1/token?grant_type=password", method: .post, headers: json, body: wrong) { response in
                #expect(response.status == .badRequest)
                #expect(self.json(response.body)["error_code"] as? String == "invalid_credentials")
            }
        }
        #expect(try await stack.stop() == 0)
    }
}
