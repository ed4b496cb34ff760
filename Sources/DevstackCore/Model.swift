import Foundation

/// What a service is; what each kind means lives in its descriptor (`Kinds/`).
public enum ServiceKind: String, Sendable, Codable, CaseIterable {
    case postgres, auth, inference, process, pgbouncer

    /// The kinds a stack file may name; the others devstack adds itself (a pooler for `pool: true`).
    public static var declarable: [ServiceKind] { allCases.filter(\.descriptor.declarable) }
}

public enum DependencyCondition: String, Sendable, Codable, CaseIterable {
    case started, healthy, completed
}

public enum RestartPolicy: String, Sendable, Codable, CaseIterable {
    case no
    case onFailure = "on-failure"
    case always
}

public enum DataMode: String, Sendable, Codable, CaseIterable {
    case persistent, ephemeral
}

public enum StopSignal: String, Sendable, Codable, CaseIterable {
    // Spelled as in `kill -l`, which is how stack files write them.
    case term = "TERM", interrupt = "INT", quit = "QUIT", hangUp = "HUP", kill = "KILL", user1 = "USR1", user2 = "USR2"

    public var number: Int32 {
        switch self {
        case .term: return SIGTERM
        case .interrupt: return SIGINT
        case .quit: return SIGQUIT
        case .hangUp: return SIGHUP
        case .kill: return SIGKILL
        case .user1: return SIGUSR1
        case .user2: return SIGUSR2
        }
    }
}

public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var location: SourceLocation
    public var keyPath: String
}

public struct DependencySpec: Sendable, Hashable {
    public var service: String
    /// nil: `healthy` when the dependency has a probe, else `started`.
    public var condition: DependencyCondition?
    public var location: SourceLocation
    public var keyPath: String
}

public enum CommandSpec: Sendable, Hashable {
    /// Exec'd as is, never through a shell.
    case exec([Template])
    /// Run by `/bin/sh -c`.
    case shell(Template)
}

public enum ProbeSpec: Sendable, Hashable {
    case tcp(port: Located<String>?)
    case http(path: Template, port: Located<String>?)
    case exec(CommandSpec)
}

public struct HealthSpec: Sendable, Hashable {
    public var probe: ProbeSpec
    public var interval: Duration?
    public var timeout: Duration?
    public var retries: Int?
    public var startPeriod: Duration?
    public var location: SourceLocation
}

/// Restart settings; nil fields fall back to the profile, then to defaults.
public struct RestartSpec: Sendable, Hashable {
    public var policy: Located<RestartPolicy>?
    public var initialBackoff: Duration?
    public var maxBackoff: Duration?
    public var maxRestarts: Int?
    public var window: Duration?

    public init() {}

    /// `other` wins where it says something.
    func overlaid(by other: RestartSpec?) -> RestartSpec {
        guard let other else { return self }
        var merged = self
        merged.policy = other.policy ?? policy
        merged.initialBackoff = other.initialBackoff ?? initialBackoff
        merged.maxBackoff = other.maxBackoff ?? maxBackoff
        merged.maxRestarts = other.maxRestarts ?? maxRestarts
        merged.window = other.window ?? window
        return merged
    }
}

public struct StopSpec: Sendable, Hashable {
    public var signal: StopSignal?
    public var timeout: Duration?
}

public struct EnvEntry: Sendable, Hashable {
    public var name: String
    /// nil removes the variable (a profile's `NAME: null`).
    public var value: Template?
    public var location: SourceLocation
}

/// A kind-specific key (`database:`, `model:`, `jwt_exp:` …) with its value as written.
public struct SettingEntry: Sendable, Hashable {
    public var key: String
    public var value: SettingValue
    public var location: SourceLocation
    public var keyPath: String
}

public enum SettingValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)
    case duration(Duration)
    case list([String])

    public var description: String {
        switch self {
        case .string(let value): return value
        case .int(let value): return String(value)
        case .bool(let value): return String(value)
        case .duration(let value): return DurationParser.format(value)
        case .list(let values): return values.joined(separator: ",")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .duration(let value): try container.encode(DurationParser.format(value))
        case .list(let values): try container.encode(values)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let values = try? container.decode([String].self) {
            self = .list(values)
        } else {
            self = .string(try container.decode(String.self))
        }
    }
}

public struct ServiceSpec: Sendable, Hashable {
    public var name: String
    public var kind: ServiceKind
    public var description: String?
    public var dependsOn: [DependencySpec] = []
    public var ports: [Located<String>] = []
    public var env: [EnvEntry] = []
    public var envFile: Located<String>?
    public var health: HealthSpec?
    public var restart = RestartSpec()
    public var stop = StopSpec()
    public var workingDir: Template?
    public var command: CommandSpec?
    public var settings: [SettingEntry] = []
    /// The service caches what is in the database and must restart after `devstack reset`.
    public var restartAfterReset = false
    /// The service devstack added this one for (a pooler for a postgres service's `pool: true`).
    public var partOf: String?
    public var location: SourceLocation
    public var keyPath: String

    /// Port names, declared or the kind's default.
    public var portNames: [String] { kind.descriptor.portNames(for: self) }

    public func setting(_ key: String) -> SettingValue? { settings.first { $0.key == key }?.value }
}

public struct StackSpec: Sendable {
    public var name: String
    public var file: String
    public var directory: String
    public var description: String?
    public var services: [ServiceSpec]
    /// What `devstack env` and `devstack exec` give other tools.
    public var env: [EnvEntry] = []
    /// `smoke:`: the checks `devstack smoke` runs against a profile's stack.
    public var smoke: [SmokeCheckSpec] = []
    /// Services too broken to build (no or unknown kind; already reported): checks that refer to them stay quiet.
    public var invalidServices: Set<String> = []

    public func service(named name: String) -> ServiceSpec? { services.first { $0.name == name } }
}

public enum PortMode: Sendable, Hashable {
    case base(Int)
    case auto
}

public struct ServiceOverride: Sendable, Hashable {
    public var name: String
    public var env: [EnvEntry] = []
    public var settings: [SettingEntry] = []
    public var restart: RestartSpec?
    /// Ports pinned by name.
    public var ports: [String: Located<Int>] = [:]
    /// Where a remote profile's service lives.
    public var url: Template?
    public var location: SourceLocation
    public var keyPath: String
}

public struct ProfileSpec: Sendable {
    public var name: String
    public var file: String
    public var description: String?
    public var ports: Located<PortMode>?
    public var host: String = "127.0.0.1"
    public var data: DataMode = .persistent
    public var protected: Bool = false
    public var remote: Bool = false
    public var values: [(name: String, value: Template)] = []
    public var secrets: [(name: String, value: Template)] = []
    public var postgres: [SettingEntry] = []
    public var restart: RestartSpec?
    /// Overrides of the stack's top-level `env`.
    public var envOverrides: [EnvEntry] = []
    public var services: [ServiceOverride] = []
    /// What `devstack audit` cannot check, recorded as done (`audit:`).
    public var manualChecks: [ManualCheckRecord] = []
    /// `logs: { max_size, keep }`.
    public var logRotation = LogRotation()
    /// `keep_awake`: hold off sleep while the stack runs; unset, a protected profile that runs here does.
    public var keepAwake: Bool?
    /// `alerts: { webhook: URL }`.
    public var alertWebhook: String?
    /// `disk: { min_free: 1GB }`: below it devstack warns (and alerts); it never deletes data.
    public var minimumFreeDisk = 1 << 30
    /// `backups:`: WAL archiving and scheduled, verified pgBackRest backups of a postgres service.
    public var backups: Located<BackupPolicy>?
    /// `expose: { address, services }`: what other machines may reach, over TLS only.
    public var expose: Located<ExposeSpec>?
    /// `metrics: { port }`.
    public var metricsPort: Int?
    /// `host: { address, port }`: the machine that runs this profile; everywhere else devstack is its client.
    public var machine: Located<HostSpec>?
    /// `environment:` as written; nil: told by the profile's name.
    public var environment: EnvironmentKind?
    public var location: SourceLocation

    public func override(for service: String) -> ServiceOverride? { services.first { $0.name == service } }

    /// `environment:`, else told by the name and whether it runs here.
    public var resolvedEnvironment: EnvironmentKind { environment ?? .inferred(fromProfileName: name, remote: remote) }
}

/// The secrets every stack has; a profile may name more.
public enum BuiltInSecret: String, CaseIterable, Sendable {
    case jwtSecret = "jwt_secret"
    case postgresPassword = "postgres_password"
    case anonKey = "anon_key"
    case serviceRoleKey = "service_role_key"
}

/// The lines of the before-production checklist a tool cannot check.
public enum ManualCheck: String, CaseIterable, Sendable {
    case incidentPlan = "incident_plan"
    case costAlerts = "cost_alerts"
    case securityAudit = "security_audit"

    public var title: String {
        switch self {
        case .incidentPlan: return "Incident response plan"
        case .costAlerts: return "Cost alerts"
        case .securityAudit: return "Security audit"
        }
    }
}

/// Who did a manual check, when, and where the evidence is.
public struct ManualCheckRecord: Sendable, Hashable {
    public var check: ManualCheck
    public var by: String?
    public var on: String?
    public var link: String?
}

/// How each service's log file rotates: past `maxBytes` it becomes `<service>.log.1` (the older
/// ones shift up) and `keep` rotated files are kept. The defaults hold weeks of an ordinary
/// service's output in 60 MiB a service.
public struct LogRotation: Sendable, Codable, Hashable {
    public var maxBytes: Int
    public var keep: Int

    public init(maxBytes: Int = 10 << 20, keep: Int = 5) {
        self.maxBytes = maxBytes
        self.keep = keep
    }
}

/// Sizes as people write them: `512KB`, `10MB`, `1GB` (powers of 1024; `KiB`, `MiB`, `GiB` too), or bytes.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber }
        guard let number = Int(digits), number > 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).uppercased()
        let factors: [String: Int] = ["": 1, "B": 1, "KB": 1 << 10, "KIB": 1 << 10, "MB": 1 << 20, "MIB": 1 << 20, "GB": 1 << 30, "GIB": 1 << 30]
        guard let factor = factors[unit], number <= Int.max / factor else { return nil }
        return number * factor
    }
}

/// A profile's `backups:`: how often full and differential backups are taken, how many full ones
/// are kept, where the repository is and whether it is encrypted (with the profile's `backup_key`).
public struct BackupPolicy: Sendable, Codable, Hashable {
    /// The postgres service backed up; nil: the stack's only one.
    public var service: String?
    public var full: Duration
    /// nil: no differential backups between the full ones.
    public var differential: Duration?
    /// Full backups kept (with what depends on them); older ones are expired after each backup.
    public var retention: Int
    /// The repository folder as written (relative to the project); nil: beside the service's data.
    public var repository: String?
    public var encrypt: Bool

    public init(
        service: String? = nil, full: Duration = .seconds(7 * 86_400), differential: Duration? = .seconds(86_400), retention: Int = 4,
        repository: String? = nil, encrypt: Bool = false
    ) {
        self.service = service
        self.full = full
        self.differential = differential
        self.retention = retention
        self.repository = repository
        self.encrypt = encrypt
    }

    /// `weekly`, `daily`, `hourly`, or a duration such as `12h`.
    public static func interval(_ text: String) -> Duration? {
        switch text.lowercased() {
        case "weekly": return .seconds(7 * 86_400)
        case "daily": return .seconds(86_400)
        case "hourly": return .seconds(3600)
        default:
            if text.hasSuffix("d"), let days = Int(text.dropLast()), days > 0 { return .seconds(days * 86_400) }
            return DurationParser.parse(text).flatMap { $0 >= .seconds(60) ? $0 : nil }
        }
    }
}

/// A profile's `expose:`: the services other machines may reach, and the address (a LAN or
/// Tailscale address) they listen on besides loopback.
public struct ExposeSpec: Sendable, Hashable {
    public var address: String
    public var services: [Located<String>]
}

/// A profile's `host: { address, port }`: the machine that runs it, and the port its control API
/// answers other machines on (over TLS, with a token).
public struct HostSpec: Sendable, Hashable, Codable {
    public static let defaultPort = 55400
    public var address: String
    public var port: Int = defaultPort

    public init(address: String, port: Int = defaultPort) {
        self.address = address
        self.port = port
    }

    /// `address:port`, bracketed for IPv6.
    public var endpoint: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

/// How other machines reach a service of a kind, when its profile exposes it.
public enum ExposureMode: Sendable, Equatable {
    /// The server speaks TLS itself on the address (Postgres: `sslmode=verify-full` works).
    case serverTLS
    /// devstack listens on the address with TLS and passes the bytes to the service on loopback.
    case tlsProxy
    /// Not exposable, and why.
    case unavailable(String)
}

/// Which environment a profile is, for the rules between them: production is never tested against
/// (`exec` and `env` refuse it) and its smoke checks only read.
public enum EnvironmentKind: String, Sendable, Codable, CaseIterable {
    case local, ci, staging, production

    /// A profile that does not say: by its name (`production`/`prod`, `staging`/`stage`, `ci`); else a
    /// remote profile is production (what runs elsewhere is treated as the real thing) and one that runs here local.
    public static func inferred(fromProfileName name: String, remote: Bool) -> EnvironmentKind {
        switch name.lowercased() {
        case "production", "prod": return .production
        case "staging", "stage": return .staging
        case "ci": return .ci
        default: return remote ? .production : .local
        }
    }
}

/// One of the stack's `smoke:` checks: an HTTP request or a SQL query, with what must come back.
public struct SmokeCheckSpec: Sendable, Hashable {
    public enum Probe: Sendable, Hashable {
        case http(method: String, url: Template, status: Int, body: String?)
        /// `database`: the postgres service (nil: the stack's only one).
        case sql(query: String, database: String?)
    }

    public var name: String
    public var probe: Probe
    /// A fragment the answer (HTTP body, or the query's first row) must hold.
    public var contains: String?
    public var location: SourceLocation
    public var keyPath: String
}
