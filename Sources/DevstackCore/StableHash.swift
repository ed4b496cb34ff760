/// A short name derived from a path, the same on every run and machine (FNV-1a, base 36):
/// for folders and sockets that must be found again but whose full path would be too long.
public enum StableHash {
    public static func of(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 36)
    }
}

extension Sequence<UInt8> {
    /// Two lower-case hex digits a byte, as `String(format: "%02x")` writes them but without
    /// Foundation's formatter, which costs microseconds a byte (digests are hexed on every start).
    public var hexEncoded: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Random bytes as lowercase hex, from the system's secure generator: secrets, tokens, unique names.
public enum RandomHex {
    public static func of(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexEncoded
    }
}
