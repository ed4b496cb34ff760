import ArgumentParser
import AuthEmulator
import DevstackCore
import DevstackDrivers
import DevstackProject
import DevstackSupervisor
import Foundation

/// `devstack auth …`: the auth emulator's keys.
struct Auth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Manage the auth emulator's signing keys.", subcommands: [RotateKeys.self])
}

/// Adds a new signing key to each asymmetric auth service and signs with it from now on; the old
/// keys stay in the JWKS until the tokens they signed have expired. A running service is restarted
/// to take the new key.
struct RotateKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-keys", abstract: "Add a new signing key; the old ones stay published until their tokens expire.")

    @OptionGroup var project: ProjectOptions
    @Option(help: "Only this auth service (default: every auth service with signing_keys RS256 or ES256).") var service: String?

    func run() async throws {
        let (plan, record) = try await project.workspace().planMatchingRunningStack(environment: project.environment)
        guard !plan.profile.remote else {
            throw ProjectError(
                .refused, "profile '\(plan.profile.name)' is remote: its auth service's keys are not devstack's to rotate",
                fix: "rotate them where that service runs")
        }
        let auth = plan.services.filter { $0.kind == .auth && (service == nil || $0.name == service) }
        if let service, auth.isEmpty {
            throw SupervisorError(
                .unknownService, "no auth service '\(service)' in stack '\(plan.stack)'",
                fix: "auth services: \(plan.services.filter { $0.kind == .auth }.map(\.name).joined(separator: ", "))")
        }
        let rotating = auth.compactMap { service in
            service.setting("signing_keys").flatMap { SigningKeyRing.Algorithm(rawValue: $0.description) }.map { (service, $0) }
        }
        guard !rotating.isEmpty else {
            throw ProjectError(
                .refused, "no auth service here signs with a key pair: tokens are signed with the stack's JWT secret",
                fix: "set `signing_keys: RS256` (or ES256) on the auth service in the stack file")
        }
        for (service, algorithm) in rotating {
            let file = AuthDriver.signingKeysFile(service, plan: plan)
            var ring = try SigningKeyRing.load(file) ?? SigningKeyRing(keys: [])
            try ring.rotate(to: algorithm)
            try ring.save(file)
            Console.standardOutput.write("devstack: \(service.name) signs with key \(ring.current?.kid ?? "?") (\(algorithm.rawValue))\n")
            if let record {
                let control = ControlClient(socket: record.controlSocket)
                try await control.service(service.name, "restart")
                try await waitUntilHealthy(service.name, control)
                Console.standardOutput.write("devstack: restarted \(service.name) to take the new key\n")
            }
        }
    }

    /// The restart returns once the service is launched; tokens signed with the new key exist only once it answers.
    private func waitUntilHealthy(_ name: String, _ control: ControlClient) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let phase = try await control.status().services.first { $0.name == name }?.phase
            if phase == .healthy || phase == .running { return }
            if phase == .failed || phase == .exited {
                throw SupervisorError(.serviceFailed, "\(name) did not come back after the restart", fix: "see `devstack logs \(name)`")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw SupervisorError(.serviceFailed, "\(name) was not healthy within 30s of the restart", fix: "see `devstack logs \(name)`")
    }
}
