import Foundation
import HTTPTypes
import Hummingbird

extension AuthServer {
    /// GoTrue's admin API: a token whose role is `service_role` or `supabase_admin`.
    func addAdminRoutes(_ router: Router<BasicRequestContext>, prefix: String) {
        router.get("\(prefix)/admin/users") { request, _ in
            try await requireAdmin(request)
            let query = request.uri.queryParameters
            let page = max(1, query.get("page").flatMap(Int.init) ?? 1)
            let perPage = min(max(1, query.get("per_page").flatMap(Int.init) ?? 50), 1000)
            let (users, total) = try await store.listUsers(page: page, perPage: perPage)
            var links: [String] = []
            let last = max(1, (total + perPage - 1) / perPage)
            let base = "\(prefix)/admin/users"
            if page < last { links.append("<\(base)?page=\(page + 1)&per_page=\(perPage)>; rel=\"next\"") }
            links.append("<\(base)?page=\(last)&per_page=\(perPage)>; rel=\"last\"")
            return jsonResponse(
                text: #"{"users":["# + users.map(\.jsonText).joined(separator: ",") + #"],"aud":"\#(TokenIssuer.audience)"}"#,
                headers: [HTTPField.Name("X-Total-Count")!: String(total), HTTPField.Name("Link")!: links.joined(separator: ", ")])
        }
        router.post("\(prefix)/admin/users") { request, _ in
            try await requireAdmin(request)
            var request = request
            return try await adminCreate(try await RequestBody.read(&request)).response
        }
        router.get("\(prefix)/admin/users/:id") { request, context in
            try await requireAdmin(request)
            guard let user = try await store.user(id: context.parameters.get("id") ?? "") else { throw AuthError.userNotFound }
            return user.response
        }
        router.put("\(prefix)/admin/users/:id") { request, context in
            try await requireAdmin(request)
            var request = request
            guard let user = try await store.user(id: context.parameters.get("id") ?? "") else { throw AuthError.userNotFound }
            return try await adminUpdate(user, try await RequestBody.read(&request)).response
        }
        router.delete("\(prefix)/admin/users/:id") { request, context in
            try await requireAdmin(request)
            guard try await store.delete(context.parameters.get("id") ?? "") else { throw AuthError.userNotFound }
            return try jsonResponse([String: Any]())
        }
        router.post("\(prefix)/admin/generate_link") { request, _ in
            try await requireAdmin(request)
            var request = request
            return try jsonResponse(try await generateLink(try await RequestBody.read(&request)))
        }
        router.post("\(prefix)/invite") { request, _ in
            try await requireAdmin(request)
            var request = request
            let body = try await RequestBody.read(&request)
            guard let email = try body.text("email")?.lowercased() else { throw AuthError.validation("An email address is required") }
            try Self.validate(email: email)
            if let existing = try await store.user(email: email), existing.emailConfirmed {
                throw AuthError(422, "email_exists", "A user with this email address has already been registered")
            }
            var user = try await store.user(email: email)
            if user == nil { user = try await store.create(.init(email: email, invited: true, userMetadata: try body.dictionary("data") ?? [:])) }
            let redirect = allowedRedirect(try request.uri.queryParameters.get("redirect_to") ?? body.string("redirect_to"))
            guard let user else { throw AuthError.userNotFound }
            return try await send("invite", to: user, address: email, redirect: redirect).user.response
        }
    }

    func requireAdmin(_ request: Request) async throws {
        guard let token = Self.bearer(request) else { throw AuthError.noAuthorization }
        let claims = try await tokens.verify(token)
        guard TokenIssuer.adminRoles.contains(claims.role ?? "") else { throw AuthError.notAdmin }
    }

    private func adminCreate(_ body: RequestBody) async throws -> AuthUser {
        let email = try body.text("email")?.lowercased()
        let phone = try body.text("phone").map(Self.normalizedPhone)
        if let email { try Self.validate(email: email) }
        if let email, try await store.user(email: email) != nil {
            throw AuthError(422, "email_exists", "A user with this email address has already been registered")
        }
        if let phone, try await store.user(phone: phone) != nil {
            throw AuthError(422, "phone_exists", "Phone number already registered by another user")
        }
        var new = AuthStore.NewUser(email: email, phone: phone)
        new.passwordHash = try await passwordHash(body)
        let confirmEmail = try body.bool("email_confirm") ?? false
        let confirmPhone = try body.bool("phone_confirm") ?? false
        new.emailConfirmed = email != nil && confirmEmail
        new.phoneConfirmed = phone != nil && confirmPhone
        new.userMetadata = try body.dictionary("user_metadata") ?? (try body.dictionary("data")) ?? [:]
        new.appMetadata = try body.dictionary("app_metadata") ?? [:]
        if let role = try body.text("role") { new.role = role }
        if let id = try body.text("id") {
            guard UUID(uuidString: id) != nil else { throw AuthError.validation("id must be a UUID") }
            new.id = id.lowercased()
        }
        if let ban = try body.text("ban_duration") { new.bannedUntil = try Self.banEnd(ban) ?? nil }
        if email == nil && phone == nil { new.anonymous = false }
        return try await store.create(new)
    }

    private func adminUpdate(_ user: AuthUser, _ body: RequestBody) async throws -> AuthUser {
        var changes = AuthStore.Changes()
        if let email = try body.text("email")?.lowercased(), email != user.email {
            try Self.validate(email: email)
            changes.email = email
        }
        if let phone = try body.text("phone") { changes.phone = Self.normalizedPhone(phone) }
        if body.object["password"] != nil || body.object["password_hash"] != nil { changes.passwordHash = try await passwordHash(body) }
        changes.confirmEmail = try body.bool("email_confirm") ?? false
        changes.confirmPhone = try body.bool("phone_confirm") ?? false
        changes.userMetadata = try body.dictionary("user_metadata")
        changes.appMetadata = try body.dictionary("app_metadata")
        changes.role = try body.text("role")
        if let ban = try body.text("ban_duration") { changes.bannedUntil = .some(try Self.banEnd(ban)) }
        return try await store.update(user.id, changes)
    }

    /// A bcrypt hash from `password` (checked for strength) or `password_hash` (checked for format).
    private func passwordHash(_ body: RequestBody) async throws -> String? {
        if let hash = try body.text("password_hash") {
            guard hash.range(of: PasswordHash.pattern, options: .regularExpression) != nil else {
                throw AuthError(400, "validation_failed", "Invalid password hash format: only bcrypt hashes are supported")
            }
            return hash
        }
        guard let password = try body.string("password") else { return nil }
        try checkStrength(password)
        return try await hashPassword(password)
    }

    /// `none` lifts a ban; otherwise a Go-style duration such as `24h` or `90m`.
    static func banEnd(_ text: String) throws -> Date? {
        if text == "none" { return nil }
        var seconds = 0.0
        var number = ""
        var units = ""
        func flush() throws {
            guard let value = Double(number) else { throw AuthError.validation("invalid format for ban duration: \(text)") }
            let scale: [String: Double] = ["ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600]
            guard let factor = scale[units] else { throw AuthError.validation("invalid format for ban duration: \(text)") }
            seconds += value * factor
            number = ""
            units = ""
        }
        for character in text {
            if character.isNumber || character == "." {
                if !units.isEmpty { try flush() }
                number.append(character)
            } else {
                units.append(character)
            }
        }
        try flush()
        return Date().addingTimeInterval(seconds)
    }

    private func generateLink(_ body: RequestBody) async throws -> [String: Any] {
        let type = try body.text("type") ?? ""
        guard let email = try body.text("email")?.lowercased() else { throw AuthError.validation("An email address is required") }
        try Self.validate(email: email)
        let redirect = allowedRedirect(try body.string("redirect_to"))
        var user = try await store.user(email: email)
        let sendType: String
        var address = email
        switch type {
        case "signup":
            guard let password = try body.string("password") else { throw AuthError(422, "validation_failed", "Signup requires a valid password") }
            try checkStrength(password)
            if let user, user.emailConfirmed { throw AuthError(422, "email_exists", "A user with this email address has already been registered") }
            if user == nil {
                user = try await store.create(
                    .init(email: email, passwordHash: try await hashPassword(password), userMetadata: try body.dictionary("data") ?? [:]))
            }
            sendType = "signup"
        case "invite":
            if let user, user.emailConfirmed { throw AuthError(422, "email_exists", "A user with this email address has already been registered") }
            if user == nil { user = try await store.create(.init(email: email, invited: true, userMetadata: try body.dictionary("data") ?? [:])) }
            sendType = "invite"
        case "magiclink":
            if user == nil { user = try await store.create(.init(email: email, userMetadata: try body.dictionary("data") ?? [:])) }
            sendType = "magiclink"
        case "recovery":
            guard user != nil else { throw AuthError.userNotFound }
            sendType = "recovery"
        case "email_change_current", "email_change_new":
            guard user != nil else { throw AuthError.userNotFound }
            guard let newEmail = try body.text("new_email")?.lowercased() else { throw AuthError.validation("The new email address is required") }
            try Self.validate(email: newEmail)
            address = newEmail
            sendType = "email_change"
        default:
            throw AuthError(422, "validation_failed", "Invalid generate link type \"\(type)\"")
        }
        let (updated, message) = try await send(sendType, to: user!, address: address, redirect: redirect)
        var result = updated.json
        result["action_link"] = message.link ?? ""
        result["email_otp"] = message.token ?? ""
        result["hashed_token"] = message.tokenHash ?? ""
        result["redirect_to"] = redirect
        // The requested e-mail change type, as GoTrue reports it, not the message's.
        result["verification_type"] = type
        return result
    }
}
