import Crypto
import DevstackCore
import DevstackSystem
import Foundation

/// Production secrets never in local files (staging-by-default, rule 2). When a production profile is
/// given secrets (from the environment; devstack never stores them), it records salted fingerprints
/// of them — HMAC-SHA256 under a random salt of the user's, never the values — in the user's
/// configuration folder (`fingerprints.json`, mode 0600). Files are then scanned for any value whose
/// fingerprint is recorded: `devstack doctor secrets`, `validate`, and the pre-commit hook.
public struct SecretFingerprints: Sendable {
    public let file: String

    public init(folder: String = ConfigFolder.root()) { file = "\(folder)/fingerprints.json" }

    struct Stored: Codable {
        var salt: String
        var entries: [Entry]
    }

    /// One recorded secret: what it was called and where it came from, never its value.
    public struct Entry: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var name: String
        public var profile: String
        public var project: String
        public var recordedAt: Date
    }

    /// Where a recorded secret was found.
    public struct Finding: Codable, Sendable {
        public var file: String
        public var line: Int
        public var secret: String
        public var profile: String
    }

    /// Shorter values are too common to tell a secret from a word.
    static let minimumLength = 8

    /// What a production plan was given that must never be written down: its secrets that came from
    /// the environment (the anon key is public: it is for browsers) and passwords in its services' URLs.
    public static func secrets(of plan: Plan, origins: [String: ValueOrigin]) -> [(name: String, value: String)] {
        guard plan.profile.environment == .production else { return [] }
        var found: [(String, String)] = []
        for (name, value) in plan.secrets.sorted(by: { $0.key < $1.key }) where name != BuiltInSecret.anonKey.rawValue {
            if origins[name]?.source == .environment { found.append((name, value)) }
        }
        for service in plan.services {
            if let url = service.remoteURL, let password = URLComponents(string: url)?.password {
                found.append(("\(service.name) URL password", password))
            }
        }
        return found.filter { $0.1.count >= minimumLength }
    }

    /// Records fingerprints of `secrets` (new ones only), making the salt on first use.
    public func record(_ secrets: [(name: String, value: String)], profile: String, project: String, now: Date = Date()) throws {
        guard !secrets.isEmpty else { return }
        var stored = load() ?? Stored(salt: RandomHex.of(bytes: 16), entries: [])
        var changed = false
        for (name, value) in secrets {
            let fingerprint = Self.fingerprint(value, salt: stored.salt)
            guard !stored.entries.contains(where: { $0.fingerprint == fingerprint }) else { continue }
            stored.entries.append(Entry(fingerprint: fingerprint, name: name, profile: profile, project: project, recordedAt: now))
            changed = true
        }
        guard changed else { return }
        try StateDirectory.create(URL(fileURLWithPath: file).deletingLastPathComponent().path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        if let failure = StateDirectory.replace(file, with: try encoder.encode(stored), durable: true) {
            throw ProjectError(.secrets, failure, fix: "check the permissions of \(URL(fileURLWithPath: file).deletingLastPathComponent().path)")
        }
    }

    public var entries: [Entry] { load()?.entries ?? [] }

    /// Every recorded secret in `text` (a file's contents), by line.
    public func scan(_ text: String, file: String) -> [Finding] {
        guard let stored = load(), !stored.entries.isEmpty else { return [] }
        let known = Dictionary(stored.entries.map { ($0.fingerprint, $0) }, uniquingKeysWith: { first, _ in first })
        var findings: [Finding] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for token in Self.tokens(in: line) {
                guard let entry = known[Self.fingerprint(token, salt: stored.salt)] else { continue }
                findings.append(Finding(file: file, line: index + 1, secret: entry.name, profile: entry.profile))
            }
        }
        return findings
    }

    /// The project's files where a secret must not be: `.env*` files anywhere (not under `.git`,
    /// `.build*`, `node_modules` or `.devstack`), `profiles/`, `stacks/`, and the secrets files of its
    /// profiles that run here.
    public static func filesToScan(in project: String) -> [String] {
        var files: [String] = []
        let skipped: Set<String> = [".git", "node_modules", ".devstack"]
        let enumerator = FileManager.default.enumerator(atPath: project)
        while let path = enumerator?.nextObject() as? String {
            let name = URL(fileURLWithPath: path).lastPathComponent
            if skipped.contains(name) || name.hasPrefix(".build") {
                enumerator?.skipDescendants()
                continue
            }
            if name.hasPrefix(".env") || path.hasPrefix("profiles/") || path.hasPrefix("stacks/") {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(project)/\(path)", isDirectory: &isFolder), !isFolder.boolValue { files.append(path) }
            }
        }
        for profile in (try? FileManager.default.contentsOfDirectory(atPath: "\(project)/.devstack")) ?? []
        where FileManager.default.fileExists(atPath: "\(project)/.devstack/\(profile)/secrets") {
            files.append(".devstack/\(profile)/secrets")
        }
        return files.sorted()
    }

    static func fingerprint(_ value: String, salt: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: Data(salt.utf8))).hexEncoded
    }

    /// What in a line could be a secret: a `NAME=value` or `key: value` line's whole value (quotes
    /// taken off), the password of a URL in it, and every run of the characters keys and tokens are made
    /// of — long enough to be a secret.
    static func tokens(in line: Substring) -> [String] {
        var tokens: [String] = []
        let text = String(line)
        if let assignment = text.range(of: #"^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*[=:]\s*"#, options: .regularExpression) {
            var value = text[assignment.upperBound...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            if value.count >= minimumLength { tokens.append(value) }
        }
        var rest = text[...]
        while let scheme = rest.range(of: "://") {
            let authority = rest[scheme.upperBound...].prefix { $0 != "/" && $0 != " " && $0 != "\"" && $0 != "'" }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                let password = String(authority[authority.index(after: colon)..<at])
                tokens.append(password.removingPercentEncoding ?? password)
            }
            rest = rest[scheme.upperBound...]
        }
        var current = ""
        for character in line {
            if character.isLetter || character.isNumber || "._~+/=-".contains(character) {
                current.append(character)
            } else {
                if current.count >= minimumLength { tokens.append(current) }
                current = ""
            }
        }
        if current.count >= minimumLength { tokens.append(current) }
        return tokens
    }

    private func load() -> Stored? {
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(Stored.self, from: data)
    }
}
