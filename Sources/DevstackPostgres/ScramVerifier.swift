import Crypto
import CryptoExtras
import Foundation

/// A role's password as Postgres stores it for SCRAM-SHA-256 (RFC 7677):
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 parts.
public struct ScramVerifier: Sendable {
    let iterations: Int
    let salt: Data
    let storedKey: Data
    let serverKey: Data

    public init?(_ text: String) {
        guard text.hasPrefix("SCRAM-SHA-256$") else { return nil }
        let parts = text.dropFirst("SCRAM-SHA-256$".count).split(separator: "$")
        guard parts.count == 2 else { return nil }
        let parameters = parts[0].split(separator: ":")
        let keys = parts[1].split(separator: ":")
        guard parameters.count == 2, keys.count == 2, let iterations = Int(parameters[0]), iterations > 0,
            let salt = Data(base64Encoded: String(parameters[1])), let storedKey = Data(base64Encoded: String(keys[0])),
            let serverKey = Data(base64Encoded: String(keys[1]))
        else { return nil }
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// The verifier Postgres would store for `password` (4,096 rounds, a random salt), made here so
    /// that setting a password is a catalog write, and known to match without signing in to check.
    /// nil for a password outside printable ASCII, which the server first normalises (SASLprep).
    public static func make(for password: String, iterations: Int = 4096) -> String? {
        guard password.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        guard
            let salted = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        else { return nil }
        let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Client Key".utf8), using: salted))
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Server Key".utf8), using: salted))
        let storedKey = Data(SHA256.hash(data: clientKey))
        return "SCRAM-SHA-256$\(iterations):\(salt.base64EncodedString())$\(storedKey.base64EncodedString()):\(serverKey.base64EncodedString())"
    }

    /// Whether the server would accept this password, computed as it does; nil for a password
    /// outside printable ASCII, which the server first normalises (SASLprep) and this does not.
    public func matches(_ password: String) -> Bool? {
        guard password.utf8.allSatisfy({ (0x20...0x7E).contains($0) }),
            let salted = try? KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        else { return nil }
        let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Client Key".utf8), using: salted))
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Server Key".utf8), using: salted))
        return Data(SHA256.hash(data: clientKey)) == storedKey && serverKey == self.serverKey
    }
}
