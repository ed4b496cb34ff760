import Crypto
import DevstackCore
import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import NIOCore

/// A sign-in waiting on the fake provider's page, by its `state`.
struct OAuthRequest: Sendable {
    let provider: String
    let redirect: String
    let pkce: PKCEChallenge?
    let created: ContinuousClock.Instant
}

/// The claims of an ID token the fake providers issue, for `grant_type=id_token`.
struct FakeIDTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var aud: AudienceClaim
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var email: String
    var emailVerified: Bool
    var name: String
    var nonce: String?

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, exp, iat, email, name, nonce
        case emailVerified = "email_verified"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
}

/// OAuth sign-in without a real provider, in the manner of the Firebase auth emulator: `/authorize`
/// sends the browser to the emulator's own page for the provider, listing the stack's fake identities
/// and a form to make one; choosing one completes the flow (implicit or PKCE) back to `redirect_to`
/// as GoTrue's callback would. The fake providers also mint ID tokens for `grant_type=id_token`.
extension AuthServer {
    static let oauthPage = "/__devstack/oauth"

    func addOAuthRoutes(_ router: Router<BasicRequestContext>, prefix: String) {
        router.get("\(prefix)/authorize") { request, _ in try await authorize(request) }
    }

    func addFakeProviderRoutes(_ router: Router<BasicRequestContext>) {
        router.get("\(Self.oauthPage)/:provider") { request, context in
            let provider = try enabledProvider(context.parameters.get("provider"))
            guard let state = request.uri.queryParameters.get("state"), await self.state.oauthRequest(state) != nil else {
                throw AuthError(400, "bad_oauth_state", "OAuth state is missing or has expired; start the sign-in again")
            }
            return htmlResponse(Self.signInPage(provider: provider, state: state, identities: configuration.fakeIdentities))
        }
        router.post("\(Self.oauthPage)/:provider") { request, context in
            var request = request
            let provider = try enabledProvider(context.parameters.get("provider"))
            let form = try await Self.form(&request)
            return try await completeSignIn(provider: provider, form: form, request: request)
        }
        router.post("\(Self.oauthPage)/:provider/id_token") { request, context in
            var request = request
            let provider = try enabledProvider(context.parameters.get("provider"))
            let body = try await RequestBody.read(&request)
            guard let email = try body.text("email")?.lowercased() else { throw AuthError.validation("email is required") }
            try Self.validate(email: email)
            let token = try await mintIDToken(provider: provider, email: email, name: try body.text("name"), nonce: try body.text("nonce"))
            return try jsonResponse(["id_token": token])
        }
    }

    private func enabledProvider(_ name: String?) throws -> String {
        guard let name, !name.isEmpty else { throw AuthError.validation("Unsupported provider: missing provider") }
        guard configuration.externalProviders.contains(name) else {
            throw AuthError(400, "validation_failed", "Unsupported provider: provider is not enabled")
        }
        return name
    }

    /// `GET /authorize?provider=…`: to the fake provider's page, remembering where to come back to.
    private func authorize(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let provider = try enabledProvider(query.get("provider"))
        var pkce: PKCEChallenge?
        if let challenge = query.get("code_challenge") {
            guard let method = PKCEChallenge.Method(rawValue: (query.get("code_challenge_method") ?? "").lowercased()) else {
                throw AuthError.validation("PKCE flow requires code_challenge_method and code_challenge")
            }
            pkce = PKCEChallenge(challenge: challenge, method: method)
        }
        let state = AuthStore.randomToken()
        await self.state.startOAuth(
            OAuthRequest(provider: provider, redirect: allowedRedirect(query.get("redirect_to")), pkce: pkce, created: .now), state: state)
        return Response(status: .found, headers: [.location: "\(configuration.externalURL)\(Self.oauthPage)/\(provider)?state=\(state)"])
    }

    /// The identity chosen on the page: the user it belongs to (linked by e-mail, or made), a session,
    /// and back to the app with it (implicit) or with a code for it (PKCE).
    private func completeSignIn(provider: String, form: [String: String], request: Request) async throws -> Response {
        guard let state = form["state"], let pending = await self.state.takeOAuthRequest(state), pending.provider == provider else {
            throw AuthError(400, "bad_oauth_state", "OAuth state is missing or has expired; start the sign-in again")
        }
        guard let email = form["email"]?.trimmingCharacters(in: .whitespaces).lowercased(), !email.isEmpty else {
            throw AuthError.validation("choose an identity or enter an e-mail address")
        }
        try Self.validate(email: email)
        let user = try await externalUser(provider: provider, email: email, name: form["name"])
        if let pkce = pending.pkce {
            let flow = FlowState(authCode: UUID().uuidString.lowercased(), challenge: pkce, userID: user.id, method: "oauth", created: .now)
            await self.state.openFlow(flow)
            return Response(status: .seeOther, headers: [.location: Self.redirect(pending.redirect, query: [("code", flow.authCode)])])
        }
        let session = try await session(for: user, method: "oauth", request: request)
        let location = session.redirect(to: pending.redirect, adding: [("provider_token", "devstack-\(provider)-\(AuthStore.randomToken())")])
        return Response(status: .seeOther, headers: [.location: location])
    }

    /// The provider's user: the one who signed in with it before, else the user with that e-mail
    /// (linked), else a new confirmed user, with the provider's profile as `user_metadata`.
    func externalUser(provider: String, email: String, name: String?) async throws -> AuthUser {
        let providerID = Self.providerID(provider: provider, email: email)
        let displayName = name.flatMap { $0.isEmpty ? nil : $0 } ?? String(email.split(separator: "@").first ?? "")
        let profile: [String: Any] = [
            "iss": "https://\(provider).devstack.local", "sub": providerID, "provider_id": providerID, "email": email, "email_verified": true,
            "phone_verified": false, "name": displayName, "full_name": displayName, "user_name": displayName,
            "avatar_url": "https://\(provider).devstack.local/avatars/\(providerID).png",
        ]
        let identity = AuthStore.ExternalIdentity(provider: provider, providerID: providerID, data: profile)
        if let known = try await store.user(provider: provider, providerID: providerID) { return known }
        if let existing = try await store.user(email: email) { return try await store.link(identity, to: existing.id) }
        if configuration.disableSignup { throw AuthError(422, "signup_disabled", "Signups not allowed for this instance") }
        return try await store.create(
            .init(
                email: email, emailConfirmed: true, appMetadata: ["provider": provider, "providers": [provider]], userMetadata: profile,
                identity: identity))
    }

    /// Stable per provider and address, as a real provider's user id is.
    static func providerID(provider: String, email: String) -> String {
        String(SHA256.hash(data: Data("\(provider):\(email)".utf8)).hexEncoded.prefix(20))
    }

    /// The fake providers sign with a key derived from the stack's secret, never with the secret itself:
    /// an ID token must not pass as an access token.
    private func idTokenKeys() async -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        let derived = SHA256.hash(data: Data("devstack fake oauth provider:\(configuration.jwtSecret)".utf8)).hexEncoded
        await keys.add(hmac: HMACKey(from: derived), digestAlgorithm: .sha256)
        return keys
    }

    func mintIDToken(provider: String, email: String, name: String?, nonce: String?) async throws -> String {
        let now = Date()
        let claims = FakeIDTokenClaims(
            iss: .init(value: "https://\(provider).devstack.local"), aud: .init(value: "devstack"),
            sub: .init(value: Self.providerID(provider: provider, email: email)), exp: .init(value: now.addingTimeInterval(3600)),
            iat: .init(value: now), email: email, emailVerified: true, name: name ?? String(email.split(separator: "@").first ?? ""),
            // As Google and Apple do: the token holds the SHA-256 of the nonce the client keeps.
            nonce: nonce.map { SHA256.hash(data: Data($0.utf8)).hexEncoded })
        return try await idTokenKeys().sign(claims, header: ["typ": "JWT"])
    }

    /// `POST /token?grant_type=id_token`: a token one of the fake providers issued, for a session.
    func signInWithIDToken(_ body: RequestBody, request: Request) async throws -> Response {
        guard let provider = try body.text("provider"), let token = try body.text("id_token") else {
            throw AuthError.validation("provider and id_token are required")
        }
        _ = try enabledProvider(provider)
        let claims: FakeIDTokenClaims
        do {
            claims = try await idTokenKeys().verify(token, as: FakeIDTokenClaims.self)
        } catch {
            throw AuthError(400, "bad_oauth_callback", "Bad ID token: it was not issued by devstack's fake \(provider) provider, or it expired")
        }
        guard claims.iss.value == "https://\(provider).devstack.local" else {
            throw AuthError(400, "bad_oauth_callback", "Bad ID token: issued for another provider")
        }
        if let expected = claims.nonce {
            guard let nonce = try body.text("nonce"), ConstantTime.equal(SHA256.hash(data: Data(nonce.utf8)).hexEncoded, expected) else {
                throw AuthError(400, "bad_oauth_callback", "Nonces mismatch")
            }
        }
        let user = try await externalUser(provider: provider, email: claims.email, name: claims.name)
        return try await session(for: user, method: "oauth", request: request).response
    }

    static func form(_ request: inout Request) async throws -> [String: String] {
        let buffer = try await request.collectBody(upTo: RequestBody.limit)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let key = parts.first { fields[key] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    static func signInPage(provider: String, state: String, identities: [String]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        let title = "Sign in with \(escape(provider.capitalized))"
        let choices = identities.map { email in
            #"<li><form method="post"><input type="hidden" name="state" value="\#(escape(state))"><button type="submit" name="email" value="\#(escape(email))">\#(escape(email))</button></form></li>"#
        }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(title) · devstack</title>
            <style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}button{font:inherit;padding:.4rem .8rem;margin:.2rem 0}ul{list-style:none;padding:0}</style>
            </head><body>
            <h1>\(title)</h1>
            <p>devstack's fake \(escape(provider)) provider: no real account is used. Choose an identity, or make one.</p>
            <ul id="identities">\(choices)</ul>
            <form method="post" id="new-identity"><input type="hidden" name="state" value="\(escape(state))">
            <label>E-mail <input type="email" name="email" required></label>
            <label>Name <input type="text" name="name"></label>
            <button type="submit">Sign in as a new identity</button></form>
            </body></html>
            """
    }
}

func htmlResponse(_ html: String) -> Response {
    Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
}
