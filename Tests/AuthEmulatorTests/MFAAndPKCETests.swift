import DevstackTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthEmulator

/// The pieces of MFA and PKCE that need no server: RFC test vectors and the QR code's structure.
@Suite struct MFAPiecesTests {
    @Test func totpCodesMatchRFC6238sVectors() throws {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890"; the last six of its eight digits.
        let secret = Base32.encode(Data("12345678901234567890".utf8))
        #expect(secret == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        let vectors: [(TimeInterval, String)] = [
            (59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"), (2_000_000_000, "279037"),
        ]
        for (time, code) in vectors {
            #expect(TOTP.code(secret: secret, step: TOTP.step(at: Date(timeIntervalSince1970: time))) == code, "T=\(time)")
        }
        let now = Date(timeIntervalSince1970: 1_234_567_890)
        #expect(TOTP.matchingStep("005924", secret: secret, at: now) == TOTP.step(at: now))
        #expect(TOTP.matchingStep("005924", secret: secret, at: now.addingTimeInterval(30)) != nil, "one step of skew")
        #expect(TOTP.matchingStep("005924", secret: secret, at: now.addingTimeInterval(90)) == nil)
        #expect(Base32.decode("not base32!") == nil)
    }

    @Test func aNewSecretIsThirtyTwoBase32CharactersAndRoundTrips() throws {
        let secret = TOTP.newSecret()
        #expect(secret.count == 32)
        #expect(Base32.decode(secret).map(Base32.encode) == secret)
    }

    /// The challenge as Python's `base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b"=")` gives it.
    @Test func pkceS256IsTheUnpaddedBase64urlOfTheVerifiersSHA256() {
        #expect(PKCEChallenge.s256("dBjftJeZ4CVP-mJ92K9CgTUP_Cy4ZsbxsJsWzb4NtJ4") == "Texft5yeEIXY3qAfPZJDmmy0PBfx8LiuUl4ROjz0Qak")
        let challenge = PKCEChallenge(challenge: "Texft5yeEIXY3qAfPZJDmmy0PBfx8LiuUl4ROjz0Qak", method: .s256)
        #expect(challenge.isAnswered(by: "dBjftJeZ4CVP-mJ92K9CgTUP_Cy4ZsbxsJsWzb4NtJ4"))
        #expect(!challenge.isAnswered(by: "dBjftJeZ4CVP-mJ92K9CgTUP_Cy4ZsbxsJsWzb4NtJ5"))
    }

    @Test func aQRCodeHasItsFinderPatternsAndGrowsWithItsText() {
        let short = QRCode(text: "hello")
        #expect(short.version == 1 && short.size == 21)
        let uri = "otpauth://totp/localhost:someone%40example.com?secret=\(TOTP.newSecret())&issuer=localhost&algorithm=SHA1&digits=6&period=30"
        let code = QRCode(text: uri)
        #expect(code.version == 8, "\(uri.utf8.count) bytes: more than version 7's 122 at level M, within version 8's 152")
        // Each finder: a dark 7×7 ring around a light ring around a dark 3×3 core.
        for (x, y) in [(0, 0), (code.size - 7, 0), (0, code.size - 7)] {
            for dy in 0..<7 {
                for dx in 0..<7 {
                    let ring = max(abs(dx - 3), abs(dy - 3))
                    #expect(code.modules[y + dy][x + dx] == (ring != 2), "finder at \(x),\(y)")
                }
            }
        }
        #expect(code.svg(moduleSize: 4).hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    }
}

/// MFA and PKCE through the routes, against a real Postgres.
@Suite(.serialized) struct MFAAndPKCERouteTests {
    let routes = AuthRouteTests()
    let json: HTTPFields = [.contentType: "application/json"]

    func withDatabase(
        configure: (inout AuthConfiguration) -> Void = { _ in }, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let stack = try StackUnderTest(stack: "services:\n  db: { kind: postgres, database: app, supabase: true }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let database = AuthConfiguration.Database(
            host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database: endpoint.database,
            socketDirectory: nil)
        // Against a real database an answer of 500 is a defect: the server says why in the test's output.
        try await routes.withRoutes(database: database, configure: configure, logLevel: .error, body)
        #expect(try await stack.stop() == 0)
    }

    /// Signs up and returns the session's access token.
    func signUp(_ client: any TestClientProtocol, _ email: String) async throws -> String {
        var token = ""
        try await client.execute(
            uri: "/signup", method: .post, headers: json, body: ByteBuffer(string: #"{"email": "\#(email)", "password": "mfa-password"}"#)
        ) { response in
            #expect(response.status == .ok)
            token = routes.json(response.body)["access_token"] as? String ?? ""
        }
        return token
    }

    func claims(_ token: String) -> [String: Any] {
        // A failed request leaves no token: nothing to read, rather than a crash of the whole test run.
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return [:] }
        var payload = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        return (try? JSONSerialization.jsonObject(with: Data(base64Encoded: payload) ?? Data())) as? [String: Any] ?? [:]
    }

    @Test func totpEnrollChallengeVerifyRaisesTheSessionAndACodeWorksOnce() async throws {
        try await withDatabase { client in
            let token = try await signUp(client, "mfa@example.com")
            let bearer: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            var factorID = ""
            var secret = ""
            try await client.execute(
                uri: "/auth/v1/factors", method: .post, headers: bearer,
                body: ByteBuffer(string: #"{"factor_type": "totp", "friendly_name": "phone app"}"#)
            ) { response in
                #expect(response.status == .ok)
                let body = routes.json(response.body)
                factorID = body["id"] as? String ?? ""
                let totp = body["totp"] as? [String: Any] ?? [:]
                secret = totp["secret"] as? String ?? ""
                #expect((totp["uri"] as? String)?.hasPrefix("otpauth://totp/") == true)
                #expect((totp["qr_code"] as? String)?.hasPrefix("<svg") == true)
            }
            try await client.execute(
                uri: "/factors", method: .post, headers: bearer, body: ByteBuffer(string: #"{"factor_type": "totp", "friendly_name": "phone app"}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(routes.json(response.body)["error_code"] as? String == "mfa_factor_name_conflict")
            }
            func challenge() async throws -> String {
                var id = ""
                try await client.execute(uri: "/factors/\(factorID)/challenge", method: .post, headers: bearer) { response in
                    #expect(response.status == .ok)
                    id = routes.json(response.body)["id"] as? String ?? ""
                }
                return id
            }
            let code = TOTP.code(secret: secret, step: TOTP.step(at: Date()))!
            let wrong = code == "000000" ? "111111" : "000000"
            let first = try await challenge()
            try await client.execute(
                uri: "/factors/\(factorID)/verify", method: .post, headers: bearer,
                body: ByteBuffer(string: #"{"challenge_id": "\#(first)", "code": "\#(wrong)"}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(routes.json(response.body)["error_code"] as? String == "mfa_verification_failed")
            }
            var raised = ""
            try await client.execute(
                uri: "/factors/\(factorID)/verify", method: .post, headers: bearer,
                body: ByteBuffer(string: #"{"challenge_id": "\#(first)", "code": "\#(code)"}"#)
            ) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let session = routes.json(response.body)
                raised = session["access_token"] as? String ?? ""
                let factors = (session["user"] as? [String: Any])?["factors"] as? [[String: Any]] ?? []
                #expect(factors.first?["status"] as? String == "verified")
            }
            #expect(claims(raised)["aal"] as? String == "aal2")
            #expect((claims(raised)["amr"] as? [[String: Any]])?.compactMap { $0["method"] as? String }.sorted() == ["password", "totp"])
            let second = try await challenge()
            try await client.execute(
                uri: "/factors/\(factorID)/verify", method: .post, headers: bearer,
                body: ByteBuffer(string: #"{"challenge_id": "\#(second)", "code": "\#(code)"}"#)
            ) { response in
                #expect(response.status == .unprocessableContent, "the same code twice")
            }
            try await client.execute(uri: "/factors/\(factorID)", method: .delete, headers: bearer) { response in
                #expect(response.status == .forbidden)
                #expect(routes.json(response.body)["error_code"] as? String == "insufficient_aal")
            }
            let admin: HTTPFields = [.authorization: "Bearer \(AuthRouteTests.token(role: "service_role"))"]
            let userID = claims(token)["sub"] as? String ?? ""
            try await client.execute(uri: "/admin/users/\(userID)/factors", method: .get, headers: admin) { response in
                #expect(response.status == .ok)
                let factors = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [[String: Any]] ?? []
                #expect(factors.map { $0["id"] as? String } == [factorID])
            }
            try await client.execute(uri: "/factors/\(factorID)", method: .delete, headers: [.authorization: "Bearer \(raised)"]) { response in
                #expect(response.status == .ok)
                #expect(routes.json(response.body)["id"] as? String == factorID)
            }
            try await client.execute(uri: "/admin/users/\(userID)/factors/\(factorID)", method: .delete, headers: admin) { response in
                #expect(response.status == .notFound)
                #expect(routes.json(response.body)["error_code"] as? String == "mfa_factor_not_found")
            }
        }
    }

    @Test func aPKCEMagicLinkRedirectsWithACodeThatTheVerifierExchangesOnce() async throws {
        try await withDatabase { client in
            let verifier = String(repeating: "v", count: 50)
            let challenge = PKCEChallenge.s256(verifier)
            try await client.execute(
                uri: "/otp", method: .post, headers: json,
                body: ByteBuffer(
                    string: #"{"email": "pkce@example.com", "code_challenge": "\#(challenge)", "code_challenge_method": "s256"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
            var link = ""
            try await client.execute(uri: "/__devstack/inbox?to=pkce@example.com", method: .get) { response in
                let messages = routes.json(response.body)["messages"] as? [[String: Any]] ?? []
                link = messages.last?["link"] as? String ?? ""
            }
            #expect(link.contains("token=pkce_"))
            let path = String(link[link.range(of: "/verify")!.lowerBound...])
            var location = ""
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .seeOther)
                location = response.headers[.location] ?? ""
            }
            let code = URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value ?? ""
            #expect(!code.isEmpty, "\(location)")
            func exchange(_ verifier: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                var result: (HTTPResponse.Status, [String: Any]) = (.ok, [:])
                try await client.execute(
                    uri: "/token?grant_type=pkce", method: .post, headers: json,
                    body: ByteBuffer(string: #"{"auth_code": "\#(code)", "code_verifier": "\#(verifier)"}"#)
                ) { response in
                    result = (response.status, routes.json(response.body))
                }
                return result
            }
            let (wrongStatus, wrongBody) = try await exchange(String(repeating: "w", count: 50))
            #expect(wrongStatus == .forbidden)
            #expect(wrongBody["error_code"] as? String == "bad_code_verifier")
            let (status, session) = try await exchange(verifier)
            #expect(status == .ok)
            #expect((session["user"] as? [String: Any])?["email"] as? String == "pkce@example.com")
            #expect(claims(session["access_token"] as? String ?? "")["amr"] != nil)
            let (againStatus, againBody) = try await exchange(verifier)
            #expect(againStatus == .notFound)
            #expect(againBody["error_code"] as? String == "flow_state_not_found")
        }
    }

    @Test func aPhoneFactorIsVerifiedWithTheCodeSentToTheInbox() async throws {
        try await withDatabase(configure: { $0.mfaPhoneEnabled = true }) { client in
            let token = try await signUp(client, "phone-mfa@example.com")
            let bearer: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            try await client.execute(
                uri: "/factors", method: .post, headers: bearer, body: ByteBuffer(string: #"{"factor_type": "phone", "phone": "12"}"#)
            ) { response in
                #expect(response.status == .badRequest)
            }
            var factorID = ""
            try await client.execute(
                uri: "/factors", method: .post, headers: bearer, body: ByteBuffer(string: #"{"factor_type": "phone", "phone": "+15550001111"}"#)
            ) { response in
                #expect(response.status == .ok)
                factorID = routes.json(response.body)["id"] as? String ?? ""
            }
            var challengeID = ""
            try await client.execute(uri: "/factors/\(factorID)/challenge", method: .post, headers: bearer) { response in
                challengeID = routes.json(response.body)["id"] as? String ?? ""
            }
            var code = ""
            try await client.execute(uri: "/__devstack/inbox?to=15550001111", method: .get) { response in
                code = (routes.json(response.body)["messages"] as? [[String: Any]])?.last?["token"] as? String ?? ""
            }
            #expect(code.count == 6)
            try await client.execute(
                uri: "/factors/\(factorID)/verify", method: .post, headers: bearer,
                body: ByteBuffer(string: #"{"challenge_id": "\#(challengeID)", "code": "\#(code)"}"#)
            ) { response in
                #expect(response.status == .ok)
                let raised = routes.json(response.body)["access_token"] as? String ?? ""
                #expect(claims(raised)["aal"] as? String == "aal2")
            }
        }
    }

    @Test func withSecurePasswordChangeAStaleSessionNeedsTheNonceFromReauthenticate() async throws {
        try await withDatabase(configure: { $0.securePasswordChange = true }) { client in
            let fresh = try await signUp(client, "nonce@example.com")
            let userID = claims(fresh)["sub"] as? String ?? ""
            func changePassword(_ token: String, _ body: String) async throws -> (HTTPResponse.Status, String?) {
                var result: (HTTPResponse.Status, String?) = (.ok, nil)
                try await client.execute(
                    uri: "/user", method: .put, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { response in
                    result = (response.status, routes.json(response.body)["error_code"] as? String)
                }
                return result
            }
            #expect(try await changePassword(fresh, #"{"password": "changed-once"}"#).0 == .ok, "a session signed in just now needs no nonce")
            // A token that names no session (signed by hand) is as good as a stale session.
            let stale = AuthRouteTests.token(claims: ["sub": userID, "role": "authenticated", "aud": "authenticated"])
            #expect(try await changePassword(stale, #"{"password": "changed-twice"}"#) == (.badRequest, "reauthentication_needed"))
            try await client.execute(uri: "/reauthenticate", method: .get, headers: [.authorization: "Bearer \(stale)"]) { response in
                #expect(response.status == .ok)
            }
            var nonce = ""
            try await client.execute(uri: "/__devstack/inbox?to=nonce@example.com", method: .get) { response in
                let message = (routes.json(response.body)["messages"] as? [[String: Any]])?.last
                #expect(message?["type"] as? String == "reauthentication")
                nonce = message?["token"] as? String ?? ""
            }
            let wrong = nonce == "000000" ? "111111" : "000000"
            #expect(
                try await changePassword(stale, #"{"password": "changed-twice", "nonce": "\#(wrong)"}"#) == (
                    .badRequest, "reauthentication_not_valid"
                ))
            #expect(try await changePassword(stale, #"{"password": "changed-twice", "nonce": "\#(nonce)"}"#).0 == .ok)
            #expect(
                try await changePassword(stale, #"{"password": "changed-thrice", "nonce": "\#(nonce)"}"#) == (
                    .badRequest, "reauthentication_not_valid"
                ), "a nonce works once")
        }
    }
}
