/// A short name derived from a path, the same on every run and machine (FNV-1a, base 36):
/// for folders and sockets that must be found again but whose full path would be too long.
public enum StableHash {
    public static func of(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 36)
    }
}
