import DevstackCore
import DevstackSystem
import Foundation
import Logging
import ServiceLifecycle

/// What the supervisor launches for a service.
public struct LaunchSpec: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String
    /// Run as this OS user (devstack itself runs as root); nil for devstack's own user.
    public var user: String?

    public init(executable: String, arguments: [String], environment: [String: String], workingDirectory: String, user: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
    }
}

/// How a service runs: as a child process, or hosted inside devstack (the mock inference servers).
public enum ServiceLaunch: Sendable {
    case process(LaunchSpec)
    /// Run until a graceful shutdown is triggered; a thrown error counts as a crash.
    case hosted(any Service)
}

/// Where a driver tells the user things: each service's log, as the runtime keeps it.
public protocol ServiceOutput: Sendable {
    /// A line from devstack itself about the service.
    func note(service: String, _ text: String)
    /// swift-log output of a service hosted inside devstack, into that service's log like a child's output.
    func logger(service: String) -> Logger
}

/// What a driver may use: the plan, the environment, and a way to tell the user things.
public struct DriverContext: Sendable {
    public let plan: Plan
    public let environment: [String: String]
    public let sink: any ServiceOutput

    public init(plan: Plan, environment: [String: String], sink: any ServiceOutput) {
        self.plan = plan
        self.environment = environment
        self.sink = sink
    }

    public func logger(for service: PlannedService) -> Logger { sink.logger(service: service.name) }
}

/// How one kind of service is prepared, launched, checked and set up. The supervisor owns the
/// process; a driver only knows its kind.
public protocol ServiceDriver: Sendable {
    /// Before each launch: prepare what the process needs (folders, files) and say how to run it.
    func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch
    /// The kind's own readiness check (the built-in probe).
    func isReady(_ service: PlannedService, context: DriverContext) async -> Bool
    /// Once ready after a launch: set up what lives inside the service (schemas, migrations, seed).
    /// A failure here fails the service without restarts: restarting would not fix it.
    func initialize(_ service: PlannedService, context: DriverContext) async throws
    /// Once every service of the stack has settled after a start: background work that would take
    /// CPU from services still starting (the reset's clean copies) goes now.
    func stackSettled(_ service: PlannedService, context: DriverContext) async
    /// After the stack stopped: remove what must not outlive it (ephemeral data).
    func cleanUp(_ service: PlannedService, context: DriverContext) async
    /// Back to the clean state (or a snapshot); nil when this kind keeps nothing to reset.
    func reset(_ service: PlannedService, context: DriverContext, to snapshot: String?) async throws -> ResetOutcome?
    /// Before any service of the stack is reset: hold clients (a pooler pauses); after: let them go.
    func pauseForReset(_ service: PlannedService, context: DriverContext) async throws
    func resumeAfterReset(_ service: PlannedService, context: DriverContext) async
    /// Fresh copies of the clean state for test processes; nil when this kind has none to give.
    /// Asked once the service is ready, and the same object is expected for the whole run.
    func leasing(_ service: PlannedService, context: DriverContext) -> (any DatabaseLeasing)?
    /// Backups of the service's data when the profile asks for them (`backups:`); nil otherwise.
    func backups(_ service: PlannedService, context: DriverContext) -> (any DatabaseBackups)?
}

/// A database handed out to one test process: its own copy of the clean state.
public struct LeasedDatabase: Codable, Sendable {
    public var name: String
    public var url: String
    public var milliseconds: Double
    /// A copy was ready (a rename) rather than made for this lease (a clone).
    public var fromPool: Bool

    public init(name: String, url: String, milliseconds: Double, fromPool: Bool) {
        self.name = name
        self.url = url
        self.milliseconds = milliseconds
        self.fromPool = fromPool
    }
}

/// What a kind that keeps databases offers for leases; who holds a lease and for how long is the
/// supervisor's business, not the kind's.
public protocol DatabaseLeasing: Sendable {
    func lease() async throws -> LeasedDatabase
    /// Drops the database, ending its sessions.
    func release(_ name: String) async throws
    /// How long a lease may live when nobody releases it (the profile's setting).
    var maximumAge: Duration { get }
    /// The server is about to stop: drop the copies made ahead and let go of connections.
    func close() async
}

/// What one service's reset did, for the one-line report and `--json`.
public struct ResetOutcome: Codable, Sendable {
    public var service: String
    public var summary: String
    public var milliseconds: Int
    public var details: [String: String]

    public init(service: String, summary: String, milliseconds: Int, details: [String: String]) {
        self.service = service
        self.summary = summary
        self.milliseconds = milliseconds
        self.details = details
    }
}

extension ServiceDriver {
    public func initialize(_ service: PlannedService, context: DriverContext) async throws {}
    public func cleanUp(_ service: PlannedService, context: DriverContext) async {}
    public func stackSettled(_ service: PlannedService, context: DriverContext) async {}
    public func reset(_ service: PlannedService, context: DriverContext, to snapshot: String?) async throws -> ResetOutcome? { nil }
    public func leasing(_ service: PlannedService, context: DriverContext) -> (any DatabaseLeasing)? { nil }
    public func backups(_ service: PlannedService, context: DriverContext) -> (any DatabaseBackups)? { nil }
    public func pauseForReset(_ service: PlannedService, context: DriverContext) async throws {}
    public func resumeAfterReset(_ service: PlannedService, context: DriverContext) async {}

    public func isReady(_ service: PlannedService, context: DriverContext) async -> Bool {
        guard let port = service.primaryPort else { return false }
        return await HealthProbe.tcpConnects(port: port, timeout: .seconds(2))
    }
}

/// The drivers of a run, by kind.
public struct DriverSet: Sendable {
    let drivers: [ServiceKind: any ServiceDriver]

    public init(_ drivers: [ServiceKind: any ServiceDriver]) {
        self.drivers = drivers
    }

    public func driver(for service: PlannedService) throws -> any ServiceDriver {
        guard let driver = drivers[service.kind] else {
            throw SystemError(
                .launchFailed, "\(service.name): devstack cannot run services of kind \(service.kind.rawValue) yet",
                fix: "remove it from the stack for now, or start only the services you need: devstack up SERVICE...")
        }
        return driver
    }
}
