import Foundation
import Logging
import PostgresNIO
import PostgresRetry

/// A user as GoTrue returns it (`json`, and `jsonText` as Postgres rendered it, sent as is), with
/// the private columns the emulator needs beside it.
struct AuthUser: @unchecked Sendable {
    /// GoTrue's user object, for reading fields.
    let json: [String: Any]
    /// The same object as JSON text: responses carry it without a second serialisation.
    let jsonText: String
    let confirmationToken: String?
    let recoveryToken: String?
    let emailChangeToken: String?
    /// The hash of the nonce `GET /reauthenticate` sent, while it is under an hour old.
    let reauthenticationToken: String?
    let banned: Bool

    /// A row of `AuthStore.userColumns`: the user object, then the private columns.
    init(userText: String, privateText: String) throws {
        guard let user = try JSONSerialization.jsonObject(with: Data(userText.utf8)) as? [String: Any],
            let columns = try JSONSerialization.jsonObject(with: Data(privateText.utf8)) as? [String: Any]
        else { throw AuthError(500, "unexpected_failure", "The auth schema returned a user that is not a JSON object") }
        json = user
        jsonText = userText
        confirmationToken = columns["confirmation_token"] as? String
        recoveryToken = columns["recovery_token"] as? String
        emailChangeToken = columns["email_change_token"] as? String
        reauthenticationToken = columns["reauthentication_fresh"] as? Bool == true ? columns["reauthentication_token"] as? String : nil
        banned = columns["banned"] as? Bool ?? false
    }

    var id: String { json["id"] as? String ?? "" }
    var email: String? { (json["email"] as? String).flatMap { $0.isEmpty ? nil : $0 } }
    var phone: String? { (json["phone"] as? String).flatMap { $0.isEmpty ? nil : $0 } }
    var emailConfirmed: Bool { !(json["email_confirmed_at"] is NSNull || json["email_confirmed_at"] == nil) }
    var phoneConfirmed: Bool { !(json["phone_confirmed_at"] is NSNull || json["phone_confirmed_at"] == nil) }
    var isAnonymous: Bool { json["is_anonymous"] as? Bool ?? false }
    var role: String { json["role"] as? String ?? "authenticated" }
    var appMetadata: [String: Any] { json["app_metadata"] as? [String: Any] ?? [:] }
    var userMetadata: [String: Any] { json["user_metadata"] as? [String: Any] ?? [:] }
}

/// Users, identities, sessions and refresh tokens in Postgres's `auth` schema, in GoTrue's layout:
/// RLS sees real user ids, and `devstack reset` wipes them with the rest of the database.
struct AuthStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// GoTrue's user object, built by Postgres, and the private columns the emulator needs.
    static let userSelect = "select \(userColumns) from auth.users u"

    /// The user row `u` as the emulator reads it: two JSON texts, the user object and the private columns.
    static let userColumns = """
        json_build_object(
            'id', u.id, 'aud', coalesce(u.aud, 'authenticated'), 'role', coalesce(u.role, 'authenticated'),
            'email', coalesce(u.email, ''), 'phone', coalesce(u.phone, ''),
            'email_confirmed_at', u.email_confirmed_at, 'phone_confirmed_at', u.phone_confirmed_at, 'confirmed_at', u.confirmed_at,
            'confirmation_sent_at', u.confirmation_sent_at, 'recovery_sent_at', u.recovery_sent_at, 'invited_at', u.invited_at,
            'email_change_sent_at', u.email_change_sent_at, 'new_email', nullif(u.email_change, ''),
            'last_sign_in_at', u.last_sign_in_at,
            'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb), 'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
            'identities', coalesce((
                select json_agg(json_build_object(
                    'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id, 'identity_data', i.identity_data,
                    'provider', i.provider, 'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at,
                    'updated_at', i.updated_at, 'email', i.email) order by i.created_at)
                from auth.identities i where i.user_id = u.id), '[]'::json),
            'created_at', u.created_at, 'updated_at', u.updated_at, 'banned_until', u.banned_until,
            'is_anonymous', u.is_anonymous, 'is_sso_user', u.is_sso_user,
            'factors', (select json_agg(\(factorColumns) order by f.created_at) from auth.mfa_factors f where f.user_id = u.id)
        )::text,
        json_build_object(
            'confirmation_token', nullif(u.confirmation_token, ''),
            'recovery_token', nullif(u.recovery_token, ''),
            'email_change_token', nullif(u.email_change_token_new, ''),
            'reauthentication_token', nullif(u.reauthentication_token, ''),
            'reauthentication_fresh', coalesce(u.reauthentication_sent_at > now() - interval '1 hour', false),
            'banned', coalesce(u.banned_until > now(), false)
        )::text
        """

    private func users(_ query: PostgresQuery) async throws -> [AuthUser] {
        try await retrying {
            var result: [AuthUser] = []
            for try await (userText, privateText) in try await client.query(query, logger: logger).decode((String, String).self) {
                result.append(try AuthUser(userText: userText, privateText: privateText))
            }
            return result
        }
    }

    private func users<Statement: UserStatement>(_ statement: Statement) async throws -> [AuthUser] {
        try await rows(statement).map { try AuthUser(userText: $0.0, privateText: $0.1) }
    }

    /// The one value a query returns (the last, should it return more).
    private func value<Value: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: Value.Type) async throws -> Value? {
        try await retrying {
            var value: Value?
            for try await decoded in try await client.query(query, logger: logger).decode(Value.self) { value = decoded }
            return value
        }
    }

    private func rows<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row] where Statement.Row: Sendable {
        try await retrying {
            var rows: [Statement.Row] = []
            for try await row in try await client.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
    }

    /// Every query rides over `devstack reset` (see `PostgresRetry`).
    @discardableResult
    func retrying<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await PostgresRetry.run(body)
    }

    func user(id: String) async throws -> AuthUser? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try await users(UserByID(id: id)).first
    }

    func user(email: String) async throws -> AuthUser? {
        try await users(UserByEmail(email: email)).first
    }

    /// By e-mail when given, else by phone.
    func user(email: String?, phone: String?) async throws -> AuthUser? {
        if let email { return try await user(email: email) }
        if let phone { return try await user(phone: phone) }
        return nil
    }

    func user(phone: String) async throws -> AuthUser? {
        try await users(PostgresQuery(unsafeSQL: "\(Self.userSelect) where \(Login.phoneCondition)", binds: PostgresBindings(texts: phone))).first
    }

    func user(tokenHash: String) async throws -> AuthUser? {
        try await users(
            "\(unescaped: Self.userSelect) where u.confirmation_token = \(tokenHash) or u.recovery_token = \(tokenHash) or u.email_change_token_new = \(tokenHash)"
        ).first
    }

    func listUsers(page: Int, perPage: Int) async throws -> (users: [AuthUser], total: Int) {
        let offset = (page - 1) * perPage
        let users = try await users("\(unescaped: Self.userSelect) order by u.created_at desc, u.id limit \(perPage) offset \(offset)")
        let total = try await value("select count(*)::int from auth.users", as: Int.self) ?? 0
        return (users, total)
    }

    struct NewUser {
        var id: String?
        var email: String?
        var phone: String?
        var passwordHash: String?
        var emailConfirmed = false
        var phoneConfirmed = false
        var invited = false
        var anonymous = false
        var role = "authenticated"
        var appMetadata: [String: Any] = [:]
        var userMetadata: [String: Any] = [:]
        var bannedUntil: Date?
        /// An OAuth provider's identity instead of the e-mail or phone one.
        var identity: ExternalIdentity?
    }

    /// A user as an OAuth provider knows them.
    struct ExternalIdentity {
        var provider: String
        var providerID: String
        var data: [String: Any]
    }

    /// The user and its identity (email, phone or none for anonymous users), in one transaction.
    func create(_ new: NewUser) async throws -> AuthUser {
        let id = new.id ?? UUID().uuidString.lowercased()
        let provider = new.identity?.provider ?? (new.email != nil ? "email" : new.phone != nil ? "phone" : nil)
        var app = new.appMetadata
        if app["provider"] == nil { app["provider"] = provider ?? "anonymous" }
        if app["providers"] == nil { app["providers"] = provider.map { [$0] } ?? [] }
        let appJSON = Self.json(app)
        let userJSON = Self.json(new.userMetadata)
        var identityData: [String: Any] = ["sub": id, "email_verified": new.emailConfirmed, "phone_verified": new.phoneConfirmed]
        if let email = new.email { identityData["email"] = email }
        if let phone = new.phone { identityData["phone"] = phone }
        let identityJSON = Self.json(new.identity?.data ?? identityData)
        let providerID = new.identity?.providerID ?? id
        let email = new.email?.lowercased()
        // The retried work may outlive this call (see PostgresRetry): it takes plain values, not `new`.
        let (role, phone, passwordHash, anonymous, bannedUntil) = (new.role, new.phone, new.passwordHash ?? "", new.anonymous, new.bannedUntil)
        let (emailConfirmed, phoneConfirmed, invited) = (new.emailConfirmed, new.phoneConfirmed, new.invited)
        do {
            try await retrying {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query(
                        """
                        insert into auth.users (instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at,
                            phone_confirmed_at, invited_at, raw_app_meta_data, raw_user_meta_data, is_anonymous, banned_until,
                            created_at, updated_at, confirmation_token, recovery_token, email_change_token_new, email_change)
                        values ('00000000-0000-0000-0000-000000000000', \(id)::uuid, 'authenticated', \(role), \(email), \(phone),
                            \(passwordHash), case when \(emailConfirmed) then now() end,
                            case when \(phoneConfirmed) then now() end, case when \(invited) then now() end,
                            \(appJSON)::jsonb, \(userJSON)::jsonb, \(anonymous), \(bannedUntil), now(), now(), '', '', '', '')
                        """, logger: logger)
                    if let provider {
                        try await connection.query(
                            """
                            insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at, last_sign_in_at)
                            values (\(providerID), \(id)::uuid, \(identityJSON)::jsonb, \(provider), now(), now(), now())
                            """, logger: logger)
                    }
                }
            }
        } catch let error where error.postgres?.sqlState == "23505" {
            throw AuthError(
                422, new.phone != nil && new.email == nil ? "phone_exists" : "email_exists",
                new.phone != nil && new.email == nil
                    ? "Phone number already registered by another user" : "A user with this email address has already been registered")
        }
        guard let user = try await user(id: id) else { throw AuthError.userNotFound }
        return user
    }

    /// The user an OAuth provider's identity belongs to, if it was seen before.
    func user(provider: String, providerID: String) async throws -> AuthUser? {
        try await users(
            "\(unescaped: Self.userSelect) where u.id = (select user_id from auth.identities where provider = \(provider) and provider_id = \(providerID))"
        ).first
    }

    /// Links an OAuth identity to an existing user (GoTrue links a verified e-mail), adding the
    /// provider to `app_metadata.providers`.
    func link(_ identity: ExternalIdentity, to userID: String) async throws -> AuthUser {
        let data = Self.json(identity.data)
        let provider = identity.provider
        let providerID = identity.providerID
        try await retrying {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at, last_sign_in_at)
                    values (\(providerID), \(userID)::uuid, \(data)::jsonb, \(provider), now(), now(), now())
                    on conflict do nothing
                    """, logger: logger)
                try await connection.query(
                    """
                    update auth.users set raw_app_meta_data = jsonb_set(coalesce(raw_app_meta_data, '{}'::jsonb), '{providers}',
                        (select coalesce(jsonb_agg(distinct p), '[]'::jsonb) from jsonb_array_elements_text(
                            coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb) || to_jsonb(\(provider)::text)) p)),
                        updated_at = now()
                    where id = \(userID)::uuid
                    """, logger: logger)
            }
        }
        guard let user = try await user(id: userID) else { throw AuthError.userNotFound }
        return user
    }

    /// A column-wise update: only what is given changes.
    struct Changes {
        var email: String?
        var phone: String?
        var passwordHash: String?
        var confirmEmail = false
        var confirmPhone = false
        var userMetadata: [String: Any]?
        var appMetadata: [String: Any]?
        var role: String?
        var bannedUntil: Date??
        var confirmationToken: String??
        var recoveryToken: String??
        var emailChange: (email: String, tokenHash: String)??
        var reauthenticationToken: String??
        var confirmationSent = false
        var recoverySent = false
    }

    func update(_ id: String, _ changes: Changes) async throws -> AuthUser {
        var sets: [String] = ["updated_at = now()"]
        var binds = PostgresBindings()
        func bind(_ value: some PostgresNonThrowingEncodable & Sendable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let email = changes.email { sets.append("email = \(bind(email.lowercased()))") }
        if let phone = changes.phone { sets.append("phone = \(bind(phone))") }
        if let hash = changes.passwordHash { sets.append("encrypted_password = \(bind(hash))") }
        if changes.confirmEmail { sets.append("email_confirmed_at = coalesce(email_confirmed_at, now())") }
        if changes.confirmPhone { sets.append("phone_confirmed_at = coalesce(phone_confirmed_at, now())") }
        if let metadata = changes.userMetadata {
            sets.append("raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || \(bind(Self.json(metadata)))::jsonb")
        }
        if let metadata = changes.appMetadata {
            sets.append("raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) || \(bind(Self.json(metadata)))::jsonb")
        }
        if let role = changes.role { sets.append("role = \(bind(role))") }
        if let banned = changes.bannedUntil { sets.append("banned_until = " + (banned.map { bind($0) } ?? "null")) }
        if let token = changes.confirmationToken { sets.append("confirmation_token = \(bind(token ?? ""))") }
        if let token = changes.recoveryToken { sets.append("recovery_token = \(bind(token ?? ""))") }
        if let change = changes.emailChange {
            sets.append("email_change = \(bind(change?.email ?? ""))")
            sets.append("email_change_token_new = \(bind(change?.tokenHash ?? ""))")
            if change != nil { sets.append("email_change_sent_at = now()") }
        }
        if let token = changes.reauthenticationToken {
            sets.append("reauthentication_token = \(bind(token ?? ""))")
            if token != nil { sets.append("reauthentication_sent_at = now()") }
        }
        if changes.confirmationSent { sets.append("confirmation_sent_at = now()") }
        if changes.recoverySent { sets.append("recovery_sent_at = now()") }
        let query = PostgresQuery(unsafeSQL: "update auth.users set \(sets.joined(separator: ", ")) where id = \(bind(id))::uuid", binds: binds)
        do {
            try await retrying { try await client.query(query, logger: logger) }
        } catch let error where error.postgres?.sqlState == "23505" {
            throw AuthError(422, "email_exists", "A user with this email address has already been registered")
        }
        if let email = changes.email {
            try await retrying {
                try await client.query(
                    """
                    update auth.identities set identity_data = identity_data || jsonb_build_object('email', \(email.lowercased())), updated_at = now()
                    where user_id = \(id)::uuid and provider = 'email'
                    """, logger: logger)
            }
        }
        guard let user = try await user(id: id) else { throw AuthError.userNotFound }
        return user
    }

    func delete(_ id: String) async throws -> Bool {
        (try await value("with d as (delete from auth.users where id = \(id)::uuid returning 1) select count(*)::int from d", as: Int.self) ?? 0) > 0
    }

    // MARK: Sessions and refresh tokens

    /// A sign-in in one statement (one round trip): a session, its first refresh token, and the
    /// user marked as signed in now, returned as it then is.
    func signIn(userID: String, userAgent: String?) async throws -> (user: AuthUser, session: String, refreshToken: String) {
        let session = UUID().uuidString.lowercased()
        let token = Self.randomToken()
        let updated = try await users(SignIn(userID: userID, session: session, refreshToken: token, userAgent: userAgent))
        guard let user = updated.first else { throw AuthError.userNotFound }
        return (user, session, token)
    }

    /// A new bcrypt hash of the password at the cost, in GoTrue's `$2a$` format.
    func hash(password: String, cost: Int) async throws -> String {
        try await value("select extensions.crypt(\(password), extensions.gen_salt('bf', \(Int32(cost))))", as: String.self) ?? ""
    }

    /// Whether the password is the user's current one (false when the user has none).
    func passwordMatches(userID: String, password: String) async throws -> Bool {
        let query = PostgresQuery(
            unsafeSQL: "select \(PasswordHash.matches(password: "$2", hash: "encrypted_password")) from auth.users where id = $1::uuid",
            binds: PostgresBindings(texts: userID, password))
        return try await value(query, as: Bool.self) ?? false
    }

    /// How a user signs in with a password, and how that finds the user row `u` (`$1` is the value).
    enum Login: Sendable {
        case email(String)
        case phone(String)

        static let emailCondition = "lower(u.email) = lower($1) and u.is_sso_user = false"
        static let phoneCondition = "u.phone = $1"
    }

    enum PasswordSignInOutcome {
        case signedIn(user: AuthUser, session: String, refreshToken: String)
        /// No such user, no password, or the wrong one: GoTrue answers all three alike.
        case invalidCredentials
        case banned
        case notConfirmed
    }

    /// A password sign-in in one statement (one round trip): Postgres checks the bcrypt hash and,
    /// when it matches, makes the session and its first refresh token and marks the user signed in.
    func signIn(_ login: Login, password: String, userAgent: String?) async throws -> PasswordSignInOutcome {
        let session = UUID().uuidString.lowercased()
        let token = Self.randomToken()
        let rows: [PasswordSignInRow]
        switch login {
        case .email(let email):
            rows = try await self.rows(PasswordSignInByEmail(PasswordSignInValues(email, password, session, token, userAgent)))
        case .phone(let phone):
            rows = try await self.rows(PasswordSignInByPhone(PasswordSignInValues(phone, password, session, token, userAgent)))
        }
        // GoTrue's order: no such user or no password, then a ban, then the password, then confirmation.
        guard let row = rows.first, row.hasPassword else { return .invalidCredentials }
        if row.banned { return .banned }
        guard row.passwordMatches else { return .invalidCredentials }
        guard row.confirmed, let userText = row.user, let privateText = row.privateColumns else { return .notConfirmed }
        return .signedIn(user: try AuthUser(userText: userText, privateText: privateText), session: session, refreshToken: token)
    }

    enum RefreshOutcome {
        case rotated(userID: String, session: String, token: String, assurance: Assurance)
        case notFound
        /// A revoked token came back: the session it belonged to is ended.
        case reused
    }

    func refresh(_ token: String) async throws -> RefreshOutcome {
        // Chosen once: an attempt given up as slow may still commit (see PostgresRetry), and the next
        // one must then see its own rotation, not a reused token.
        let next = Self.randomToken()
        return try await retrying {
            try await client.withTransaction(logger: logger) { connection -> RefreshOutcome in
                let rows = try await connection.query(
                    """
                    select r.revoked::text, coalesce(r.session_id::text, ''), coalesce(r.user_id, ''), coalesce(s.aal, 'aal1')
                    from auth.refresh_tokens r left join auth.sessions s on s.id = r.session_id where r.token = \(token) for update of r
                    """, logger: logger)
                var found: (String, String, String, String)?
                for try await row in rows.decode((String, String, String, String).self) { found = row }
                guard let (revoked, session, user, level) = found, !session.isEmpty else { return .notFound }
                if revoked == "true" {
                    let rotatedByUs = try await connection.query(
                        "select 1 from auth.refresh_tokens where token = \(next) and parent = \(token)", logger: logger)
                    if try await rotatedByUs.collect().isEmpty {
                        try await connection.query("delete from auth.sessions where id = \(session)::uuid", logger: logger)
                        return .reused
                    }
                    let methods = try Self.methods(try await Self.amrClaims(session: session, connection: connection, logger: logger))
                    let assurance = methods.isEmpty ? Assurance.firstFactor("token_refresh") : Assurance(level: level, methods: methods)
                    return .rotated(userID: user, session: session, token: next, assurance: assurance)
                }
                try await connection.query("update auth.refresh_tokens set revoked = true, updated_at = now() where token = \(token)", logger: logger)
                try await connection.query(
                    """
                    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
                    values ('00000000-0000-0000-0000-000000000000', \(next), \(user), false, now(), now(), \(token), \(session)::uuid)
                    """, logger: logger)
                try await connection.query(
                    "update auth.sessions set refreshed_at = now()::timestamp, updated_at = now() where id = \(session)::uuid", logger: logger)
                // A refreshed session keeps its level and the methods that earned it.
                let methods = try Self.methods(try await Self.amrClaims(session: session, connection: connection, logger: logger))
                let assurance = methods.isEmpty ? Assurance.firstFactor("token_refresh") : Assurance(level: level, methods: methods)
                return .rotated(userID: user, session: session, token: next, assurance: assurance)
            }
        }
    }

    /// Signed in or refreshed within a day (GoTrue's window for a password change without a nonce).
    func sessionIsRecent(_ id: String?) async throws -> Bool {
        guard let id, UUID(uuidString: id) != nil else { return false }
        return try await value(
            "select coalesce(refreshed_at::timestamptz, created_at) > now() - interval '24 hours' from auth.sessions where id = \(id)::uuid",
            as: Bool.self) ?? false
    }

    func sessionExists(_ id: String) async throws -> Bool {
        guard UUID(uuidString: id) != nil else { return false }
        return try await retrying {
            var exists = false
            for try await _ in try await client.execute(SessionExists(id: id), logger: logger) { exists = true }
            return exists
        }
    }

    enum LogoutScope: String { case global, local, others }

    func logout(userID: String, session: String, scope: LogoutScope) async throws {
        try await retrying {
            switch scope {
            case .local: try await client.query("delete from auth.sessions where id = \(session)::uuid", logger: logger)
            case .global: try await client.query("delete from auth.sessions where user_id = \(userID)::uuid", logger: logger)
            case .others:
                try await client.query("delete from auth.sessions where user_id = \(userID)::uuid and id <> \(session)::uuid", logger: logger)
            }
        }
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<32).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }
}

extension Error {
    /// The Postgres error behind this one, also when a transaction wrapped it.
    var postgres: PSQLError? {
        if let error = self as? PSQLError { return error }
        guard let transaction = self as? PostgresTransactionError else { return nil }
        return (transaction.closureError ?? transaction.beginError ?? transaction.commitError)?.postgres
    }
}

extension PSQLError {
    var sqlState: String? { serverInfo?[.sqlState] }

}

// MARK: Prepared statements

// What every sign-in and every authenticated request runs is prepared once per connection: Postgres
// spent longer planning GoTrue's user object (0.6 ms here) than building it (0.2 ms).

extension PostgresBindings {
    /// Text parameters $1, $2, … in order (nil binds NULL).
    init(texts: String?...) {
        self.init()
        for text in texts { append(text) }
    }
}

/// A statement whose rows are `AuthStore.userColumns`.
protocol UserStatement: PostgresPreparedStatement where Row == (String, String) {}

extension UserStatement {
    func decodeRow(_ row: PostgresRow) throws -> (String, String) { try row.decode((String, String).self) }
}

struct UserByID: UserStatement {
    static let sql = "\(AuthStore.userSelect) where u.id = $1::uuid"
    let id: String

    func makeBindings() -> PostgresBindings { PostgresBindings(texts: id) }
}

struct UserByEmail: UserStatement {
    static let sql = "\(AuthStore.userSelect) where \(AuthStore.Login.emailCondition)"
    let email: String

    func makeBindings() -> PostgresBindings { PostgresBindings(texts: email) }
}

/// The sign-in of the user ids in CTE `admitted`, as further CTEs: a session with id `session`, its
/// first refresh token, and the user marked signed in, returned by `signed_in (user_json, private_json)`.
private func signingIn(session: String, refreshToken: String, userAgent: String) -> String {
    """
    new_session as (
        insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent)
        select \(session)::uuid, id, now(), now(), 'aal1', \(userAgent) from admitted
        on conflict (id) do nothing
    ), new_token as (
        insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id)
        select '00000000-0000-0000-0000-000000000000', \(refreshToken), id::text, false, now(), now(), \(session)::uuid from admitted
        on conflict (token) do nothing
    ), signed_in (user_json, private_json) as (
        update auth.users u set last_sign_in_at = now(), updated_at = now() from admitted where u.id = admitted.id
        returning \(AuthStore.userColumns)
    )
    """
}

/// The statement behind `AuthStore.signIn(userID:userAgent:)`.
struct SignIn: UserStatement {
    static let sql = """
        with admitted as (select $1::uuid as id), \(signingIn(session: "$2", refreshToken: "$3", userAgent: "$4"))
        select user_json, private_json from signed_in
        """
    let userID: String
    let session: String
    let refreshToken: String
    let userAgent: String?

    func makeBindings() -> PostgresBindings { PostgresBindings(texts: userID, session, refreshToken, userAgent) }
}

typealias PasswordSignInRow = (hasPassword: Bool, passwordMatches: Bool, confirmed: Bool, banned: Bool, user: String?, privateColumns: String?)

/// What a password sign-in binds, in order: `$1` the login, `$2` the password, `$3` the new
/// session's id, `$4` its refresh token, `$5` the user agent.
struct PasswordSignInValues: Sendable {
    let login: String
    let password: String
    let session: String
    let refreshToken: String
    let userAgent: String?

    init(_ login: String, _ password: String, _ session: String, _ refreshToken: String, _ userAgent: String?) {
        (self.login, self.password, self.session, self.refreshToken, self.userAgent) = (login, password, session, refreshToken, userAgent)
    }
}

/// The statement behind `AuthStore.signIn(_:password:userAgent:)`: one type per kind of login, as
/// a prepared statement's SQL belongs to its type.
protocol PasswordSignIn: PostgresPreparedStatement where Row == PasswordSignInRow {
    var values: PasswordSignInValues { get }
}

extension PasswordSignIn {
    /// The user found by `condition` is signed in only when the password matches, the login is
    /// confirmed (`confirmedColumn`) and no ban holds; the row says which of these failed.
    static func statement(condition: String, confirmedColumn: String) -> String {
        """
        with candidate as (
            select u.id, coalesce(u.encrypted_password, '') <> '' as has_password,
                \(PasswordHash.matches(password: "$2", hash: "u.encrypted_password")) as password_matches,
                u.\(confirmedColumn) is not null as confirmed, coalesce(u.banned_until > now(), false) as banned
            from auth.users u where \(condition)
            limit 1
        ), admitted as (
            select id from candidate where password_matches and confirmed and not banned
        ), \(signingIn(session: "$3", refreshToken: "$4", userAgent: "$5"))
        select c.has_password, c.password_matches, c.confirmed, c.banned, s.user_json, s.private_json
        from candidate c left join signed_in s on true
        """
    }

    func makeBindings() -> PostgresBindings {
        PostgresBindings(texts: values.login, values.password, values.session, values.refreshToken, values.userAgent)
    }

    func decodeRow(_ row: PostgresRow) throws -> PasswordSignInRow {
        let (hasPassword, matches, confirmed, banned, user, privateColumns) = try row.decode((Bool, Bool, Bool, Bool, String?, String?).self)
        return (hasPassword, matches, confirmed, banned, user, privateColumns)
    }
}

struct PasswordSignInByEmail: PasswordSignIn {
    static let sql = statement(condition: AuthStore.Login.emailCondition, confirmedColumn: "email_confirmed_at")
    let values: PasswordSignInValues
    init(_ values: PasswordSignInValues) { self.values = values }
}

struct PasswordSignInByPhone: PasswordSignIn {
    static let sql = statement(condition: AuthStore.Login.phoneCondition, confirmedColumn: "phone_confirmed_at")
    let values: PasswordSignInValues
    init(_ values: PasswordSignInValues) { self.values = values }
}

struct SessionExists: PostgresPreparedStatement {
    static let sql = "select 1 from auth.sessions where id = $1::uuid"
    let id: String

    func makeBindings() -> PostgresBindings { PostgresBindings(texts: id) }

    func decodeRow(_ row: PostgresRow) throws -> Int32 { try row.decode(Int32.self) }
}
