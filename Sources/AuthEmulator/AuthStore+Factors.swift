import Foundation
import Logging
import PostgresNIO

/// A second factor as GoTrue stores it (`auth.mfa_factors`), with its JSON as GoTrue returns it.
struct Factor: @unchecked Sendable {
    let id: String
    let userID: String
    let type: String
    let verified: Bool
    let secret: String?
    let phone: String?
    let json: [String: Any]
    let jsonText: String
}

/// A challenge of a factor (`auth.mfa_challenges`).
struct Challenge: Sendable {
    let id: String
    let factorID: String
    let age: TimeInterval
    let verified: Bool
    /// The phone factor's code, hashed.
    let codeHash: String?
}

/// How sure the emulator is of who holds a session: `aal1` or `aal2`, and the methods that got it there.
struct Assurance: Sendable {
    var level: String
    var methods: [(method: String, timestamp: Int)]

    static func firstFactor(_ method: String) -> Assurance {
        Assurance(level: "aal1", methods: [(method, Int(Date().timeIntervalSince1970))])
    }
}

extension AuthStore {
    /// A factor row `f` as GoTrue's JSON (the phone only on phone factors).
    static let factorColumns = """
        (jsonb_build_object('id', f.id, 'friendly_name', coalesce(f.friendly_name, ''), 'factor_type', f.factor_type, 'status', f.status,
            'created_at', f.created_at, 'updated_at', f.updated_at)
            || case when f.phone is null then '{}'::jsonb else jsonb_build_object('phone', f.phone) end)
        """

    private static let factorSelect =
        "select f.id::text, f.user_id::text, f.factor_type, f.status = 'verified', f.secret, f.phone, \(factorColumns)::text from auth.mfa_factors f"

    private func factors(_ query: PostgresQuery) async throws -> [Factor] {
        try await retrying { [client, logger] in
            var found: [Factor] = []
            for try await (id, user, type, verified, secret, phone, text) in try await client.query(query, logger: logger)
                .decode((String, String, String, Bool, String?, String?, String).self)
            {
                let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
                found.append(Factor(id: id, userID: user, type: type, verified: verified, secret: secret, phone: phone, json: json, jsonText: text))
            }
            return found
        }
    }

    func factors(userID: String) async throws -> [Factor] {
        guard UUID(uuidString: userID) != nil else { return [] }
        return try await factors("\(unescaped: Self.factorSelect) where f.user_id = \(userID)::uuid order by f.created_at")
    }

    func factor(id: String, userID: String) async throws -> Factor? {
        guard UUID(uuidString: id) != nil, UUID(uuidString: userID) != nil else { return nil }
        return try await factors("\(unescaped: Self.factorSelect) where f.id = \(id)::uuid and f.user_id = \(userID)::uuid").first
    }

    /// A new unverified factor; a friendly name the user already gave another factor is GoTrue's 422.
    func createFactor(userID: String, type: String, friendlyName: String, secret: String?, phone: String?) async throws -> Factor {
        let id = UUID().uuidString.lowercased()
        do {
            try await retrying { [client, logger] in
                try await client.query(
                    """
                    insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret, phone)
                    values (\(id)::uuid, \(userID)::uuid, \(friendlyName), \(type), 'unverified', now(), now(), \(secret), \(phone))
                    """, logger: logger)
            }
        } catch let error where error.postgres?.sqlState == "23505" {
            throw AuthError(422, "mfa_factor_name_conflict", "A factor with the friendly name \"\(friendlyName)\" for this user already exists")
        }
        guard let factor = try await factor(id: id, userID: userID) else { throw AuthError.factorNotFound }
        return factor
    }

    /// The factor, as it was before it went; nil when the user has no such factor.
    func deleteFactor(id: String, userID: String) async throws -> Factor? {
        guard let factor = try await factor(id: id, userID: userID) else { return nil }
        try await retrying { [client, logger] in
            // Sessions it raised fall back to aal1, as GoTrue's do.
            try await client.query(
                """
                with downgraded as (
                    update auth.sessions set aal = 'aal1', factor_id = null, updated_at = now() where factor_id = \(id)::uuid
                )
                delete from auth.mfa_factors where id = \(id)::uuid
                """, logger: logger)
        }
        return factor
    }

    func createChallenge(factorID: String, ipAddress: String, codeHash: String?) async throws -> (id: String, createdAt: Date) {
        let id = UUID().uuidString.lowercased()
        try await retrying { [client, logger] in
            try await client.query(
                """
                with challenge as (
                    insert into auth.mfa_challenges (id, factor_id, created_at, ip_address, otp_code)
                    values (\(id)::uuid, \(factorID)::uuid, now(), \(ipAddress)::inet, \(codeHash))
                )
                update auth.mfa_factors set last_challenged_at = now() where id = \(factorID)::uuid
                """, logger: logger)
        }
        return (id, Date())
    }

    func challenge(id: String) async throws -> Challenge? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await retrying { [client, logger] in
            var found: Challenge?
            let rows = try await client.query(
                """
                select id::text, factor_id::text, extract(epoch from now() - created_at)::float8, verified_at is not null, otp_code
                from auth.mfa_challenges where id = \(id)::uuid
                """, logger: logger)
            for try await (id, factor, age, verified, code) in rows.decode((String, String, Double, Bool, String?).self) {
                found = Challenge(id: id, factorID: factor, age: age, verified: verified, codeHash: code)
            }
            return found
        }
    }

    /// A verified challenge raises the session to `aal2`: the challenge and factor are marked
    /// verified, the session remembers the factor, and the methods join its `amr` claims. A new
    /// refresh token continues the session.
    func completeChallenge(
        _ challenge: Challenge, session: String, userID: String, methods: [String]
    ) async throws -> (assurance: Assurance, refreshToken: String) {
        let refreshToken = Self.randomToken()
        let claims = try await retrying { [client, logger] in
            try await client.withTransaction(logger: logger) { connection -> String in
                try await connection.query(
                    "update auth.mfa_challenges set verified_at = now() where id = \(challenge.id)::uuid", logger: logger)
                try await connection.query(
                    "update auth.mfa_factors set status = 'verified', updated_at = now() where id = \(challenge.factorID)::uuid", logger: logger)
                try await connection.query(
                    "update auth.sessions set aal = 'aal2', factor_id = \(challenge.factorID)::uuid, updated_at = now() where id = \(session)::uuid",
                    logger: logger)
                for method in methods {
                    try await connection.query(
                        """
                        insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
                        values (gen_random_uuid(), \(session)::uuid, now(), now(), \(method))
                        on conflict (session_id, authentication_method) do update set updated_at = now()
                        """, logger: logger)
                }
                try await connection.query(
                    """
                    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id)
                    values ('00000000-0000-0000-0000-000000000000', \(refreshToken), \(userID), false, now(), now(), \(session)::uuid)
                    on conflict (token) do nothing
                    """, logger: logger)
                return try await Self.amrClaims(session: session, connection: connection, logger: logger)
            }
        }
        return (Assurance(level: "aal2", methods: try Self.methods(claims)), refreshToken)
    }

    /// The session's `amr` claims as JSON text, newest first.
    static func amrClaims(session: String, connection: PostgresConnection, logger: Logger) async throws -> String {
        let rows = try await connection.query(
            """
            select coalesce(json_agg(json_build_object('method', authentication_method,
                'timestamp', extract(epoch from updated_at)::bigint) order by updated_at desc)::text, '[]')
            from auth.mfa_amr_claims where session_id = \(session)::uuid
            """, logger: logger)
        var text = "[]"
        for try await value in rows.decode(String.self) { text = value }
        return text
    }

    static func methods(_ claimsText: String) throws -> [(method: String, timestamp: Int)] {
        let claims = try JSONSerialization.jsonObject(with: Data(claimsText.utf8)) as? [[String: Any]] ?? []
        return claims.compactMap { claim in
            guard let method = claim["method"] as? String else { return nil }
            return (method, (claim["timestamp"] as? NSNumber)?.intValue ?? 0)
        }
    }
}
