import DevstackCore
import DevstackSystem
import Foundation

/// One project, stack and profile: where its files and state are, and how its plan is made.
public struct Workspace: Sendable {
    public let projectDirectory: String
    public let stack: String
    public let profile: String
    public let paths: PlanPaths

    public var stateDirectory: String { paths.stateDirectory(profile) }

    /// `projectDirectory` nil: walk up from `currentDirectory` to the folder holding `stacks/`.
    public init(
        projectDirectory: String?, stack: String, profile: String, currentDirectory: String, binDirectory: String, instance: String? = nil
    ) throws {
        if let instance, instance.range(of: #"^[a-z0-9][a-z0-9_-]{0,39}$"#, options: .regularExpression) == nil {
            throw ConfigError(
                code: .invalidConfiguration, message: "instance name '\(instance)' is not usable",
                fix: "use 1 to 40 lowercase letters, digits, '-' or '_', starting with a letter or digit")
        }
        let resolved: String
        if let projectDirectory {
            resolved = URL(fileURLWithPath: projectDirectory, relativeTo: URL(fileURLWithPath: currentDirectory)).standardizedFileURL.path
            // Checked before anything is created: a mistyped path must not leave folders behind.
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isFolder), isFolder.boolValue else {
                throw ConfigError(
                    code: .projectNotFound, message: "--project-dir \(resolved) does not exist or is not a folder",
                    fix: "pass the folder that holds stacks/ and profiles/, or run `devstack init` in a new folder first")
            }
        } else if let found = ProjectLoader.findProjectDirectory(from: currentDirectory) {
            resolved = found
        } else {
            throw ConfigError(
                code: .projectNotFound, message: "no devstack project here: no 'stacks' folder in \(currentDirectory) or above",
                fix: "run `devstack init` to create one, or pass --project-dir")
        }
        self.projectDirectory = resolved
        self.stack = stack
        self.profile = profile
        self.paths = PlanPaths(projectDirectory: resolved, binDirectory: binDirectory, runtimeRoot: RuntimeFolder.root(), instance: instance)
    }

    public func load() throws -> LoadedProject {
        try ProjectLoader.load(projectDirectory: projectDirectory, stack: stack, profile: profile)
    }

    /// Files → resolved plan: secrets from the store, free ports for `auto`, the ports a running stack holds.
    /// `persistSecrets: false` generates missing secrets in memory only (validation writes nothing).
    public func plan(environment: [String: String], runningPorts: [String: [String: Int]] = [:], persistSecrets: Bool = true) async throws -> Plan {
        let project = try load()
        let requested = try Planner.requestedSecrets(project: project, environment: environment)
        let secrets = try await SecretStore(stateDirectory: stateDirectory).resolve(
            requested: requested, remote: project.profile.remote, persist: persistSecrets,
            authServices: project.stack.services.filter { $0.kind == .auth }.map(\.name), backupKey: project.profile.backups?.value.encrypt == true)
        let inputs = PlanInputs(
            project: project, environment: environment, secrets: secrets, paths: paths,
            portAllocator: { Ports.freePort(avoiding: $0) }, runningPorts: runningPorts)
        let plan = try Planner(inputs: inputs).plan()
        // Rule 2: what production was given is fingerprinted (never stored), so files can be checked for it.
        if persistSecrets {
            try? SecretFingerprints().record(
                SecretFingerprints.secrets(of: plan, origins: secrets.origins), profile: plan.profile.name, project: projectDirectory)
        }
        return plan
    }

    /// The plan as the running stack of this profile sees it (its `auto` ports), and that stack, if any.
    public func planMatchingRunningStack(environment: [String: String]) async throws -> (Plan, SupervisorRecord?) {
        let record = StateStore(directory: stateDirectory).running()
        return (try await plan(environment: environment, runningPorts: record?.runningPorts ?? [:]), record)
    }

    /// What `env` and `exec` hand over: the stack's env (or a service's) wired to the running stack's
    /// ports, and for the stack's env what only the running supervisor knows (`DEVSTACK_LEASE_URL`).
    /// Returns the plan too, for the rules that depend on the profile.
    public func wiredEnv(service: String?, environment: [String: String]) async throws -> (plan: Plan, values: [PlannedValue]) {
        let (plan, running) = try await planMatchingRunningStack(environment: environment)
        return (plan, try plan.wiredEnv(service: service) + (service == nil ? running?.runtimeEnv ?? [] : []))
    }

    /// The folder holding the running executable: `${devstack.bin_dir}`.
    public static var executableDirectory: String {
        URL(fileURLWithPath: BinaryDiscovery.runningExecutable).deletingLastPathComponent().path
    }
}
