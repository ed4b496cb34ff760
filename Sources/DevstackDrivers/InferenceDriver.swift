import DevstackCore
import DevstackDriverKit
import DevstackSystem
import Foundation
import MockInference

/// `kind: inference`: a mock server hosted inside devstack on the service's port.
public final class InferenceDriver: ServiceDriver, @unchecked Sendable {
    private let lock = NSLock()
    private var servers: [String: MockInferenceServer] = [:]

    public init() {}

    public func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        let server = MockInferenceServer(settings: InferenceSettings(service: service))
        lock.withLock { servers[service.name] = server }
        guard let port = service.primaryPort else {
            throw SystemError(.launchFailed, "\(service.name) has no port", fix: "give it one under ports:")
        }
        return .hosted(server.application(host: context.plan.profile.host, port: port, logger: context.logger(for: service)))
    }

    public func isReady(_ service: PlannedService, context: DriverContext) async -> Bool {
        await HealthProbe.healthRouteAnswers(service)
    }

    public func reset(_ service: PlannedService, context: DriverContext, to snapshot: String?) async throws -> ResetOutcome? {
        guard let server = lock.withLock({ servers[service.name] }) else { return nil }
        let started = ContinuousClock.now
        let (requests, faults) = server.state.reset()
        let elapsed = ContinuousClock.now - started
        return ResetOutcome(
            service: service.name, summary: "journal (\(requests) requests) and faults (\(faults)) cleared",
            milliseconds: Int(elapsed.milliseconds),
            details: ["requests": String(requests), "faults": String(faults)])
    }
}
