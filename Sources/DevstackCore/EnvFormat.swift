import Foundation

/// Renders variables for other tools; the shell form is safe to `eval` whatever the values hold.
public enum EnvFormat: String, Sendable, CaseIterable {
    case shell, dotenv, json

    public func render(_ values: [PlannedValue]) -> String {
        switch self {
        case .shell:
            return values.map { "export \($0.name)=\(Self.shellQuoted($0.value))\n" }.joined()
        case .dotenv:
            return values.map { "\($0.name)=\(Self.dotenvQuoted($0.value))\n" }.joined()
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let object = Dictionary(values.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            return String(decoding: (try? encoder.encode(object)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
        }
    }

    /// POSIX single quotes: nothing inside is special except the quote itself, closed, escaped and reopened.
    public static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Single quotes where they suffice (literal in dotenv readers); otherwise double quotes with escapes.
    static func dotenvQuoted(_ value: String) -> String {
        if !value.contains("'") && !value.contains("\n") { return "'\(value)'" }
        let escaped =
            value
            .replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "$", with: "\\$")
        return "\"\(escaped)\""
    }
}
