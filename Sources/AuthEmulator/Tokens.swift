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

/// Signs and checks tokens: with the stack's JWT secret (HS256, as local Supabase does), or with
/// the service's asymmetric key ring (RS256 or ES256, each key named by `kid` and published in the
/// JWKS). Tokens signed with the secret are accepted either way: the project's API keys are.
struct TokenIssuer: Sendable {
    /// The secret alone: what an HS256 token is checked with.
    let secretKeys: JWTKeyCollection
    /// Each asymmetric key alone, by kid, with its algorithm: a token is checked with the key it names and no other.
    let keysByID: [String: (algorithm: String, keys: JWTKeyCollection)]
    /// The key that signs, when the ring has one.
    let signingKey: (kid: String, keys: JWTKeyCollection)?
    let ring: SigningKeyRing?
    let issuer: String
    let lifetime: Int

    static let audience = "authenticated"
    /// Roles GoTrue lets use the admin API.
    static let adminRoles: Set = ["service_role", "supabase_admin"]

    init(secret: String, ring: SigningKeyRing? = nil, issuer: String, lifetime: Int) async throws {
        let secretKeys = JWTKeyCollection()
        await secretKeys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.secretKeys = secretKeys
        var keysByID: [String: (algorithm: String, keys: JWTKeyCollection)] = [:]
        for key in ring?.published(lifetime: TimeInterval(lifetime)) ?? [] {
            let collection = JWTKeyCollection()
            try await key.add(to: collection)
            keysByID[key.kid] = (key.algorithm.rawValue, collection)
        }
        self.keysByID = keysByID
        signingKey = ring?.current.flatMap { current in keysByID[current.kid].map { (current.kid, $0.keys) } }
        self.ring = ring
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
        let token =
            if let signingKey {
                try await signingKey.keys.sign(claims, kid: JWKIdentifier(string: signingKey.kid), header: ["typ": "JWT"])
            } else {
                try await secretKeys.sign(claims, header: ["typ": "JWT"])
            }
        return (token, now + lifetime)
    }

    /// The public keys of the ring still worth publishing; none for a secret alone (GoTrue publishes no symmetric keys).
    func jwks() throws -> [[String: Any]] {
        try (ring?.published(lifetime: TimeInterval(lifetime)) ?? []).map { try $0.publicJWK() }
    }

    /// A token presented by a client: the key its header names (and that key's algorithm only),
    /// signature, expiry and, for user tokens, the audience. jwt-kit would verify with whatever key it
    /// holds whatever the header says ("none", RS256 …), so the key is chosen here, by alg and kid.
    func verify(_ token: String) async throws -> PresentedClaims {
        guard let header = Self.header(of: token), let algorithm = header.alg else { throw AuthError.badJWT("token is malformed") }
        let keys: JWTKeyCollection
        switch algorithm {
        case "HS256":
            // A kid of an asymmetric key on an HS256 token is a key-confusion attempt.
            if let kid = header.kid, keysByID[kid] != nil { throw AuthError.badJWT("signing method HS256 is invalid") }
            keys = secretKeys
        case _ where keysByID.values.contains { $0.algorithm == algorithm }:
            guard let kid = header.kid, let entry = keysByID[kid], entry.algorithm == algorithm else {
                throw AuthError.badJWT("token is unverifiable: no key with this kid")
            }
            keys = entry.keys
        default:
            throw AuthError.badJWT("signing method \(algorithm) is invalid")
        }
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

    static func header(of token: String) -> JWTHeader? {
        try? DefaultJWTParser().parse(Array(token.utf8), as: PresentedClaims.self).header
    }

    static func describe(_ error: JWTError) -> String {
        let text = "\(error)".lowercased()
        if text.contains("expired") || text.contains("exp") { return "token has invalid claims: token is expired" }
        if text.contains("signature") { return "signature is invalid" }
        if text.contains("algorithm") || text.contains("alg") { return "signing method is not allowed" }
        return "token is malformed"
    }
}
