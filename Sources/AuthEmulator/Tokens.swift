import DevstackCore
import Foundation
import JWTKit

/// Any JSON value, for metadata carried inside tokens.
enum JSONValue: Codable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(_ any: Any?) {
        switch any {
        case nil, is NSNull: self = .null
        case let value as NSNumber:
            self = isBoolean(value) ? .bool(value.boolValue) : .number(value.doubleValue)
        case let value as String: self = .string(value)
        case let value as [Any]: self = .array(value.map(JSONValue.init))
        case let value as [String: Any]: self = .object(value.mapValues(JSONValue.init))
        default: self = .string("\(any!)")
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// The claims of an access token, as GoTrue issues them.
struct AccessClaims: JWTPayload {
    struct Method: Codable, Sendable {
        var method: String
        var timestamp: Int
    }

    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var iss: IssuerClaim
    var sub: SubjectClaim
    var email: String
    var phone: String
    var appMetadata: [String: JSONValue]
    var userMetadata: [String: JSONValue]
    var role: String
    var aal: String
    var amr: [Method]
    var sessionID: String
    var isAnonymous: Bool

    enum CodingKeys: String, CodingKey {
        case aud, exp, iat, iss, sub, email, phone, role, aal, amr
        case appMetadata = "app_metadata"
        case userMetadata = "user_metadata"
        case sessionID = "session_id"
        case isAnonymous = "is_anonymous"
    }

    func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
}

/// What the emulator reads from a presented token: enough to find the user and check the role.
struct PresentedClaims: JWTPayload {
    var sub: String?
    var role: String?
    var aud: AudienceClaim?
    var exp: ExpirationClaim?
    var sessionID: String?
    var aal: String?
    var amr: PresentedMethods?

    enum CodingKeys: String, CodingKey {
        case sub, role, aud, exp, aal, amr
        case sessionID = "session_id"
    }

    /// GoTrue checks `exp` only when the token has one: hand-signed service tokens often carry only `role`.
    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp?.verifyNotExpired()
    }
}

/// The `amr` of a presented token, read leniently: GoTrue's objects, RFC 8176's strings, or
/// anything else (then none), as hand-made tokens vary and the claim only informs MFA.
struct PresentedMethods: Codable, Sendable {
    var methods: [String]

    private struct Entry: Decodable {
        var method: String
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let entries = try? container.decode([Entry].self) {
            methods = entries.map(\.method)
        } else {
            methods = (try? container.decode([String].self)) ?? []
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(methods)
    }
}

/// Signs and checks tokens with the stack's JWT secret (HS256, as local Supabase does).
struct TokenIssuer: Sendable {
    let keys: JWTKeyCollection
    let issuer: String
    let lifetime: Int

    static let audience = "authenticated"
    /// Roles GoTrue lets use the admin API.
    static let adminRoles: Set = ["service_role", "supabase_admin"]

    init(secret: String, issuer: String, lifetime: Int) async {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.keys = keys
        self.issuer = issuer
        self.lifetime = lifetime
    }

    func accessToken(for user: AuthUser, session: String, assurance: Assurance) async throws -> (token: String, expiresAt: Int) {
        let now = Int(Date().timeIntervalSince1970)
        let claims = AccessClaims(
            aud: .init(value: Self.audience), exp: .init(value: Date(timeIntervalSince1970: TimeInterval(now + lifetime))),
            iat: .init(value: Date(timeIntervalSince1970: TimeInterval(now))), iss: .init(value: issuer), sub: .init(value: user.id),
            email: user.email ?? "", phone: user.phone ?? "", appMetadata: user.appMetadata.mapValues(JSONValue.init),
            userMetadata: user.userMetadata.mapValues(JSONValue.init), role: user.role, aal: assurance.level,
            amr: assurance.methods.map { AccessClaims.Method(method: $0.method, timestamp: $0.timestamp) }, sessionID: session,
            isAnonymous: user.isAnonymous)
        return (try await keys.sign(claims, header: ["typ": "JWT"]), now + lifetime)
    }

    /// The one algorithm a presented token may name: the stack's secret is an HS256 key, and jwt-kit
    /// verifies with the key it holds whatever the header says ("none", RS256 …).
    static let acceptedAlgorithm = "HS256"

    /// A token presented by a client: algorithm, signature, expiry and, for user tokens, the audience.
    func verify(_ token: String) async throws -> PresentedClaims {
        guard let algorithm = Self.algorithm(of: token) else { throw AuthError.badJWT("token is malformed") }
        guard algorithm == Self.acceptedAlgorithm else { throw AuthError.badJWT("signing method \(algorithm) is invalid") }
        let claims: PresentedClaims
        do {
            claims = try await keys.verify(token, as: PresentedClaims.self)
        } catch let error as JWTError {
            throw AuthError.badJWT(Self.describe(error))
        } catch {
            throw AuthError.badJWT("token is malformed")
        }
        // The project's API keys carry no audience; a token that names one must name ours.
        if let aud = claims.aud, !aud.value.contains(Self.audience) {
            throw AuthError.badJWT("token has invalid claims: token has invalid audience")
        }
        return claims
    }

    /// The header's `alg`, or nil when the token has no readable header naming one.
    static func algorithm(of token: String) -> String? {
        (try? DefaultJWTParser().parse(Array(token.utf8), as: PresentedClaims.self))?.header.alg
    }

    static func describe(_ error: JWTError) -> String {
        let text = "\(error)".lowercased()
        if text.contains("expired") || text.contains("exp") { return "token has invalid claims: token is expired" }
        if text.contains("signature") { return "signature is invalid" }
        if text.contains("algorithm") || text.contains("alg") { return "signing method is not allowed" }
        return "token is malformed"
    }
}
