import DevstackTestSupport
import Foundation
import HummingbirdTesting
import JWTKit
import Testing

@testable import AuthEmulator

/// The key ring on disk, and the token issuer choosing its key by the header's alg and kid.
@Suite struct SigningKeyTests {
    static let secret = "a-signing-key-test-secret-of-32-bytes-or-more"

    func user() throws -> AuthUser {
        try AuthUser(
            userText: #"{"id": "8b7c4b0e-54a1-4b1a-9d67-3f3b0f4e2a11", "role": "authenticated", "email": "k@example.com"}"#, privateText: "{}")
    }

    @Test func aRingIsMadeOnceKeptPrivateAndRotatedWithTheOldKeyStillPublished() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = "\(directory.path)/auth/auth-signing-keys.json"
        let first = try SigningKeyRing.prepare(file: file, algorithm: .es256)
        #expect(first.keys.count == 1 && first.current?.algorithm == .es256)
        let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(try SigningKeyRing.prepare(file: file, algorithm: .es256).current?.kid == first.current?.kid, "kept across starts")
        var ring = try #require(try SigningKeyRing.load(file))
        try ring.rotate(to: .es256)
        #expect(ring.keys.count == 2 && ring.current?.kid != first.current?.kid)
        #expect(ring.published(lifetime: 3600).count == 2)
        #expect(
            ring.published(lifetime: 3600, now: Date().addingTimeInterval(3601)).map(\.kid) == [ring.current?.kid], "gone once its tokens expired")
        // Another algorithm in the stack file gives a new current key of that algorithm.
        try ring.save(file)
        #expect(try SigningKeyRing.prepare(file: file, algorithm: .rs256).current?.algorithm == .rs256)
    }

    @Test(arguments: [SigningKeyRing.Algorithm.es256, .rs256])
    func tokensNameTheirKeyAndOnlyThatKeyWithItsAlgorithmVerifiesThem(_ algorithm: SigningKeyRing.Algorithm) async throws {
        var ring = SigningKeyRing()
        try ring.rotate(to: algorithm)
        let issuer = try await TokenIssuer(secret: Self.secret, ring: ring, issuer: "http://auth", lifetime: 3600)
        let (token, _) = try await issuer.accessToken(for: try user(), session: UUID().uuidString, assurance: .firstFactor("password"))
        let header = try #require(TokenIssuer.header(of: token))
        #expect(header.alg == algorithm.rawValue && header.kid == ring.current?.kid)
        #expect(try await issuer.verify(token).sub == "8b7c4b0e-54a1-4b1a-9d67-3f3b0f4e2a11")
        // The project's API keys (HS256, the stack's secret, no kid) still pass.
        #expect(try await issuer.verify(AuthRouteTests.token(role: "anon", secret: Self.secret)).role == "anon")
        let jwks = try issuer.jwks()
        #expect(jwks.map { $0["kid"] as? String } == [ring.current?.kid])
        #expect(jwks.first?["d"] == nil)
        let other = algorithm == .es256 ? "RS256" : "ES256"
        let forgeries = [
            "unknown kid": AuthRouteTests.token(
                claims: ["role": "service_role"], alg: algorithm.rawValue, secret: Self.secret, kid: UUID().uuidString),
            "HS256 naming the key pair": AuthRouteTests.token(claims: ["role": "service_role"], secret: Self.secret, kid: ring.current!.kid),
            "the key's kid under another alg": AuthRouteTests.token(
                claims: ["role": "service_role"], alg: other, secret: Self.secret, kid: ring.current!.kid),
            "no kid": AuthRouteTests.token(claims: ["role": "service_role"], alg: algorithm.rawValue, secret: Self.secret),
        ]
        for (name, forged) in forgeries {
            await #expect(throws: AuthError.self, "\(name)") { try await issuer.verify(forged) }
        }
    }

    @Test func theJWKSRouteServesTheRing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = "\(directory.path)/keys.json"
        let ring = try SigningKeyRing.prepare(file: file, algorithm: .es256)
        try await AuthRouteTests().withRoutes(configure: { $0.signingKeysFile = file }) { client in
            try await client.execute(uri: "/auth/v1/.well-known/jwks.json", method: .get) { response in
                let keys = AuthRouteTests().json(response.body)["keys"] as? [[String: Any]] ?? []
                #expect(keys.map { $0["kid"] as? String } == [ring.current?.kid])
                #expect(keys.first?["kty"] as? String == "EC" && keys.first?["crv"] as? String == "P-256")
            }
        }
    }
}
