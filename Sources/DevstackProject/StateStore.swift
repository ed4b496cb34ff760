import DevstackCore
import DevstackSystem
import Foundation

/// What a running supervisor records in `.devstack/<profile>/state.json`, so other commands and a
/// later run after a crash can find it and everything it started.
public struct SupervisorRecord: Codable, Sendable {
    public struct Child: Codable, Sendable {
        public var pid: Int32
        /// The process group: the child's pid, since every child leads its own group.
        public var processGroup: Int32
        public var startTime: UInt64?
        public var startedAt: Date
        public var ports: [String: Int]

        public init(pid: Int32, processGroup: Int32, startTime: UInt64?, startedAt: Date, ports: [String: Int]) {
            self.pid = pid
            self.processGroup = processGroup
            self.startTime = startTime
            self.startedAt = startedAt
            self.ports = ports
        }
    }

    public var pid: Int32
    public var startTime: UInt64?
    public var startedAt: Date
    public var stack: String
    public var profile: String
    public var detached: Bool
    public var controlSocket: String
    public var children: [String: Child]
    /// The ports of every service of the run, hosted ones included, by service and port name.
    public var ports: [String: [String: Int]]?
    /// The run's sockets and throw-away data, for the clean-up after a crash.
    public var runtimeDirectory: String?
    /// The lease API's URL on loopback TCP (a URL-named key would not survive the snake_case round trip), its token in the path (the file is the owner's alone, 0600).
    public var leaseEndpoint: String?

    public init(
        pid: Int32, startTime: UInt64?, startedAt: Date, stack: String, profile: String, detached: Bool, controlSocket: String,
        children: [String: Child], ports: [String: [String: Int]]?, runtimeDirectory: String?, leaseEndpoint: String? = nil
    ) {
        self.pid = pid
        self.startTime = startTime
        self.startedAt = startedAt
        self.stack = stack
        self.profile = profile
        self.detached = detached
        self.controlSocket = controlSocket
        self.children = children
        self.ports = ports
        self.runtimeDirectory = runtimeDirectory
        self.leaseEndpoint = leaseEndpoint
    }

    /// What `env` and `exec` must wire to while this run is up.
    public var runningPorts: [String: [String: Int]] { ports ?? children.mapValues(\.ports) }

    /// What the running supervisor adds to the stack's env: where test processes lease databases.
    public var runtimeEnv: [PlannedValue] {
        guard let leaseEndpoint else { return [] }
        return [
            PlannedValue(name: "DEVSTACK_LEASE_URL", value: leaseEndpoint, origin: ValueOrigin(.generated, detail: "the running stack's lease API"))
        ]
    }
}

/// The state folder of one profile: lock, state file, control socket, logs.
public struct StateStore: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var stateFile: String { "\(directory)/state.json" }
    public var lockFile: String { "\(directory)/supervisor.lock" }
    public var logDirectory: String { "\(directory)/logs" }

    /// The control socket lives in the state folder unless that path is too long for a Unix socket.
    public var controlSocket: String {
        let preferred = "\(directory)/control.sock"
        if preferred.utf8.count < 100 { return preferred }
        return "\(RuntimeFolder.root())/\(StableHash.of(directory)).sock"
    }

    public func load() -> SupervisorRecord? {
        guard let data = FileManager.default.contents(atPath: stateFile) else { return nil }
        return try? Self.decoder.decode(SupervisorRecord.self, from: data)
    }

    public func save(_ record: SupervisorRecord) throws {
        // Not durable: the record describes running processes, which a power loss takes with it.
        if let failure = StateDirectory.replace(stateFile, with: try Self.encoder.encode(record), durable: false) {
            throw ProjectError(.stateDirectory, failure, fix: "check the permissions of \(directory)")
        }
    }

    public func remove() {
        unlink(stateFile)
    }

    /// The running supervisor, if any: the lock is held and the recorded pid is that process.
    public func running() -> SupervisorRecord? {
        guard let record = load(), ProjectLock.isHeld(lockFile) else { return nil }
        return ProcessTable.isSameProcess(record.pid, startTime: record.startTime) ? record : nil
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}

/// An exclusive `flock` held for the supervisor's lifetime; the kernel drops it when the process dies.
public final class ProjectLock: @unchecked Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// nil when another process holds it.
    public static func acquire(_ path: String) throws -> ProjectLock? {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ProjectError(
                .stateDirectory, "cannot open \(path): \(String(cString: strerror(errno)))",
                fix: "check the permissions of the project's .devstack folder")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            close(descriptor)
            return nil
        }
        return ProjectLock(descriptor: descriptor)
    }

    public static func isHeld(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return true
    }

    public func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
