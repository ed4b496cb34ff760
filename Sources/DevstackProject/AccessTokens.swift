import Crypto
import DevstackCore
import DevstackSystem
import Foundation

/// What a token lets another machine do through the host's control API. Each role includes the ones
/// before it.
public enum AccessRole: String, Codable, Sendable, CaseIterable, Comparable {
    /// The stack's status, what a browser may see of its env, the applied migrations.
    case read
    /// The whole env (service key, database password), logs, smoke checks, snapshots.
    case test
    /// Reset, restore, migrate, services stopped and started.
    case admin

    public static func < (left: AccessRole, right: AccessRole) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}

/// The tokens a host's control API accepts, in `.devstack/<profile>/tokens.json` (mode 0600): each
/// token's name, role and SHA-256, never the token itself, so the file leaks nothing usable. Read at
/// every call, so `token create` and `token revoke` take effect at once.
public struct AccessTokens: Sendable {
    public let file: String

    public init(stateDirectory: String) { file = "\(stateDirectory)/tokens.json" }

    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var role: AccessRole
        public var sha256: String
        public var createdAt: Date
    }

    /// `dst_` and 32 random bytes in hex: recognisable in a leaked file, unguessable.
    static let prefix = "dst_"

    public var entries: [Entry] {
        guard let data = FileManager.default.contents(atPath: file) else { return [] }
        return (try? Self.decoder.decode([Entry].self, from: data)) ?? []
    }

    /// Makes a token and records it; returns the token, shown once.
    public func create(name: String, role: AccessRole, now: Date = Date()) throws -> String {
        guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"#, options: .regularExpression) != nil else {
            throw ProjectError(
                .refused, "'\(name)' is not usable as a token name",
                fix: "use up to 64 letters, digits, '.', '_', '@' or '-', e.g. ci or alice-laptop")
        }
        var current = entries
        guard !current.contains(where: { $0.name == name }) else {
            throw ProjectError(
                .refused, "a token named '\(name)' exists", fix: "revoke it first (devstack token revoke \(name)), or choose another name")
        }
        let token = Self.prefix + RandomHex.of(bytes: 32)
        current.append(Entry(name: name, role: role, sha256: Self.digest(token), createdAt: now))
        try save(current)
        return token
    }

    /// Removes the token: the next call with it is refused.
    public func revoke(name: String) throws {
        var current = entries
        guard current.contains(where: { $0.name == name }) else {
            throw ProjectError(
                .refused, "no token named '\(name)'",
                fix: Suggestion.didYouMean(name, among: current.map(\.name), noun: "tokens"))
        }
        current.removeAll { $0.name == name }
        try save(current)
    }

    /// The entry the presented token belongs to, compared in constant time.
    public func entry(for token: String) -> Entry? {
        guard token.hasPrefix(Self.prefix) else { return nil }
        let digest = Self.digest(token)
        return entries.first { ConstantTime.equal($0.sha256, digest) }
    }

    static func digest(_ token: String) -> String { SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined() }

    private func save(_ entries: [Entry]) throws {
        try StateDirectory.create(URL(fileURLWithPath: file).deletingLastPathComponent().path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        if let failure = StateDirectory.replace(file, with: try encoder.encode(entries), durable: true) {
            throw ProjectError(
                .stateDirectory, failure, fix: "check the permissions of \(URL(fileURLWithPath: file).deletingLastPathComponent().path)")
        }
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// The hosts this user has logged in to (`devstack login PROFILE`), in the user's configuration folder:
/// `logins.json` (mode 0600) with each host's token, and the host's certificate authority beside it
/// (`hosts/<address>_<port>/ca.pem`), which every connection to it is checked against. Never in the project.
public struct RemoteLogins: Sendable {
    public let folder: String

    public init(folder: String = ConfigFolder.root()) { self.folder = folder }

    public struct Login: Codable, Sendable, Equatable {
        /// `address:port` of the host's control API.
        public var host: String
        public var token: String
        /// The token's name and role, as the host told at login.
        public var name: String
        public var role: AccessRole
        public var project: String
        public var loggedInAt: Date

        public init(host: String, token: String, name: String, role: AccessRole, project: String, loggedInAt: Date) {
            self.host = host
            self.token = token
            self.name = name
            self.role = role
            self.project = project
            self.loggedInAt = loggedInAt
        }
    }

    var file: String { "\(folder)/logins.json" }

    public func authorityFile(for host: HostSpec) -> String {
        "\(folder)/hosts/\(host.address.replacingOccurrences(of: ":", with: "_"))_\(host.port)/ca.pem"
    }

    public var logins: [Login] {
        guard let data = FileManager.default.contents(atPath: file) else { return [] }
        return (try? Self.decoder.decode([Login].self, from: data)) ?? []
    }

    public func login(for host: HostSpec) -> Login? { logins.first { $0.host == host.endpoint } }

    /// Stores the login and the host's authority, replacing an earlier one for the same host.
    public func save(_ login: Login, authorityPEM: String, for host: HostSpec) throws {
        let authority = authorityFile(for: host)
        try StateDirectory.create(URL(fileURLWithPath: authority).deletingLastPathComponent().path)
        if let failure = StateDirectory.replace(authority, with: Data(authorityPEM.utf8), durable: true) {
            throw ProjectError(.secrets, failure, fix: "check the permissions of \(folder)")
        }
        try write(logins.filter { $0.host != login.host } + [login])
    }

    /// Forgets the host: its token and authority.
    public func remove(_ host: HostSpec) throws {
        try write(logins.filter { $0.host != host.endpoint })
        unlink(authorityFile(for: host))
    }

    private func write(_ logins: [Login]) throws {
        try StateDirectory.create(folder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        if let failure = StateDirectory.replace(file, with: try encoder.encode(logins), durable: true) {
            throw ProjectError(.secrets, failure, fix: "check the permissions of \(folder)")
        }
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
