import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import Foundation

/// A project with a stack, run by the real `devstack up` in the foreground, for tests.
/// `cleanUp()` (call it in `defer`) kills whatever is left and removes the folder.
public final class StackUnderTest: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let process: Process
    public let outputPath: String
    public var path: String { directory.path }
    public var store: StateStore { StateStore(directory: "\(path)/.devstack/\(profileName)") }
    /// The profile `up` runs: `--profile NAME` among the arguments, else local.
    public let profileName: String

    public convenience init(
        stack: String, profile: String = "ports: auto\n", arguments: [String] = [], environment: [String: String] = [:], files: [String: String] = [:]
    ) throws {
        let directory = try TemporaryDirectory(prefix: "devstack-stack")
        try directory.write("stacks/default/stack.yaml", stack)
        try directory.write("profiles/local.yaml", profile)
        for (path, contents) in files { try directory.write(path, contents) }
        try self.init(directory: directory, arguments: arguments, environment: environment)
    }

    /// Runs `devstack up` again in the same project (after the previous run ended).
    public func restart(arguments: [String] = []) throws -> StackUnderTest {
        try StackUnderTest(directory: directory, arguments: arguments, environment: environment, keepsDirectory: true)
    }

    private let environment: [String: String]
    /// A restarted run shares the folder; only the first removes it.
    private let keepsDirectory: Bool

    public init(directory: TemporaryDirectory, arguments: [String], environment: [String: String] = [:], keepsDirectory: Bool = false) throws {
        self.directory = directory
        self.environment = environment
        self.keepsDirectory = keepsDirectory
        profileName = arguments.firstIndex(of: "--profile").flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil } ?? "local"
        outputPath = "\(directory.path)/up.out"
        if !FileManager.default.fileExists(atPath: outputPath) { _ = FileManager.default.createFile(atPath: outputPath, contents: nil) }
        process = Process()
        process.executableURL = URL(fileURLWithPath: DevstackBinary.path)
        process.arguments = ["up"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.environment = ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1"].merging(environment) { $1 }) { $1 }
        let output = FileHandle(forWritingAtPath: outputPath)
        _ = try? output?.seekToEnd()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var output: String { directory.read("up.out") ?? "" }

    public func log(_ service: String) -> String { directory.read(".devstack/\(profileName)/logs/\(service).log") ?? "" }

    /// The live status, once the supervisor answers.
    public func status() async -> StatusReport? {
        guard let record = store.load() else { return nil }
        return try? await ControlClient(socket: record.controlSocket).status()
    }

    /// Polls until `condition` holds; fails the wait after `timeout` with what was last seen.
    @discardableResult
    public func waitFor(
        _ what: String, timeout: Duration = .seconds(60), _ condition: (StatusReport) -> Bool
    ) async throws -> StatusReport {
        let deadline = ContinuousClock.now + timeout
        var last: StatusReport?
        while ContinuousClock.now < deadline {
            if let report = await status() {
                last = report
                if condition(report) { return report }
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw StackTestError(
            message: "waiting for \(what): \(last.map { $0.table() } ?? "no status")\noutput:\n\(output)")
    }

    /// Once the postgres service (the stack's first) is healthy: how to reach it with the stack's credentials.
    public func postgresEndpoint(database: String = "app") async throws -> PostgresSession.Endpoint {
        let report = try await waitFor("db healthy") { $0.services.first?.phase == .healthy }
        let secrets = try JSONDecoder().decode([String: String].self, from: Data((directory.read(".devstack/\(profileName)/secrets") ?? "").utf8))
        guard let port = report.services.first?.ports["postgres"], let password = secrets["postgres_password"] else {
            throw StackTestError(message: "no postgres port or password")
        }
        return PostgresSession.Endpoint(host: "127.0.0.1", port: port, user: "postgres", password: password, database: database)
    }

    public func service(_ name: String, in report: StatusReport) -> ServiceStatus? { report.services.first { $0.name == name } }

    /// Sends `signal` to devstack and waits for it to exit.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(60)) async throws -> Int32 {
        kill(process.processIdentifier, signal)
        return try await waitForExit(timeout: timeout)
    }

    public func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw StackTestError(message: "devstack did not exit\n\(output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Runs another devstack command in this project.
    public func devstack(_ arguments: [String], environment: [String: String] = [:]) throws -> DevstackBinary.Result {
        try DevstackBinary.run(arguments, in: path, environment: environment)
    }

    /// Kills everything this test may have left: devstack, its guardian, every recorded process group.
    public func cleanUp() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if let record = store.load() {
            for child in record.children.values { killpg(child.processGroup, SIGKILL) }
        }
        for pid in ProcessTree.processes(whereArgumentsContain: path) { kill(pid, SIGKILL) }
        if !keepsDirectory { directory.remove() }
    }
}

public struct StackTestError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) { self.message = message }
}

/// Finding processes, for tests that check nothing was left behind.
public enum ProcessTree {
    /// Pids of processes whose command line or working folder mentions `text`.
    public static func processes(whereArgumentsContain text: String) -> [Int32] {
        ProcessTable.allProcesses().filter { pid in
            guard pid != getpid(), ProcessTable.isAlive(pid) else { return false }
            return ProcessTable.commandLine(of: pid)?.contains(text) == true || ProcessTable.workingDirectory(of: pid)?.hasPrefix(text) == true
        }
    }

    /// Those processes once any killed ones have had a moment to go (a SIGKILLed process on a loaded
    /// machine takes a while to exit): empty unless something really outlived what it belonged to.
    public static func remaining(whereArgumentsContain text: String, within patience: Duration = .seconds(10)) async -> [Int32] {
        let deadline = ContinuousClock.now + patience
        var found = processes(whereArgumentsContain: text)
        while !found.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            found = processes(whereArgumentsContain: text)
        }
        return found
    }

    /// The pid of a child of `parent` whose command line contains `text`.
    public static func child(of parent: Int32, containing text: String) -> Int32? {
        ProcessTable.allProcesses().first { pid in
            ProcessTable.parent(of: pid) == parent && ProcessTable.commandLine(of: pid)?.contains(text) == true
        }
    }

    public static func groupIsAlive(_ group: Int32) -> Bool { ProcessTable.groupIsAlive(group) }
}
