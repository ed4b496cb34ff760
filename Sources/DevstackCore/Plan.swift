import Foundation

/// Where a resolved value came from, for `devstack config --explain`.
public struct ValueOrigin: Sendable, Codable, Hashable, CustomStringConvertible {
    public enum Source: String, Sendable, Codable {
        case stack, profile, environment, generated, `default`, derived
    }

    public var source: Source
    public var location: SourceLocation?
    public var detail: String?

    public init(_ source: Source, location: SourceLocation? = nil, detail: String? = nil) {
        self.source = source
        self.location = location
        self.detail = detail
    }

    public var description: String {
        var text = source.rawValue
        if let location { text += " \(location)" }
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        return text
    }
}

public struct PlannedPort: Sendable, Codable, Hashable {
    public var name: String
    public var number: Int
    public var origin: ValueOrigin
}

public struct PlannedValue: Sendable, Codable, Hashable {
    public var name: String
    public var value: String
    public var origin: ValueOrigin

    public init(name: String, value: String, origin: ValueOrigin) {
        self.name = name
        self.value = value
        self.origin = origin
    }
}

public struct PlannedSetting: Sendable, Codable, Hashable {
    public var name: String
    public var value: SettingValue
    public var origin: ValueOrigin
}

public struct PlannedHealth: Sendable, Codable, Hashable {
    public enum Probe: Sendable, Codable, Hashable {
        case tcp(port: Int)
        case http(port: Int, path: String)
        case exec(command: [String])
        /// The service kind's own readiness check (Postgres answers `select 1`, auth and inference answer HTTP).
        case builtIn(kind: ServiceKind, port: Int)
    }

    public var probe: Probe
    public var intervalMs: Int
    public var timeoutMs: Int
    public var retries: Int
    public var startPeriodMs: Int
}

public struct PlannedRestart: Sendable, Codable, Hashable {
    public var policy: RestartPolicy
    public var initialBackoffMs: Int
    public var maxBackoffMs: Int
    public var maxRestarts: Int
    public var windowMs: Int
    public var origin: ValueOrigin
}

public struct PlannedStop: Sendable, Codable, Hashable {
    public var signal: StopSignal
    public var timeoutMs: Int
    /// Sent when the first signal did not stop it in time, before SIGKILL (Postgres: SIGQUIT).
    public var escalation: StopSignal?
}

public struct PlannedDependency: Sendable, Codable, Hashable {
    public var service: String
    public var condition: DependencyCondition

    public init(service: String, condition: DependencyCondition) {
        self.service = service
        self.condition = condition
    }
}

public struct PlannedService: Sendable, Codable {
    public var name: String
    public var kind: ServiceKind
    public var ports: [PlannedPort]
    public var env: [PlannedValue]
    /// argv for `process` services; built-in kinds are launched by the runtime.
    public var command: [String]?
    public var workingDirectory: String
    public var health: PlannedHealth?
    public var restart: PlannedRestart
    public var stop: PlannedStop
    public var dependsOn: [PlannedDependency]
    public var settings: [PlannedSetting]
    /// What `${name.attribute}` gives: url, host, port, keys …
    public var attributes: [String: String]
    /// Set in remote profiles: the service runs elsewhere and devstack only knows its address.
    public var remoteURL: String?
    /// Restarted after `devstack reset`.
    public var restartAfterReset: Bool
    /// Deterministic answers of an inference service, in file and entry order.
    public var fixtures: [InferenceFixture] = []
    /// The service devstack added this one for: started and stopped with it.
    public var partOf: String?

    public func port(named name: String) -> Int? { ports.first { $0.name == name }?.number }
    public var primaryPort: Int? { ports.first?.number }
    public func setting(_ name: String) -> SettingValue? { settings.first { $0.name == name }?.value }
    public var environment: [String: String] { Dictionary(env.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }) }
}

public struct ProfileSummary: Sendable, Codable {
    public var name: String
    public var file: String
    public var description: String?
    public var ports: String
    public var host: String
    public var data: DataMode
    public var protected: Bool
    public var remote: Bool
    public var values: [PlannedValue]
    public var logRotation: LogRotation
    /// The machine is kept from sleeping while the stack runs.
    public var keepAwake: Bool
    public var alertWebhook: String?
    public var minimumFreeDisk: Int
    /// With the service resolved (the stack's only postgres service when the profile names none).
    public var backups: BackupPolicy?
    public var exposure: PlannedExposure?
    /// `metrics: { port }`: `/metrics` and `/healthz` on 127.0.0.1 at this port too.
    public var metricsPort: Int?
    /// Which environment this is (`environment:`, else told by the profile's name).
    public var environment: EnvironmentKind
    /// `host: { address, port }`: the machine that runs this profile.
    public var machine: HostSpec?
    /// Set when this plan is a client's view of a stack that runs on `machine`: its services are
    /// reached over TLS at the exposed address, with the secrets the host handed over.
    public var reach: RemoteReach?
}

/// How a client machine reaches a stack that runs elsewhere: the host's exposed address, and the
/// certificate authority (stored at login) that its TLS is checked against.
public struct RemoteReach: Sendable, Codable, Hashable {
    public var address: String
    public var authorityFile: String

    public init(address: String, authorityFile: String) {
        self.address = address
        self.authorityFile = authorityFile
    }
}

/// A smoke check with its URL resolved for the profile.
public struct PlannedSmokeCheck: Sendable, Codable, Hashable {
    public var name: String
    /// `GET`, `HEAD`, … for an HTTP check; nil for a query.
    public var method: String?
    public var url: String?
    public var status: Int?
    public var body: String?
    public var query: String?
    /// The postgres service a query runs on.
    public var database: String?
    public var contains: String?
    public var location: SourceLocation?

    public var isReadOnly: Bool { query != nil || ["GET", "HEAD"].contains(method ?? "") }
}

/// What other machines may reach, on which address, and the TLS files (the profile's own
/// certificate authority and the server certificate it signs) that the runtime keeps in place.
public struct PlannedExposure: Sendable, Codable, Hashable {
    public var address: String
    public var services: [String]
    /// Other names the server certificate carries: the profile's `host:` address, which clients of
    /// its control API connect to.
    public var otherNames: [String] = []
    /// `.devstack/<profile>/tls/`: `ca.pem` (what clients trust), `ca-key.pem`, `server.pem`, `server-key.pem`.
    public var directory: String

    public init(address: String, services: [String], directory: String, otherNames: [String] = []) {
        self.address = address
        self.services = services
        self.directory = directory
        self.otherNames = otherNames
    }

    public var authorityFile: String { "\(directory)/ca.pem" }
    public var authorityKeyFile: String { "\(directory)/ca-key.pem" }
    public var certificateFile: String { "\(directory)/server.pem" }
    public var keyFile: String { "\(directory)/server-key.pem" }

    public func exposes(_ service: String) -> Bool { services.contains(service) }
}

/// Everything the runtime needs, fully resolved: the one thing that flows from files to processes.
public struct Plan: Sendable, Codable {
    public var stack: String
    public var profile: ProfileSummary
    public var projectDirectory: String
    public var stackDirectory: String
    public var stateDirectory: String
    /// The `--instance` this plan is for; nil for the profile's own stack.
    public var instance: String?
    /// Sockets and throw-away data of this run; removed when the stack stops.
    public var runtimeDirectory: String
    /// In start order.
    public var services: [PlannedService]
    /// The stack's `smoke:` checks, resolved for this profile.
    public var smoke: [PlannedSmokeCheck] = []
    /// Services in each layer depend only on earlier layers, so a layer starts in parallel.
    public var startLayers: [[String]]
    /// What `devstack env` and `devstack exec` give other tools.
    public var env: [PlannedValue]
    /// Passed to every Postgres server as `-c name=value`.
    public var postgresSettings: [PlannedValue]
    /// The stack's secrets by name: the runtime needs them, and output masks them.
    public var secrets: [String: String]

    public func service(named name: String) -> PlannedService? { services.first { $0.name == name } }

    public var environment: [String: String] { Dictionary(env.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }) }

    /// The stack's env for tools, or one service's env.
    public func wiredEnv(service name: String?) throws -> [PlannedValue] {
        guard let name else { return env }
        guard let service = service(named: name) else {
            throw ConfigError(
                code: .invalidConfiguration, message: "stack '\(stack)' has no service '\(name)'",
                fix: Suggestion.didYouMean(name, among: services.map(\.name), noun: "services"))
        }
        return service.env
    }

    /// `names` and everything they depend on, in start order.
    public func closure(of names: [String]) -> [PlannedService] {
        var wanted = Set<String>()
        func visit(_ name: String) {
            guard wanted.insert(name).inserted, let service = service(named: name) else { return }
            service.dependsOn.forEach { visit($0.service) }
            services.filter { $0.partOf == name }.forEach { visit($0.name) }
        }
        names.forEach(visit)
        return services.filter { wanted.contains($0.name) }
    }
}
