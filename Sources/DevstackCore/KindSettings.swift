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

    init(_ name: String, _ type: ValueType, _ summary: String, required: Bool = false) {
        self.name = name
        self.type = type
        self.summary = summary
        self.required = required
    }
}

extension ServiceKind {
    public var settingKeys: [SettingKey] {
        switch self {
        case .postgres:
            return [
                SettingKey("database", .string, "database created for the stack (default: the service name)"),
                SettingKey("migrations", .path, "folder of *.sql migrations, applied in name order"),
                SettingKey("seed", .path, "SQL run after migrations when the database is created or reset"),
                SettingKey("supabase", .bool, "apply Supabase's roles, auth schema and auth.uid() before migrations"),
                SettingKey("version", .int(10...99), "required major version of the Postgres binaries"),
                SettingKey("bin_dir", .path, "folder holding initdb and postgres (default: searched)"),
                SettingKey("user", .string, "unprivileged OS user that runs Postgres when devstack runs as root"),
            ]
        case .auth:
            return [
                SettingKey("database", .string, "the postgres service holding auth.users (default: the only one)"),
                SettingKey("jwt_exp", .duration, "access token lifetime"),
                SettingKey("site_url", .string, "default redirect target"),
                SettingKey("uri_allow_list", .list, "redirect_to values accepted besides site_url"),
                SettingKey("disable_signup", .bool, "refuse new sign-ups"),
                SettingKey("mailer_autoconfirm", .bool, "confirm e-mail sign-ups without a link"),
                SettingKey("sms_autoconfirm", .bool, "confirm phone sign-ups without a code"),
                SettingKey("external_email_enabled", .bool, "allow e-mail sign-up and sign-in"),
                SettingKey("external_phone_enabled", .bool, "allow phone sign-up and sign-in"),
                SettingKey("external_anonymous_users_enabled", .bool, "allow anonymous sign-ins"),
                SettingKey("password_min_length", .int(1...72), "shortest password accepted"),
                SettingKey("bcrypt_cost", .int(4...31), "bcrypt cost of new password hashes"),
                SettingKey("rate_limit", .bool, "enforce GoTrue's rate limits"),
            ]
        case .inference:
            return [
                SettingKey("model", .choice(["instant", "thinking"]), "personality: answers at once, or reasons first", required: true),
                SettingKey("models", .list, "model ids listed by GET /models (default: the service name)"),
                SettingKey("fixtures", .path, "folder of *.yaml fixtures with deterministic answers"),
                SettingKey("time_to_first_token", .duration, "delay before the first token"),
                SettingKey("token_delay", .duration, "delay between streamed tokens"),
                SettingKey("jitter", .duration, "random extra delay added to each wait, at most this much"),
                SettingKey("api_key", .string, "when set, requests must carry it as a Bearer token"),
                SettingKey("embedding_dimensions", .int(1...8192), "length of embedding vectors"),
                SettingKey("keep_alive", .bool, "send OpenRouter's ': OPENROUTER PROCESSING' comment lines"),
            ]
        case .process:
            return []
        }
    }

    /// Keys every kind accepts.
    static let commonKeys = [
        "kind", "description", "depends_on", "ports", "env", "env_file", "health", "restart", "stop", "working_dir", "restart_after_reset",
    ]

    var allowedKeys: [String] {
        Self.commonKeys + settingKeys.map(\.name) + (self == .process ? ["command"] : [])
    }

    /// The kind whose key this is, for "belongs to kind X" messages.
    static func owner(ofKey key: String) -> ServiceKind? {
        if key == "command" { return .process }
        return allCases.first { kind in kind.settingKeys.contains { $0.name == key } }
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
