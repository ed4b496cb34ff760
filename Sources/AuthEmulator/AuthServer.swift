import Crypto
import DevstackCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// A GoTrue-compatible (Supabase Auth) HTTP API. Routes are served under `/auth/v1` and bare.
public struct AuthServer: Sendable {
    let configuration: AuthConfiguration
    let store: AuthStore
    let tokens: TokenIssuer
    let state = AuthState()
    let logger: Logger

    public init(configuration: AuthConfiguration, client: PostgresClient, logger: Logger) async throws {
        self.configuration = configuration
        self.store = AuthStore(client: client, logger: logger)
        let ring = try configuration.signingKeysFile.flatMap { try SigningKeyRing.load($0) }
        self.tokens = try await TokenIssuer(
            secret: configuration.jwtSecret, ring: ring, issuer: configuration.issuer, lifetime: configuration.jwtExpirySeconds)
        self.logger = logger
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        // Browser clients call the auth API from the app's origin, as through Supabase's gateway.
        router.add(
            middleware: CORSMiddleware(
                allowOrigin: .originBased,
                allowHeaders: [
                    .accept, .authorization, .contentType, .origin, HTTPField.Name("apikey")!, HTTPField.Name("x-client-info")!,
                    AuthError.apiVersionHeader,
                ], allowMethods: [.get, .post, .put, .delete, .head, .options], maxAge: .seconds(3600)))
        router.add(middleware: AuthErrorMiddleware())
        for prefix in ["", "/auth/v1"] {
            router.get("\(prefix)/health") { _, _ in
                try jsonResponse(["version": "devstack", "name": "GoTrue", "description": "devstack's GoTrue-compatible auth emulator"])
            }
            router.get("\(prefix)/settings") { _, _ in try jsonResponse(settings) }
            router.get("\(prefix)/.well-known/jwks.json") { _, _ in try jsonResponse(["keys": try tokens.jwks()]) }
            router.post("\(prefix)/signup") { request, _ in try await signUp(request) }
            router.post("\(prefix)/token") { request, _ in try await token(request) }
            router.get("\(prefix)/user") { request, _ in try await authenticated(request).user.response }
            router.put("\(prefix)/user") { request, _ in try await updateUser(request) }
            router.post("\(prefix)/logout") { request, _ in try await logout(request) }
            router.post("\(prefix)/otp") { request, _ in try await otp(request, magicLinkOnly: false) }
            router.post("\(prefix)/magiclink") { request, _ in try await otp(request, magicLinkOnly: true) }
            router.post("\(prefix)/recover") { request, _ in try await recover(request) }
            router.post("\(prefix)/resend") { request, _ in try await resend(request) }
            router.post("\(prefix)/verify") { request, _ in try await verify(request) }
            router.get("\(prefix)/verify") { request, _ in try await verifyLink(request) }
            router.get("\(prefix)/reauthenticate") { request, _ in try await reauthenticate(request) }
            // SAML is off in local development, as in Supabase's: GoTrue's answer for that.
            router.post("\(prefix)/sso") { _, _ -> Response in throw AuthError(404, "sso_provider_not_found", "SAML 2.0 is disabled") }
            addAdminRoutes(router, prefix: prefix)
            addMFARoutes(router, prefix: prefix)
            addOAuthRoutes(router, prefix: prefix)
        }
        addFakeProviderRoutes(router)
        router.get("/__devstack/inbox") { request, _ in
            let query = request.uri.queryParameters
            let recipient = query.get("to") ?? query.get("email") ?? query.get("phone")
            let messages = await state.messages(to: recipient)
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let body = try encoder.encode(["messages": messages])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.delete("/__devstack/inbox") { _, _ in try jsonResponse(["deleted": await state.clearInbox()]) }
        router.post("/__devstack/reset") { _, _ in
            let (messages, limits) = await state.reset()
            return try jsonResponse(["messages": messages, "rate_limits": limits])
        }
        return router
    }

    var settings: [String: Any] {
        [
            "external": [
                "anonymous_users": configuration.anonymousEnabled, "email": configuration.emailEnabled, "phone": configuration.phoneEnabled,
            ].merging(OAuthProviders.names.map { ($0, configuration.externalProviders.contains($0)) }) { $1 },
            "disable_signup": configuration.disableSignup, "mailer_autoconfirm": configuration.mailerAutoconfirm,
            "phone_autoconfirm": configuration.smsAutoconfirm, "sms_provider": "devstack", "saml_enabled": false,
        ]
    }

    // MARK: Sign-up and sign-in

    private func signUp(_ request: Request) async throws -> Response {
        var request = request
        try await limit("sign_in_sign_ups", request)
        let body = try await RequestBody.read(&request)
        let email = try body.text("email")?.lowercased()
        let phone = try body.text("phone").map(Self.normalizedPhone)
        let metadata = try body.dictionary("data") ?? [:]
        let pkce = try PKCEChallenge.from(body)
        if email == nil && phone == nil {
            guard configuration.anonymousEnabled else { throw AuthError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled") }
            if configuration.disableSignup { throw AuthError(422, "signup_disabled", "Signups not allowed for this instance") }
            let user = try await store.create(.init(anonymous: true, userMetadata: metadata))
            return try await session(for: user, method: "anonymous", request: request).response
        }
        if configuration.disableSignup { throw AuthError(422, "signup_disabled", "Signups not allowed for this instance") }
        if email != nil && !configuration.emailEnabled { throw AuthError(422, "email_provider_disabled", "Email signups are disabled") }
        if email == nil && !configuration.phoneEnabled { throw AuthError(422, "phone_provider_disabled", "Phone signups are disabled") }
        if let email { try Self.validate(email: email) }
        guard let password = try body.string("password"), !password.isEmpty else {
            throw AuthError(422, "validation_failed", "Signup requires a valid password")
        }
        try checkStrength(password)
        let existing = try await store.user(email: email, phone: phone)
        if let existing {
            let confirmed = email != nil ? existing.emailConfirmed : existing.phoneConfirmed
            if confirmed || (email != nil ? configuration.mailerAutoconfirm : configuration.smsAutoconfirm) {
                throw AuthError(422, "user_already_exists", "User already registered")
            }
        }
        let autoconfirm = email != nil ? configuration.mailerAutoconfirm : configuration.smsAutoconfirm
        let hash = try await hashPassword(password)
        let user: AuthUser
        if let existing {
            // An unconfirmed sign-up again: GoTrue updates the password and sends a new confirmation.
            user = try await store.update(existing.id, .init(passwordHash: hash, userMetadata: metadata))
        } else {
            user = try await store.create(
                .init(
                    email: email, phone: phone, passwordHash: hash, emailConfirmed: email != nil && autoconfirm,
                    phoneConfirmed: email == nil && autoconfirm, userMetadata: metadata))
        }
        if autoconfirm {
            return try await session(for: user, method: "password", request: request).response
        }
        let redirect = allowedRedirect(try request.uri.queryParameters.get("redirect_to") ?? body.string("redirect_to"))
        let sent = try await send(email != nil ? "signup" : "sms", to: user, address: email ?? phone!, redirect: redirect, pkce: pkce)
        return sent.user.response
    }

    private func token(_ request: Request) async throws -> Response {
        var request = request
        let grant = request.uri.queryParameters.get("grant_type") ?? ""
        switch grant {
        case "password":
            try await limit("sign_in_sign_ups", request)
            let body = try await RequestBody.read(&request)
            let password = try body.string("password") ?? ""
            let login: AuthStore.Login
            if let email = try body.text("email") {
                guard configuration.emailEnabled else { throw AuthError(400, "email_provider_disabled", "Email logins are disabled") }
                login = .email(email)
            } else if let phone = try body.text("phone") {
                guard configuration.phoneEnabled else { throw AuthError(400, "phone_provider_disabled", "Phone logins are disabled") }
                login = .phone(Self.normalizedPhone(phone))
            } else {
                throw AuthError(400, "validation_failed", "Only an email address or phone number should be provided on login.")
            }
            switch try await store.signIn(login, password: password, userAgent: request.headers[.userAgent]) {
            case .invalidCredentials: throw AuthError.invalidCredentials
            case .banned: throw AuthError(400, "user_banned", "User is banned")
            case .notConfirmed:
                if case .phone = login { throw AuthError(400, "phone_not_confirmed", "Phone number not confirmed") }
                throw AuthError(400, "email_not_confirmed", "Email not confirmed")
            case .signedIn(let user, let session, let refreshToken):
                return try await self.session(user: user, session: session, refreshToken: refreshToken, assurance: .firstFactor("password")).response
            }
        case "refresh_token":
            try await limit("token_refresh", request, count: 150)
            let body = try await RequestBody.read(&request)
            guard let refresh = try body.text("refresh_token") else {
                throw AuthError(400, "validation_failed", "refresh_token required")
            }
            switch try await store.refresh(refresh) {
            case .notFound:
                throw AuthError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
            case .reused:
                throw AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
            case .rotated(let userID, let session, let next, let assurance):
                guard let user = try await store.user(id: userID) else { throw AuthError.userNotFound }
                if user.banned { throw AuthError(400, "user_banned", "User is banned") }
                return try await self.session(user: user, session: session, refreshToken: next, assurance: assurance).response
            }
        case "pkce":
            return try await exchangeCode(try await RequestBody.read(&request), request: request)
        case "id_token":
            return try await signInWithIDToken(try await RequestBody.read(&request), request: request)
        default:
            throw AuthError(400, "validation_failed", "unsupported_grant_type")
        }
    }

    /// A new session for the user, marked as signed in now.
    func session(for user: AuthUser, method: String, request: Request) async throws -> Session {
        let (signedIn, session, refresh) = try await store.signIn(userID: user.id, userAgent: request.headers[.userAgent])
        return try await self.session(user: signedIn, session: session, refreshToken: refresh, assurance: .firstFactor(method))
    }

    func session(user: AuthUser, session: String, refreshToken: String, assurance: Assurance) async throws -> Session {
        let (token, expiresAt) = try await tokens.accessToken(for: user, session: session, assurance: assurance)
        return Session(accessToken: token, expiresIn: configuration.jwtExpirySeconds, expiresAt: expiresAt, refreshToken: refreshToken, user: user)
    }

    // MARK: The signed-in user

    /// The bearer token's user, or GoTrue's 401/403.
    func authenticated(_ request: Request) async throws -> (claims: PresentedClaims, user: AuthUser) {
        guard let token = Self.bearer(request) else { throw AuthError.noAuthorization }
        let claims = try await tokens.verify(token)
        guard let subject = claims.sub, !subject.isEmpty else { throw AuthError(403, "bad_jwt", "invalid claim: missing sub claim") }
        guard let user = try await store.user(id: subject) else {
            throw AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        }
        if let session = claims.sessionID, !(try await store.sessionExists(session)) {
            throw AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist")
        }
        return (claims, user)
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    private func updateUser(_ request: Request) async throws -> Response {
        var request = request
        let (claims, user) = try await authenticated(request)
        let body = try await RequestBody.read(&request)
        var changes = AuthStore.Changes()
        if let password = try body.string("password") {
            try checkStrength(password)
            if configuration.securePasswordChange, !(try await store.sessionIsRecent(claims.sessionID)) {
                try checkNonce(try body.text("nonce"), of: user)
                changes.reauthenticationToken = .some(nil)
            }
            if try await store.passwordMatches(userID: user.id, password: password) {
                throw AuthError(422, "same_password", "New password should be different from the old password.")
            }
            changes.passwordHash = try await hashPassword(password)
        }
        if let data = try body.dictionary("data") { changes.userMetadata = data }
        if let phone = try body.text("phone") { changes.phone = Self.normalizedPhone(phone) }
        var updated = try await store.update(user.id, changes)
        if let email = try body.text("email")?.lowercased(), email != user.email {
            try Self.validate(email: email)
            if let other = try await store.user(email: email), other.id != user.id {
                throw AuthError(422, "email_exists", "A user with this email address has already been registered")
            }
            if configuration.mailerAutoconfirm || user.email == nil {
                updated = try await store.update(user.id, .init(email: email, confirmEmail: configuration.mailerAutoconfirm))
            } else {
                let redirect = allowedRedirect(request.uri.queryParameters.get("redirect_to"))
                updated = try await send("email_change", to: updated, address: email, redirect: redirect).user
            }
        }
        return updated.response
    }

    /// A nonce to the user's e-mail (else phone) for a sensitive change such as a new password.
    private func reauthenticate(_ request: Request) async throws -> Response {
        let (_, user) = try await authenticated(request)
        guard let address = user.email ?? user.phone else {
            throw AuthError(422, "validation_failed", "Reauthentication requires the user to have an email or a phone number")
        }
        try await send("reauthentication", to: user, address: address, redirect: configuration.siteURL)
        return try jsonResponse([String: Any]())
    }

    /// GoTrue's check of a reauthentication nonce: present, sent within the hour, and the one sent.
    private func checkNonce(_ nonce: String?, of user: AuthUser) throws {
        guard let nonce else { throw AuthError(400, "reauthentication_needed", "Password update requires reauthentication") }
        guard let stored = user.reauthenticationToken,
            ConstantTime.equal(Self.tokenHash(user.email ?? user.phone ?? "", nonce), stored)
        else { throw AuthError(400, "reauthentication_not_valid", "Requires reauthentication") }
    }

    private func logout(_ request: Request) async throws -> Response {
        let (claims, user) = try await authenticated(request)
        let scopeName = request.uri.queryParameters.get("scope") ?? "global"
        guard let scope = AuthStore.LogoutScope(rawValue: scopeName) else {
            throw AuthError(400, "validation_failed", "Unsupported logout scope \"\(scopeName)\"")
        }
        try await store.logout(userID: user.id, session: claims.sessionID ?? "", scope: scope)
        return Response(status: .noContent)
    }

    // MARK: Passwordless, recovery, verification

    private func otp(_ request: Request, magicLinkOnly: Bool) async throws -> Response {
        var request = request
        try await limit("otp", request)
        let body = try await RequestBody.read(&request)
        let email = try body.text("email")?.lowercased()
        let phone = magicLinkOnly ? nil : try body.text("phone").map(Self.normalizedPhone)
        guard email != nil || phone != nil else {
            throw AuthError(
                400, "validation_failed",
                magicLinkOnly ? "Password recovery requires an email" : "Only an email address or phone number should be provided")
        }
        if let email { try Self.validate(email: email) }
        if email != nil && !configuration.emailEnabled { throw AuthError(422, "email_provider_disabled", "Email logins are disabled") }
        if email == nil && !configuration.phoneEnabled { throw AuthError(422, "phone_provider_disabled", "Phone logins are disabled") }
        var user = try await store.user(email: email, phone: phone)
        if user == nil {
            let create = try body.bool("create_user") ?? true
            guard create, !configuration.disableSignup else { throw AuthError(422, "otp_disabled", "Signups not allowed for otp") }
            user = try await store.create(.init(email: email, phone: phone, userMetadata: try body.dictionary("data") ?? [:]))
        }
        let redirect = allowedRedirect(try request.uri.queryParameters.get("redirect_to") ?? body.string("email_redirect_to"))
        let sent = try await send(
            email != nil ? "magiclink" : "sms", to: user!, address: email ?? phone!, redirect: redirect, pkce: try PKCEChallenge.from(body))
        let reply: [String: Any] = phone != nil ? ["message_id": "devstack-\(sent.message.id)"] : [:]
        return try jsonResponse(reply)
    }

    private func recover(_ request: Request) async throws -> Response {
        var request = request
        try await limit("otp", request)
        let body = try await RequestBody.read(&request)
        guard let email = try body.text("email")?.lowercased() else {
            throw AuthError(400, "validation_failed", "Password recovery requires an email")
        }
        try Self.validate(email: email)
        // Unknown addresses get the same answer: no user enumeration.
        let pkce = try PKCEChallenge.from(body)
        if let user = try await store.user(email: email) {
            let redirect = allowedRedirect(try request.uri.queryParameters.get("redirect_to") ?? body.string("redirect_to"))
            _ = try await send("recovery", to: user, address: email, redirect: redirect, pkce: pkce)
        }
        return try jsonResponse([String: Any]())
    }

    private func resend(_ request: Request) async throws -> Response {
        var request = request
        try await limit("otp", request)
        let body = try await RequestBody.read(&request)
        let type = try body.text("type") ?? ""
        guard ["signup", "email_change", "sms", "phone_change"].contains(type) else {
            throw AuthError(400, "validation_failed", "Missing one of these types: signup, email_change, sms, phone_change")
        }
        let email = try body.text("email")?.lowercased()
        let phone = try body.text("phone").map(Self.normalizedPhone)
        guard let user = try await store.user(email: email, phone: phone) else {
            return try jsonResponse([String: Any]())
        }
        switch type {
        case "signup" where !user.emailConfirmed, "sms" where !user.phoneConfirmed:
            _ = try await send(type, to: user, address: email ?? phone!, redirect: allowedRedirect(request.uri.queryParameters.get("redirect_to")))
        case "email_change" where user.json["new_email"] is String:
            _ = try await send("email_change", to: user, address: user.json["new_email"] as! String, redirect: configuration.siteURL)
        default: break
        }
        let reply: [String: Any] = phone != nil ? ["message_id": "devstack-resend"] : [:]
        return try jsonResponse(reply)
    }

    /// Which stored token a verification type may use.
    enum TokenSlot { case confirmation, recovery, emailChange }

    static func slots(for type: String) -> [TokenSlot]? {
        switch type {
        case "signup", "invite": return [.confirmation]
        case "magiclink", "recovery": return [.recovery]
        case "email", "sms": return [.confirmation, .recovery]
        case "email_change": return [.emailChange]
        default: return nil
        }
    }

    private func verify(_ request: Request) async throws -> Response {
        var request = request
        try await limit("verify", request)
        let body = try await RequestBody.read(&request)
        let type = try body.text("type") ?? ""
        // The address is checked before the code, as GoTrue does.
        let email = try body.text("email")?.lowercased()
        if let email { try Self.validate(email: email) }
        let phone = try body.text("phone")
        if let phone, !Self.isE164(phone) { throw AuthError.validation("Invalid phone number format (E.164 required)") }
        let user = try await verifyToken(
            type: type, token: try body.text("token"), tokenHash: try body.text("token_hash"), email: email, phone: phone.map(Self.normalizedPhone))
        return try await session(for: user, method: type == "recovery" ? "recovery" : "otp", request: request).response
    }

    /// The link in a message: verifies and redirects with the session in the fragment, as GoTrue does.
    private func verifyLink(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let type = query.get("type") ?? ""
        let redirect = allowedRedirect(query.get("redirect_to"))
        let token = query.get("token") ?? ""
        if token.hasPrefix(Self.pkcePrefix) {
            let tokenHash = String(token.dropFirst(Self.pkcePrefix.count))
            do {
                _ = try await verifyToken(type: type, token: nil, tokenHash: tokenHash, email: nil, phone: nil)
                guard let flow = await state.openFlow(tokenHash: tokenHash) else {
                    throw AuthError(404, "flow_state_not_found", "invalid flow state, no valid flow state found")
                }
                return Response(status: .seeOther, headers: [.location: Self.redirect(redirect, query: [("code", flow.authCode)])])
            } catch let error as AuthError {
                let location = Self.redirect(
                    redirect, query: [("error", "access_denied"), ("error_code", error.code), ("error_description", error.message)])
                return Response(status: .seeOther, headers: [.location: location])
            }
        }
        do {
            let user = try await verifyToken(type: type, token: nil, tokenHash: token, email: nil, phone: nil)
            let session = try await session(for: user, method: type == "recovery" ? "recovery" : "otp", request: request)
            return Response(status: .seeOther, headers: [.location: session.redirect(to: redirect, adding: [("type", type)])])
        } catch let error as AuthError {
            let description = error.message.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return Response(
                status: .seeOther, headers: [.location: "\(redirect)#error=access_denied&error_code=\(error.code)&error_description=\(description)"])
        }
    }

    private func verifyToken(type: String, token: String?, tokenHash: String?, email: String?, phone: String?) async throws -> AuthUser {
        guard let slots = Self.slots(for: type) else {
            throw AuthError(400, "validation_failed", "Verify requires a verification type")
        }
        let user: AuthUser?
        let presented: String
        if let tokenHash {
            user = try await store.user(tokenHash: tokenHash)
            presented = tokenHash
        } else if let token, let address = email ?? phone {
            user = try await store.user(email: email, phone: phone)
            // An e-mail change is confirmed with the code sent to the new address.
            let hashed = type == "email_change" ? (user?.json["new_email"] as? String).map { Self.tokenHash($0, token) } : nil
            presented = hashed ?? Self.tokenHash(address, token)
        } else {
            throw AuthError(400, "validation_failed", "Verify requires either a token or a token hash")
        }
        guard let user else { throw AuthError.otpExpired }
        var changes = AuthStore.Changes()
        guard let slot = slots.first(where: { user.storedToken($0).map { ConstantTime.equal($0, presented) } == true }) else {
            throw AuthError.otpExpired
        }
        // A code works once.
        switch slot {
        case .confirmation: changes.confirmationToken = .some(nil)
        case .recovery: changes.recoveryToken = .some(nil)
        case .emailChange:
            changes.emailChange = .some(nil)
            changes.email = user.json["new_email"] as? String
        }
        if type == "sms" || (phone != nil && email == nil && tokenHash == nil) { changes.confirmPhone = true } else { changes.confirmEmail = true }
        return try await store.update(user.id, changes)
    }

    /// Puts a code and a link in the inbox and stores the code's hash where `verify` looks for it.
    @discardableResult
    func send(
        _ type: String, to user: AuthUser, address: String, redirect: String, pkce: PKCEChallenge? = nil
    ) async throws -> (user: AuthUser, message: InboxMessage) {
        if configuration.rateLimit, !(await state.allow("email_sent:\(address)", limit: 30, per: .seconds(3600))) {
            throw AuthError(429, "over_email_send_rate_limit", "Email rate limit exceeded")
        }
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000))
        let hash = Self.tokenHash(address, code)
        var changes = AuthStore.Changes()
        switch type {
        case "signup", "invite":
            changes.confirmationToken = .some(hash)
            changes.confirmationSent = true
        case "email_change":
            changes.emailChange = .some((address, hash))
        case "reauthentication":
            changes.reauthenticationToken = .some(hash)
        case "sms":
            if user.phoneConfirmed { changes.recoveryToken = .some(hash) } else { changes.confirmationToken = .some(hash) }
            changes.confirmationSent = true
        default:
            changes.recoveryToken = .some(hash)
            changes.recoverySent = true
        }
        let updated = try await store.update(user.id, changes)
        if let pkce {
            let flow = FlowState(
                authCode: UUID().uuidString.lowercased(), challenge: pkce, userID: user.id, method: type == "recovery" ? "recovery" : "otp",
                created: .now)
            await state.startFlow(flow, tokenHash: hash)
        }
        let linkToken = pkce == nil ? hash : Self.pkcePrefix + hash
        let link =
            "\(configuration.issuer)/verify?token=\(linkToken)&type=\(type)&redirect_to=\(redirect.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=?#"))) ?? redirect)"
        let subjects = [
            "signup": "Confirm Your Signup", "invite": "You have been invited", "magiclink": "Your Magic Link", "recovery": "Reset Your Password",
            "email_change": "Confirm Email Change", "sms": "Your code", "reauthentication": "Confirm reauthentication",
        ]
        let bySMS = type == "sms" || (type == "reauthentication" && user.email == nil)
        let message = await state.deliver(
            channel: bySMS ? "sms" : "email", to: address, type: type, subject: subjects[type] ?? type, token: code, tokenHash: hash,
            link: bySMS || type == "reauthentication" ? nil : link)
        return (updated, message)
    }

    // MARK: Helpers

    /// The token hash in links: hex SHA-256 of the address followed by the code (GoTrue uses SHA-224 the same way).
    static func tokenHash(_ address: String, _ code: String) -> String {
        SHA256.hash(data: Data((address + code).utf8)).hexEncoded
    }

    func allowedRedirect(_ requested: String?) -> String {
        guard let requested, !requested.isEmpty else { return configuration.siteURL }
        if let site = URL(string: configuration.siteURL), let wanted = URL(string: requested), site.host == wanted.host, site.port == wanted.port {
            return requested
        }
        for pattern in configuration.uriAllowList where Self.glob(pattern, matches: requested) { return requested }
        return configuration.siteURL
    }

    static func glob(_ pattern: String, matches text: String) -> Bool {
        var regex = "^"
        var characters = Array(pattern)[...]
        while let character = characters.popFirst() {
            if character == "*" {
                if characters.first == "*" {
                    characters.removeFirst()
                    regex += ".*"
                } else {
                    regex += "[^/]*"
                }
            } else {
                regex += NSRegularExpression.escapedPattern(for: String(character))
            }
        }
        return text.range(of: regex + "$", options: .regularExpression) != nil
    }

    func checkStrength(_ password: String) throws {
        if password.count < configuration.passwordMinLength {
            throw AuthError(
                422, "weak_password", "Password should be at least \(configuration.passwordMinLength) characters.", reasons: ["length"])
        }
        if password.utf8.count > 72 { throw AuthError(422, "validation_failed", "Password cannot be longer than 72 characters") }
    }

    static func validate(email: String) throws {
        let pattern = #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#
        guard email.count <= 255, email.range(of: pattern, options: .regularExpression) != nil else {
            throw AuthError(400, "validation_failed", "Unable to validate email address: invalid format")
        }
    }

    /// GoTrue keeps phone numbers as digits only.
    static func normalizedPhone(_ phone: String) -> String { phone.filter(\.isNumber) }

    func hashPassword(_ password: String) async throws -> String {
        try await store.hash(password: password, cost: configuration.bcryptCost)
    }

    /// The client as Supabase's gateway names it in `X-Forwarded-For`.
    static func clientAddress(_ request: Request) -> String? {
        request.headers[HTTPField.Name("X-Forwarded-For")!]?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// GoTrue's limits, per client, when the profile turns them on.
    func limit(_ bucket: String, _ request: Request, count: Int = 30) async throws {
        guard configuration.rateLimit else { return }
        guard await state.allow("\(bucket):\(Self.clientAddress(request) ?? "local")", limit: count, per: .seconds(300)) else {
            throw AuthError(429, "over_request_rate_limit", "Request rate limit reached")
        }
    }
}

/// A session as GoTrue returns it.
struct Session {
    let accessToken: String
    let expiresIn: Int
    let expiresAt: Int
    let refreshToken: String
    let user: AuthUser

    /// Where a link or an OAuth callback lands: `target` with the session in the fragment, as GoTrue's implicit flow.
    func redirect(to target: String, adding extra: [(String, String)] = []) -> String {
        let fields =
            [("access_token", accessToken), ("expires_at", String(expiresAt)), ("expires_in", String(expiresIn))] + extra
            + [("refresh_token", refreshToken), ("token_type", "bearer")]
        let fragment = fields.sorted { $0.0 < $1.0 }.map { "\($0)=\($1)" }.joined(separator: "&")
        return "\(target.split(separator: "#").first ?? "")#\(fragment)"
    }

    /// Written around the user's text from Postgres: serialising the user again cost an eighth of a
    /// sign-in's CPU. The tokens are base64url and alphanumeric, so they need no escaping.
    var response: Response {
        jsonResponse(
            text: #"{"access_token":"\#(accessToken)","token_type":"bearer","expires_in":\#(expiresIn),"expires_at":\#(expiresAt),"#
                + #""refresh_token":"\#(refreshToken)","user":\#(user.jsonText)}"#)
    }
}

extension AuthUser {
    var response: Response { jsonResponse(text: jsonText) }

    func storedToken(_ slot: AuthServer.TokenSlot) -> String? {
        switch slot {
        case .confirmation: return confirmationToken
        case .recovery: return recoveryToken
        case .emailChange: return emailChangeToken
        }
    }
}
