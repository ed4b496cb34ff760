import AsyncHTTPClient
import DevstackCore
import DevstackSupervisor
import Foundation

/// `kind: auth`: devstack runs itself (`devstack __auth-server`) with the service's configuration.
public struct AuthDriver: ServiceDriver {
    public init() {}

    public func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        let configuration = try AuthConfiguration(service: service, plan: context.plan)
        let folder = "\(context.plan.stateDirectory)/auth"
        try StateDirectory.create(folder)
        let file = "\(folder)/\(service.name).json"
        // Holds the JWT secret and the database password: readable by devstack's user only, from its first byte.
        if let failure = StateDirectory.replace(file, with: try JSONEncoder().encode(configuration), durable: false) {
            throw SupervisorError(.stateDirectory, "\(failure) (for \(service.name))", fix: "check that \(folder) is writable")
        }
        return .process(
            LaunchSpec(
                executable: Workspace.executablePath, arguments: ["__auth-server", "--config", file],
                environment: context.environment.merging(service.environment) { $1 }, workingDirectory: context.plan.projectDirectory))
    }

    public func isReady(_ service: PlannedService, context: DriverContext) async -> Bool {
        await HealthProbe.healthRouteAnswers(service)
    }

    /// Users live in Postgres (its reset wipes them); here the inbox and rate-limit counters go.
    public func reset(_ service: PlannedService, context: DriverContext, to snapshot: String?) async throws -> ResetOutcome? {
        guard let port = service.primaryPort else { return nil }
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: "http://\(service.attributes["host"] ?? "127.0.0.1"):\(port)/__devstack/reset")
        request.method = .POST
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 16)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Int] ?? [:]
        let messages = object["messages"] ?? 0
        return ResetOutcome(
            service: service.name, summary: "inbox (\(messages) messages) and rate limits cleared",
            milliseconds: Int((ContinuousClock.now - started).milliseconds), details: ["messages": String(messages)])
    }
}
