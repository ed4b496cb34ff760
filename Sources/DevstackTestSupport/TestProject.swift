import DevstackCore
import Foundation

/// A project on disk with one stack and any number of profiles, for tests.
public struct TestProject: Sendable {
    public let directory: TemporaryDirectory
    public var path: String { directory.path }

    public init(directory: TemporaryDirectory, stack: String, profiles: [String: String], stackName: String = "default") throws {
        self.directory = directory
        try directory.write("stacks/\(stackName)/stack.yaml", stack)
        for (name, text) in profiles { try directory.write("profiles/\(name).yaml", text) }
    }

    /// Secrets fixed for tests, so plans are reproducible without a secret store.
    public static let fixedSecrets = ResolvedSecrets(
        values: [
            "jwt_secret": String(repeating: "s", count: 40), "postgres_password": "pg-password",
            "anon_key": "anon.key.value", "service_role_key": "service.role.key",
        ],
        origins: [:])

    /// Loads and plans without touching `.devstack`; `auto` ports come from `firstAutoPort` upwards.
    public func plan(
        stack: String = "default", profile: String = "local", environment: [String: String] = [:],
        secrets: ResolvedSecrets = TestProject.fixedSecrets, firstAutoPort: Int = 47000, instance: String? = nil, reach: RemoteReach? = nil
    ) throws -> Plan {
        let project = try ProjectLoader.load(projectDirectory: path, stack: stack, profile: profile)
        var merged = secrets
        for (name, entry) in try Planner.requestedSecrets(project: project, environment: environment) {
            merged.values[name] = entry.value
            merged.origins[name] = entry.origin
        }
        let inputs = PlanInputs(
            project: project, environment: environment, secrets: merged,
            paths: PlanPaths(
                projectDirectory: path, binDirectory: "/opt/devstack/bin", runtimeRoot: "/tmp/devstack-test-runtime", instance: instance),
            portAllocator: { avoiding in (firstAutoPort...65535).first { !avoiding.contains($0) } }, reach: reach)
        return try Planner(inputs: inputs).plan()
    }
}
