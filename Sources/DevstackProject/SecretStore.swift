import Crypto
import DevstackCore
import DevstackSystem
import Foundation
import JWTKit

/// Secrets generated once per project and profile, kept in `.devstack/<profile>/secrets` (mode 0600).
public struct SecretStore: Sendable {
    public let stateDirectory: String
    public var file: String { "\(stateDirectory)/secrets" }

    /// Far enough ahead that a development key never expires under the user; fixed so keys are a pure function of the secret.
    static let apiKeyExpiry: TimeInterval = 2_524_608_000

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    /// Merges what the profile asks for with what is stored, generating and storing what is missing.
    /// Remote profiles get exactly what they asked for: devstack never makes up production secrets.
    /// `authServices` each get their own secret and API keys too (`<service>.jwt_secret`, `.anon_key`,
    /// `.service_role_key`), which a service uses when its stack sets `own_jwt_secret: true`.
    public func resolve(
        requested: [String: (value: String, origin: ValueOrigin)], remote: Bool, persist: Bool = true, authServices: [String] = [],
        backupKey: Bool = false
    ) async throws -> ResolvedSecrets {
        var resolved = ResolvedSecrets()
        for (name, entry) in requested {
            resolved.values[name] = entry.value
            resolved.origins[name] = entry.origin
        }
        if remote { return resolved }

        var stored = try load() ?? [:]
        var changed = false
        let generatedOrigin = ValueOrigin(.generated, detail: displayPath)
        let generated =
            [("jwt_secret", { RandomHex.of(bytes: 32) }), ("postgres_password", { RandomHex.of(bytes: 18) })]
            + authServices.map { ("\($0).jwt_secret", { RandomHex.of(bytes: 32) }) }
            + (backupKey ? [("backup_key", { RandomHex.of(bytes: 32) })] : [])
        for (name, generate) in generated {
            if stored[name] == nil {
                stored[name] = generate()
                changed = true
            }
            if resolved.values[name] == nil {
                resolved.values[name] = stored[name]
                resolved.origins[name] = generatedOrigin
            }
        }
        for scope in [""] + authServices.map { "\($0)." } {
            guard let jwtSecret = resolved.values["\(scope)jwt_secret"], jwtSecret.utf8.count >= 32 else {
                throw ProjectError(
                    .secrets, "the JWT secret \(scope)jwt_secret is shorter than 32 bytes",
                    fix: "use at least 32 random bytes, e.g. `openssl rand -hex 32`, or remove it from the profile so devstack generates one")
            }
            // Signing twice gives different bytes (claim order varies), so keys are kept with a digest of
            // the secret they were signed with and reused while it stays the same.
            let digest = SHA256.hash(data: Data(jwtSecret.utf8)).hexEncoded
            if stored["\(scope)api_keys_signed_with"] != digest {
                stored["\(scope)anon_key"] = try await Self.apiKey(role: "anon", secret: jwtSecret)
                stored["\(scope)service_role_key"] = try await Self.apiKey(role: "service_role", secret: jwtSecret)
                stored["\(scope)api_keys_signed_with"] = digest
                changed = true
            }
            for name in ["\(scope)anon_key", "\(scope)service_role_key"] where resolved.values[name] == nil {
                resolved.values[name] = stored[name]
                resolved.origins[name] = ValueOrigin(.generated, detail: "signed with the \(scope)jwt_secret")
            }
        }
        if changed && persist { try save(stored) }
        return resolved
    }

    /// An HS256 API key with the claims local Supabase uses: `iss`, `role`, `exp`, and no `sub`.
    public static func apiKey(role: String, secret: String) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(
            APIKeyClaims(iss: IssuerClaim(value: "supabase-demo"), role: role, exp: ExpirationClaim(value: Date(timeIntervalSince1970: apiKeyExpiry)))
        )
    }

    private var displayPath: String {
        let components = stateDirectory.split(separator: "/")
        return components.suffix(2).joined(separator: "/") + "/secrets"
    }

    private func load() throws -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        guard let values = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw ProjectError(.secrets, "\(file) is not a JSON object of strings", fix: "repair it, or delete it and devstack generates new secrets")
        }
        // Someone loosened the permissions: tighten them again rather than leak.
        if let mode = (try? FileManager.default.attributesOfItem(atPath: file))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            chmod(file, 0o600)
        }
        return values
    }

    /// Durable, and renamed into place: a crash never leaves half a secrets file.
    private func save(_ values: [String: String]) throws {
        try StateDirectory.create(stateDirectory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let failure = StateDirectory.replace(file, with: try encoder.encode(values), durable: true) {
            throw ProjectError(.secrets, failure, fix: "check the permissions of \(stateDirectory)")
        }
    }
}

struct APIKeyClaims: JWTPayload {
    let iss: IssuerClaim
    let role: String
    let exp: ExpirationClaim

    func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
    }
}
