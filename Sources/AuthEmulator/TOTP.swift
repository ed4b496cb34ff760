import Crypto
import DevstackCore
import Foundation

/// RFC 6238 time-based codes as authenticator apps make them: HMAC-SHA1, 6 digits, 30-second steps.
enum TOTP {
    static let period: TimeInterval = 30
    static let digits = 6

    /// A new shared secret: 20 random bytes, base32 as apps expect it.
    static func newSecret() -> String {
        Base32.encode(Data((0..<20).map { _ in UInt8.random(in: .min ... .max) }))
    }

    static func step(at date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / period).rounded(.down)) }

    /// The code of `step` (RFC 4226's dynamic truncation); nil when the secret is not base32.
    static func code(secret: String, step: Int64) -> String? {
        guard let key = Base32.decode(secret) else { return nil }
        var counter = UInt64(bitPattern: step).bigEndian
        let message = withUnsafeBytes(of: &counter) { Data($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let value =
            (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        let modulus = UInt32(pow(10, Double(digits)))
        let text = String(value % modulus)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The step whose code `code` is, allowing one step of clock skew either way (as GoTrue does).
    static func matchingStep(_ code: String, secret: String, at date: Date = Date()) -> Int64? {
        let now = step(at: date)
        return [now, now - 1, now + 1].first { candidate in
            Self.code(secret: secret, step: candidate).map { ConstantTime.equal($0, code) } ?? false
        }
    }
}

/// RFC 4648 base32, unpadded, as `otpauth://` secrets are written.
enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    static func encode(_ data: Data) -> String {
        var output = ""
        var buffer = 0
        var bits = 0
        for byte in data {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return output
    }

    static func decode(_ text: String) -> Data? {
        var output = Data()
        var buffer = 0
        var bits = 0
        for character in text.uppercased() where character != "=" && character != " " {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> (bits - 8)) & 0xff))
                bits -= 8
            }
            buffer &= (1 << bits) - 1
        }
        return output
    }
}
