import DevstackCore
import Foundation
import HTTPTypes
import Hummingbird

/// GoTrue's multi-factor authentication: TOTP and phone factors, enrolled, challenged and verified
/// by the signed-in user (the session rises to `aal2`), listed and removed by the user or an admin.
extension AuthServer {
    /// GoTrue's challenges last five minutes.
    static let challengeLifetime: TimeInterval = 300

    func addMFARoutes(_ router: Router<BasicRequestContext>, prefix: String) {
        router.post("\(prefix)/factors") { request, _ in
            var request = request
            let (_, user) = try await authenticated(request)
            return try await enroll(user, try await RequestBody.read(&request))
        }
        router.post("\(prefix)/factors/:factor/challenge") { request, context in
            let (_, user) = try await authenticated(request)
            return try await challenge(user, factorID: context.parameters.get("factor") ?? "", request: request)
        }
        router.post("\(prefix)/factors/:factor/verify") { request, context in
            var request = request
            let (claims, user) = try await authenticated(request)
            let body = try await RequestBody.read(&request)
            return try await verifyFactor(user, claims: claims, factorID: context.parameters.get("factor") ?? "", body: body).response
        }
        router.delete("\(prefix)/factors/:factor") { request, context in
            let (claims, user) = try await authenticated(request)
            guard let factor = try await store.factor(id: context.parameters.get("factor") ?? "", userID: user.id) else {
                throw AuthError.factorNotFound
            }
            if factor.verified && claims.aal != "aal2" {
                throw AuthError(403, "insufficient_aal", "AAL2 required to unenroll verified factor")
            }
            _ = try await store.deleteFactor(id: factor.id, userID: user.id)
            return try jsonResponse(["id": factor.id])
        }
        router.get("\(prefix)/admin/users/:id/factors") { request, context in
            try await requireAdmin(request)
            let userID = context.parameters.get("id") ?? ""
            guard try await store.user(id: userID) != nil else { throw AuthError.userNotFound }
            return jsonResponse(text: "[" + (try await store.factors(userID: userID)).map(\.jsonText).joined(separator: ",") + "]")
        }
        router.delete("\(prefix)/admin/users/:id/factors/:factor") { request, context in
            try await requireAdmin(request)
            let userID = context.parameters.get("id") ?? ""
            guard try await store.user(id: userID) != nil else { throw AuthError.userNotFound }
            guard let factor = try await store.deleteFactor(id: context.parameters.get("factor") ?? "", userID: userID) else {
                throw AuthError.factorNotFound
            }
            return jsonResponse(text: factor.jsonText)
        }
    }

    private func enroll(_ user: AuthUser, _ body: RequestBody) async throws -> Response {
        let type = try body.text("factor_type") ?? ""
        let friendlyName = try body.string("friendly_name") ?? ""
        switch type {
        case "totp":
            guard configuration.mfaTOTPEnabled else {
                throw AuthError(422, "mfa_totp_enroll_not_enabled", "MFA enroll is disabled for TOTP")
            }
        case "phone":
            guard configuration.mfaPhoneEnabled else {
                throw AuthError(422, "mfa_phone_enroll_not_enabled", "MFA enroll is disabled for Phone")
            }
        default:
            throw AuthError.validation("factor_type needs to be totp or phone")
        }
        let existing = try await store.factors(userID: user.id)
        if existing.filter(\.verified).count >= configuration.mfaMaxEnrolledFactors {
            throw AuthError(422, "too_many_enrolled_mfa_factors", "Maximum number of verified factors reached, unenroll to continue")
        }
        if type == "phone" {
            guard let phone = try body.text("phone"), Self.isE164(phone) else {
                throw AuthError.validation("Invalid phone number format (E.164 required)")
            }
            let factor = try await store.createFactor(
                userID: user.id, type: "phone", friendlyName: friendlyName, secret: nil, phone: Self.normalizedPhone(phone))
            return try jsonResponse(["id": factor.id, "type": "phone", "friendly_name": friendlyName, "phone": factor.phone ?? ""])
        }
        let issuer = try body.text("issuer") ?? URL(string: configuration.siteURL)?.host ?? "devstack"
        let account = user.email ?? user.phone ?? user.id
        let secret = TOTP.newSecret()
        let label = "\(issuer):\(account)".addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? account
        let issuerParameter = issuer.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? issuer
        let uri = "otpauth://totp/\(label)?secret=\(secret)&issuer=\(issuerParameter)&algorithm=SHA1&digits=6&period=30"
        let factor = try await store.createFactor(userID: user.id, type: "totp", friendlyName: friendlyName, secret: secret, phone: nil)
        // GoTrue sends the SVG itself; the clients make the data URI.
        let qrCode = QRCode(text: uri).svg(moduleSize: 4)
        return try jsonResponse([
            "id": factor.id, "type": "totp", "friendly_name": friendlyName, "totp": ["qr_code": qrCode, "secret": secret, "uri": uri],
        ])
    }

    private func challenge(_ user: AuthUser, factorID: String, request: Request) async throws -> Response {
        guard let factor = try await store.factor(id: factorID, userID: user.id) else { throw AuthError.factorNotFound }
        var codeHash: String?
        if factor.type == "phone", let phone = factor.phone {
            let code = String(format: "%06d", Int.random(in: 0..<1_000_000))
            codeHash = Self.tokenHash(phone, code)
            _ = await state.deliver(
                channel: "sms", to: phone, type: "mfa", subject: "Your verification code", token: code, tokenHash: codeHash, link: nil)
        }
        let challenge = try await store.createChallenge(
            factorID: factor.id, ipAddress: Self.clientAddress(request) ?? "127.0.0.1", codeHash: codeHash)
        return try jsonResponse([
            "id": challenge.id, "type": factor.type, "expires_at": Int(challenge.createdAt.timeIntervalSince1970 + Self.challengeLifetime),
        ])
    }

    private func verifyFactor(_ user: AuthUser, claims: PresentedClaims, factorID: String, body: RequestBody) async throws -> Session {
        guard let factor = try await store.factor(id: factorID, userID: user.id) else { throw AuthError.factorNotFound }
        guard let challengeID = try body.text("challenge_id"), let code = try body.text("code") else {
            throw AuthError.validation("challenge_id and code are required")
        }
        guard let challenge = try await store.challenge(id: challengeID), challenge.factorID == factor.id, !challenge.verified else {
            throw AuthError(404, "mfa_factor_not_found", "MFA factor with the provided challenge ID not found")
        }
        guard challenge.age < Self.challengeLifetime else {
            throw AuthError(
                422, "mfa_challenge_expired",
                "MFA challenge \(challenge.id) has expired, verify against another challenge or create a new challenge.")
        }
        let method: String
        switch factor.type {
        case "phone":
            guard let phone = factor.phone, let expected = challenge.codeHash, ConstantTime.equal(Self.tokenHash(phone, code), expected) else {
                throw AuthError(422, "mfa_verification_failed", "Invalid MFA Phone code entered")
            }
            method = "mfa/phone"
        default:
            guard let secret = factor.secret, let step = TOTP.matchingStep(code, secret: secret), await state.useStep(step, factor: factor.id)
            else {
                throw AuthError(422, "mfa_verification_failed", "Invalid TOTP code entered")
            }
            method = "totp"
        }
        guard let session = claims.sessionID, try await store.sessionExists(session) else {
            throw AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist")
        }
        let earlier = claims.amr?.methods ?? []
        let (assurance, refreshToken) = try await store.completeChallenge(
            challenge, session: session, userID: user.id, methods: earlier.filter { $0 != method } + [method])
        guard let updated = try await store.user(id: user.id) else { throw AuthError.userNotFound }
        return try await self.session(user: updated, session: session, refreshToken: refreshToken, assurance: assurance)
    }

    /// `+` and 8 to 15 digits, the first not 0.
    static func isE164(_ phone: String) -> Bool {
        phone.range(of: #"^\+?[1-9][0-9]{7,14}$"#, options: .regularExpression) != nil
    }
}
