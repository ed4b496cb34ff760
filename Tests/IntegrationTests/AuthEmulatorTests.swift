import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The auth emulator's routes over real HTTP, against a real Postgres, one endpoint at a time.
@Suite(.serialized) struct AuthEmulatorTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
            supabase: true
          auth:
            kind: auth
            depends_on: { db: healthy }
            site_url: http://127.0.0.1:3000
            uri_allow_list: ["http://localhost:5173/**"]
            bcrypt_cost: 4
          strict:
            kind: auth
            database: db
            depends_on: { db: healthy }
            mailer_autoconfirm: false
            external_anonymous_users_enabled: true
            disable_signup: false
            password_min_length: 10
            rate_limit: true
            bcrypt_cost: 4
        """

    struct Reply {
        var status: Int
        var json: [String: Any]
        var headers: [String: String]
        subscript(_ key: String) -> Any? { json[key] }
    }

    final class Client: Sendable {
        let base: String
        init(_ base: String) { self.base = base }

        func call(
            _ method: String, _ path: String, _ body: Any? = nil, token: String? = nil, headers: [String: String] = [:], raw: String? = nil
        ) async throws -> Reply {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            if let raw { request.httpBody = Data(raw.utf8) } else if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            var fields: [String: String] = [:]
            for (name, value) in http.allHeaderFields { fields[String(describing: name).lowercased()] = String(describing: value) }
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Reply(status: http.statusCode, json: object, headers: fields)
        }
    }

    func start() async throws -> (StackUnderTest, Client, Client, String) {
        let stack = try StackUnderTest(stack: Self.stack)
        let report = try await stack.waitFor("ready") { $0.allReady }
        let auth = Client(try #require(stack.service("auth", in: report)?.url) + "/auth/v1")
        let strict = Client(try #require(stack.service("strict", in: report)?.url))
        let secrets = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(stack.path)/.devstack/local/secrets")))
        let serviceKey = (secrets as? [String: Any])?["service_role_key"] as? String ?? ""
        return (stack, auth, strict, serviceKey)
    }

    @Test func everyEndpointAnswersLikeGoTrue() async throws {
        let (stack, auth, strict, serviceKey) = try await start()
        defer { stack.cleanUp() }
        #expect(!serviceKey.isEmpty)

        // Health, settings, JWKS.
        #expect(try await auth.call("GET", "/health").status == 200)
        let settings = try await auth.call("GET", "/settings")
        #expect((settings["external"] as? [String: Any])?["email"] as? Bool == true)
        #expect((settings["external"] as? [String: Any])?["anonymous_users"] as? Bool == false)
        #expect(try await auth.call("GET", "/.well-known/jwks.json")["keys"] as? [Any] != nil)

        // Sign-up with autoconfirm gives a session; anonymous sign-in is off here.
        let signup = try await auth.call(
            "POST", "/signup", ["email": "Dana@Example.com", "password": "secret-pass", "data": ["name": "Dana", "level": 1, "beta": true]])
        #expect(signup.status == 200)
        // Metadata keeps its JSON types in the token: 1 stays a number, true a boolean.
        let payload = try #require((signup["access_token"] as? String)?.split(separator: ".").dropFirst().first)
        var base64 = payload.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        let decoded = try #require(Data(base64Encoded: base64))
        let claims = try #require(try JSONSerialization.jsonObject(with: decoded) as? [String: Any])
        let metadata = try #require(claims["user_metadata"] as? [String: Any])
        #expect(
            String(decoding: try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys]), as: UTF8.self)
                == #"{"beta":true,"level":1,"name":"Dana"}"#)
        #expect(claims["aud"] as? String == "authenticated")
        #expect(claims["role"] as? String == "authenticated")
        #expect(claims["session_id"] is String)
        #expect((signup["user"] as? [String: Any])?["email"] as? String == "dana@example.com")
        #expect(signup["token_type"] as? String == "bearer")
        #expect(signup.headers["x-supabase-api-version"] == "2024-01-01")
        let anonymous = try await auth.call("POST", "/signup", [String: Any](), headers: ["X-Supabase-Api-Version": "2024-01-01"])
        #expect(anonymous.status == 422)
        #expect(anonymous["code"] as? String == "anonymous_provider_disabled")
        let duplicate = try await auth.call("POST", "/signup", ["email": "dana@example.com", "password": "secret-pass"])
        #expect(duplicate.status == 422)
        #expect(duplicate["error_code"] as? String == "user_already_exists")
        #expect(duplicate["code"] as? Int == 422)
        #expect(duplicate["msg"] as? String == "User already registered")
        let weak = try await auth.call("POST", "/signup", ["email": "weak@example.com", "password": "123"])
        #expect(weak["error_code"] as? String == "weak_password")
        #expect((weak["weak_password"] as? [String: Any])?["reasons"] as? [String] == ["length"])
        #expect(try await auth.call("POST", "/signup", ["email": "not-an-email", "password": "secret-pass"]).status == 400)

        // Password grant, refresh rotation and reuse detection.
        let session = try await auth.call("POST", "/token?grant_type=password", ["email": "dana@example.com", "password": "secret-pass"])
        #expect(session.status == 200)
        let refresh = try #require(session["refresh_token"] as? String)
        #expect(
            try await auth.call("POST", "/token?grant_type=password", ["email": "dana@example.com", "password": "nope"])["error_code"] as? String
                == "invalid_credentials")
        let rotated = try await auth.call("POST", "/token?grant_type=refresh_token", ["refresh_token": refresh])
        let next = try #require(rotated["refresh_token"] as? String)
        #expect(next != refresh)
        #expect(
            try await auth.call("POST", "/token?grant_type=refresh_token", ["refresh_token": refresh])["error_code"] as? String
                == "refresh_token_already_used")
        #expect(try await auth.call("POST", "/token?grant_type=refresh_token", ["refresh_token": next]).status == 400)
        #expect(
            try await auth.call("POST", "/token?grant_type=refresh_token", ["refresh_token": "nonsense"])["error_code"] as? String
                == "refresh_token_not_found")
        #expect(try await auth.call("POST", "/token?grant_type=password", raw: "{").status == 400)

        // The user.
        let fresh = try await auth.call("POST", "/token?grant_type=password", ["email": "dana@example.com", "password": "secret-pass"])
        let token = try #require(fresh["access_token"] as? String)
        #expect(try await auth.call("GET", "/user", token: token)["email"] as? String == "dana@example.com")
        #expect(try await auth.call("GET", "/user").status == 401)
        let updated = try await auth.call("PUT", "/user", ["data": ["plan": "pro"]], token: token)
        #expect((updated["user_metadata"] as? [String: Any])?["plan"] as? String == "pro")
        #expect((updated["user_metadata"] as? [String: Any])?["name"] as? String == "Dana")
        // Logout: local ends this session only.
        let other = try await auth.call("POST", "/token?grant_type=password", ["email": "dana@example.com", "password": "secret-pass"])
        #expect(try await auth.call("POST", "/logout?scope=local", token: token).status == 204)
        #expect(try await auth.call("GET", "/user", token: token).status == 403)
        #expect(try await auth.call("GET", "/user", token: other["access_token"] as? String).status == 200)
        #expect(try await auth.call("POST", "/logout?scope=everything", token: other["access_token"] as? String).status == 400)

        // OTP through the inbox, recover, resend.
        #expect(try await auth.call("POST", "/otp", ["email": "otp@example.com"]).status == 200)
        let inbox = Client(auth.base.replacingOccurrences(of: "/auth/v1", with: ""))
        let messages = try await inbox.call("GET", "/__devstack/inbox?to=otp@example.com")["messages"] as? [[String: Any]]
        let code = try #require(messages?.last?["token"] as? String)
        #expect(
            try await auth.call("POST", "/verify", ["type": "email", "email": "otp@example.com", "token": "000000" == code ? "111111" : "000000"])
                .status == 403)
        let verified = try await auth.call("POST", "/verify", ["type": "email", "email": "otp@example.com", "token": code])
        #expect(verified.status == 200)
        #expect(verified["access_token"] != nil)
        #expect(try await auth.call("POST", "/otp", ["email": "nobody@example.com", "create_user": false]).status == 422)
        #expect(try await auth.call("POST", "/recover", ["email": "dana@example.com"]).status == 200)
        #expect(try await auth.call("POST", "/recover", ["email": "unknown@example.com"]).status == 200)
        let recovery = try await inbox.call("GET", "/__devstack/inbox?to=dana@example.com")["messages"] as? [[String: Any]]
        #expect(recovery?.last?["type"] as? String == "recovery")
        // The link redirects only where the allow list says.
        let link = try #require(recovery?.last?["link"] as? String)
        #expect(link.contains("redirect_to=http://127.0.0.1:3000"))
        #expect(try await auth.call("POST", "/resend", ["type": "bogus", "email": "dana@example.com"]).status == 400)
        #expect(try await auth.call("POST", "/magiclink", ["email": "magic@example.com"]).status == 200)

        // Admin: not with a user token; with the service key, users and paging.
        let notAdmin = try await auth.call("GET", "/admin/users", token: token, headers: ["X-Supabase-Api-Version": "2024-01-01"])
        #expect(notAdmin.status == 403)
        #expect(notAdmin.json as? [String: String] == ["code": "not_admin", "message": "User not allowed"])
        let created = try await auth.call(
            "POST", "/admin/users", ["email": "made@example.com", "password": "made-pass", "email_confirm": true], token: serviceKey)
        let madeID = try #require(created["id"] as? String)
        let page = try await auth.call("GET", "/admin/users?page=1&per_page=2", token: serviceKey)
        #expect((page["users"] as? [Any])?.count == 2)
        #expect(Int(page.headers["x-total-count"] ?? "") ?? 0 >= 4)
        #expect(page.headers["link"]?.contains("rel=\"next\"") == true)
        #expect(try await auth.call("GET", "/admin/users/\(madeID)", token: serviceKey)["email"] as? String == "made@example.com")
        let banned = try await auth.call("PUT", "/admin/users/\(madeID)", ["ban_duration": "24h"], token: serviceKey)
        #expect(banned["banned_until"] is String)
        #expect(
            try await auth.call("POST", "/token?grant_type=password", ["email": "made@example.com", "password": "made-pass"])["error_code"] as? String
                == "user_banned")
        // As GoTrue: the ban is told before the password is checked.
        #expect(
            try await auth.call("POST", "/token?grant_type=password", ["email": "made@example.com", "password": "wrong"])["error_code"] as? String
                == "user_banned")
        #expect(try await auth.call("DELETE", "/admin/users/\(madeID)", token: serviceKey).status == 200)
        #expect(try await auth.call("GET", "/admin/users/\(madeID)", token: serviceKey).status == 404)
        let generated = try await auth.call("POST", "/admin/generate_link", ["type": "magiclink", "email": "linked@example.com"], token: serviceKey)
        #expect((generated["action_link"] as? String)?.contains("/verify?token=") == true)
        #expect((generated["email_otp"] as? String)?.count == 6)
        #expect(try await auth.call("POST", "/invite", ["email": "invited@example.com"], token: serviceKey)["invited_at"] is String)
        #expect(try await auth.call("POST", "/invite", ["email": "x@example.com"], token: token).status == 403)

        // The second auth service of the stack, configured differently on its own port.
        let unconfirmed = try await strict.call("POST", "/signup", ["email": "late@example.com", "password": "long-enough-pass"])
        #expect(unconfirmed.status == 200)
        #expect(unconfirmed["access_token"] == nil)
        #expect(
            try await strict.call("POST", "/token?grant_type=password", ["email": "late@example.com", "password": "long-enough-pass"])["error_code"]
                as? String == "email_not_confirmed")
        #expect(
            try await strict.call("POST", "/signup", ["email": "short@example.com", "password": "short-pw"])["error_code"] as? String
                == "weak_password")
        #expect(try await strict.call("POST", "/signup", [String: Any]())["access_token"] != nil)
        var limited = 0
        for _ in 0..<35 where try await strict.call("POST", "/token?grant_type=password", ["email": "x@example.com", "password": "y"]).status == 429 {
            limited += 1
        }
        #expect(limited > 0)
        // Reset clears the inbox and the rate-limit counters.
        #expect(try stack.devstack(["reset"]).status == 0)
        #expect((try await inbox.call("GET", "/__devstack/inbox")["messages"] as? [Any])?.isEmpty == true)
        #expect(try await strict.call("POST", "/token?grant_type=password", ["email": "x@example.com", "password": "y"]).status == 400)
        #expect(try await auth.call("POST", "/token?grant_type=password", ["email": "dana@example.com", "password": "secret-pass"]).status == 400)
        #expect(try await stack.stop() == 0)
    }

    /// Passwords are checked in Postgres by pgcrypto's `crypt()`: every bcrypt flavour clients bring
    /// signs in, and what cannot be a bcrypt hash, or cannot be stored, is a GoTrue error, never a 500.
    @Test func passwordHashesOfEveryBcryptFlavourSignIn() async throws {
        let (stack, auth, _, serviceKey) = try await start()
        defer { stack.cleanUp() }
        // One password hashed by OpenBSD's bcrypt ($2b$); $2y$ (PHP) and $2a$ (Go) name the same digest.
        let digest = "04$t6SwP8Wb8Bo9c7sC5vLiEeI.BAmikKMHHAskR3iR6VPqQl0HD4k3i"
        for flavour in ["2a", "2b", "2y"] {
            let email = "flavour-\(flavour)@example.com"
            let created = try await auth.call(
                "POST", "/admin/users", ["email": email, "password_hash": "$\(flavour)$\(digest)", "email_confirm": true], token: serviceKey)
            #expect(created.status == 200)
            #expect(try await auth.call("POST", "/token?grant_type=password", ["email": email, "password": "bench-password"]).status == 200)
            #expect(
                try await auth.call("POST", "/token?grant_type=password", ["email": email, "password": "bench-passwore"])["error_code"] as? String
                    == "invalid_credentials")
        }
        // crypt() computes costs 4 to 31 only: anything else is refused when given, and never checked when stored.
        let tooCheap = try await auth.call(
            "POST", "/admin/users", ["email": "cheap@example.com", "password_hash": "$2a$03$\(digest.dropFirst(3))"], token: serviceKey)
        #expect(tooCheap["error_code"] as? String == "validation_failed")
        let seeded = try await auth.call(
            "POST", "/admin/users", ["email": "seeded@example.com", "password": "seeded-pass", "email_confirm": true], token: serviceKey)
        let seededID = try #require(seeded["id"] as? String)
        try await PostgresSession.with(try await stack.postgresEndpoint()) { session in
            try await session.execute("update auth.users set encrypted_password = '$2a$99$not-a-hash' where id = '\(seededID)'")
        }
        let malformed = try await auth.call("POST", "/token?grant_type=password", ["email": "seeded@example.com", "password": "seeded-pass"])
        #expect(malformed["error_code"] as? String == "invalid_credentials")
        // A new password is hashed in GoTrue's $2a$ format at the configured cost, and the same one again is refused.
        let signedIn = try await auth.call("POST", "/token?grant_type=password", ["email": "flavour-2a@example.com", "password": "bench-password"])
        let token = try #require(signedIn["access_token"] as? String)
        #expect(try await auth.call("PUT", "/user", ["password": "bench-password"], token: token)["error_code"] as? String == "same_password")
        #expect(try await auth.call("PUT", "/user", ["password": "brand-new-pass"], token: token).status == 200)
        let stored = try await PostgresSession.with(try await stack.postgresEndpoint()) { session in
            try await session.strings("select encrypted_password from auth.users where email = 'flavour-2a@example.com'")
        }
        #expect(stored.first?.hasPrefix("$2a$04$") == true)
        let renewed = try await auth.call("POST", "/token?grant_type=password", ["email": "flavour-2a@example.com", "password": "brand-new-pass"])
        #expect(renewed.status == 200)
        // JSON can carry U+0000; Postgres cannot store it.
        let nul = try await auth.call("POST", "/token?grant_type=password", ["email": "seeded@example.com", "password": "a\u{0}b"])
        #expect(nul.status == 400)
        #expect(nul["error_code"] as? String == "validation_failed")
        let nulMetadata = try await auth.call("POST", "/signup", ["email": "nul@example.com", "password": "secret-pass", "data": ["x": "a\u{0}b"]])
        #expect(nulMetadata.status == 400)
        // A user's trigger calling a missing function is not blamed on pgcrypto.
        try await PostgresSession.with(try await stack.postgresEndpoint()) { session in
            try await session.execute(
                "create function public.broken() returns trigger language plpgsql as 'begin perform public.nope(); return new; end'")
            try await session.execute("create trigger broken before update on auth.users for each row execute function public.broken()")
        }
        let triggered = try await auth.call("POST", "/token?grant_type=password", ["email": "flavour-2a@example.com", "password": "brand-new-pass"])
        #expect(triggered.status == 500)
        #expect((triggered["msg"] as? String)?.contains("pgcrypto") == false)
        try await PostgresSession.with(try await stack.postgresEndpoint()) { try await $0.execute("drop trigger broken on auth.users") }
        // Without pgcrypto, passwords cannot be checked: the answer says what is missing.
        try await PostgresSession.with(try await stack.postgresEndpoint()) { try await $0.execute("drop extension pgcrypto") }
        let missing = try await auth.call("POST", "/token?grant_type=password", ["email": "seeded@example.com", "password": "seeded-pass"])
        #expect(missing.status == 500)
        #expect((missing["msg"] as? String)?.contains("create extension pgcrypto with schema extensions") == true)
        #expect(try await stack.stop() == 0)
    }
}
