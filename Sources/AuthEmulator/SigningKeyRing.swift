import Crypto
import CryptoExtras
import DevstackSystem
import Foundation
import JWTKit

/// An auth service's asymmetric signing keys (RS256 or ES256), kept in one 0600 JSON file per
/// service and profile. The newest unretired key signs; a retired key stays published in the JWKS
/// until the tokens it signed have expired. `devstack auth rotate-keys` adds a key and retires the rest.
public struct SigningKeyRing: Codable, Sendable {
    public enum Algorithm: String, Codable, Sendable, CaseIterable {
        case rs256 = "RS256"
        case es256 = "ES256"
    }

    public struct Key: Codable, Sendable {
        public var kid: String
        public var algorithm: Algorithm
        public var privateKeyPEM: String
        public var createdAt: Date
        public var retiredAt: Date?

        enum CodingKeys: String, CodingKey {
            case kid
            case algorithm = "alg"
            case privateKeyPEM = "private_key_pem"
            case createdAt = "created_at"
            case retiredAt = "retired_at"
        }
    }

    public var keys: [Key]

    public init(keys: [Key] = []) { self.keys = keys }

    /// The key that signs new tokens.
    public var current: Key? { keys.last { $0.retiredAt == nil } }

    /// Keys whose public half is published: the current ones and those retired less than `lifetime` ago.
    public func published(lifetime: TimeInterval, now: Date = Date()) -> [Key] {
        keys.filter { key in key.retiredAt.map { now.timeIntervalSince($0) < lifetime } ?? true }
    }

    /// The ring in `file`, with a current key of `algorithm` made if there is none (a first start,
    /// or a stack that changed its `signing_keys`).
    public static func prepare(file: String, algorithm: Algorithm) throws -> SigningKeyRing {
        var ring = try load(file) ?? SigningKeyRing(keys: [])
        guard ring.current?.algorithm != algorithm else { return ring }
        try ring.rotate(to: algorithm)
        try ring.save(file)
        return ring
    }

    public static func load(_ file: String) throws -> SigningKeyRing? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(SigningKeyRing.self, from: data)
        } catch {
            throw AuthError(500, "unexpected_failure", "\(file) is not a signing key file: \(error)")
        }
    }

    public func save(_ file: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try StateDirectory.create(URL(fileURLWithPath: file).deletingLastPathComponent().path)
        // Private keys: readable by devstack's user only, from the first byte.
        if let failure = StateDirectory.replace(file, with: try encoder.encode(self), durable: true) {
            throw AuthError(500, "unexpected_failure", "cannot write the signing keys: \(failure)")
        }
    }

    /// A new current key; every earlier one is retired now.
    public mutating func rotate(to algorithm: Algorithm, now: Date = Date()) throws {
        for index in keys.indices where keys[index].retiredAt == nil { keys[index].retiredAt = now }
        let pem: String
        switch algorithm {
        case .rs256: pem = try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation
        case .es256: pem = P256.Signing.PrivateKey().pemRepresentation
        }
        keys.append(Key(kid: UUID().uuidString.lowercased(), algorithm: algorithm, privateKeyPEM: pem, createdAt: now))
    }
}

extension SigningKeyRing.Key {
    /// The public half as a JWK, as GoTrue publishes it.
    func publicJWK() throws -> [String: Any] {
        var jwk: [String: Any] = ["kid": kid, "alg": algorithm.rawValue, "use": "sig", "key_ops": ["verify"]]
        switch algorithm {
        case .rs256:
            let (modulus, exponent) = try Insecure.RSA.PrivateKey(pem: privateKeyPEM).publicKey.getKeyPrimitives()
            jwk["kty"] = "RSA"
            jwk["n"] = modulus.base64URL
            jwk["e"] = exponent.base64URL
        case .es256:
            guard let parameters = try ES256PrivateKey(pem: privateKeyPEM).parameters else {
                throw AuthError(500, "unexpected_failure", "signing key \(kid) has no public parameters")
            }
            jwk["kty"] = "EC"
            jwk["crv"] = "P-256"
            jwk["x"] = parameters.x
            jwk["y"] = parameters.y
        }
        return jwk
    }

    /// Adds the key (private, so it can sign) to `collection` under its kid.
    func add(to collection: JWTKeyCollection) async throws {
        switch algorithm {
        case .rs256:
            await collection.add(rsa: try Insecure.RSA.PrivateKey(pem: privateKeyPEM), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        case .es256:
            await collection.add(ecdsa: try ES256PrivateKey(pem: privateKeyPEM), kid: JWKIdentifier(string: kid))
        }
    }
}

extension Data {
    /// Base64url without padding, as JOSE and PKCE write bytes.
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
