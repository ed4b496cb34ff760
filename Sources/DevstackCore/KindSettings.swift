import Foundation

/// A kind-specific key, its type and what it means; the schema and validation both read this table.
public struct SettingKey: Sendable {
    public enum ValueType: Sendable {
        case string, bool, duration, list, path
        case int(ClosedRange<Int>)
        case choice([String])
    }

    public let name: String
    public let type: ValueType
    public let summary: String
    public let required: Bool

    public init(_ name: String, _ type: ValueType, _ summary: String, required: Bool = false) {
        self.name = name
        self.type = type
        self.summary = summary
        self.required = required
    }
}

extension ServiceKind {
    public var settingKeys: [SettingKey] { descriptor.settingKeys }

    /// Keys every kind accepts.
    static let commonKeys = [
        "kind", "description", "depends_on", "ports", "env", "env_file", "health", "restart", "stop", "working_dir", "restart_after_reset",
    ]

    var allowedKeys: [String] {
        Self.commonKeys + settingKeys.map(\.name) + (descriptor.takesCommand ? ["command"] : [])
    }

    /// The kind whose key this is, for "belongs to kind X" messages.
    static func owner(ofKey key: String) -> ServiceKind? {
        allCases.first { kind in kind.settingKeys.contains { $0.name == key } || (key == "command" && kind.descriptor.takesCommand) }
    }
}

extension YAMLReader {
    func setting(_ node: ConfigNode, _ key: SettingKey) -> SettingValue? {
        switch key.type {
        case .string: return string(node).map(SettingValue.string)
        case .path: return nonEmptyString(node, what: "a path").map(SettingValue.string)
        case .bool: return bool(node).map(SettingValue.bool)
        case .duration: return duration(node).map(SettingValue.duration)
        case .int(let range): return int(node, range: range).map(SettingValue.int)
        case .list:
            if case .scalar = node.node, let text = string(node) {
                return .list(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            }
            return stringList(node).map { .list($0.map(\.0)) }
        case .choice(let options):
            guard let text = string(node) else { return nil }
            guard options.contains(text) else {
                error(
                    node, "'\(text)' is not one of \(options.joined(separator: ", "))",
                    fix: Suggestion.closest(to: text, among: options).map { "did you mean '\($0)'?" })
                return nil
            }
            return .string(text)
        }
    }
}
