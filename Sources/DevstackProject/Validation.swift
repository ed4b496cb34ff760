import DevstackCore
import DevstackSystem
import Foundation

/// `devstack validate`: plans the stack under each profile without writing anything.
public enum Validation {
    public struct Report: Sendable {
        public var summary: String
        public var error: ConfigError?
    }

    public static func run(
        project: (_ profile: String) throws -> Workspace, profiles: [String], environment: [String: String]
    ) async throws -> Report {
        var lines: [String] = []
        var diagnostics: [ConfigDiagnostic] = []
        for profile in profiles {
            do {
                let plan = try await project(profile).plan(environment: environment, persistSecrets: false)
                lines.append("ok: \(summary(of: plan))")
            } catch let error as ConfigError {
                diagnostics += error.diagnostics
                let count = error.diagnostics.count
                lines.append("invalid: stack under profile '\(profile)': \(count) error\(count == 1 ? "" : "s")")
            }
        }
        let error = diagnostics.isEmpty ? nil : ConfigError(diagnostics: diagnostics)
        return Report(summary: error == nil || profiles.count > 1 ? lines.joined(separator: "\n") + "\n" : "", error: error)
    }

    static func summary(of plan: Plan) -> String {
        let ports = plan.services.flatMap(\.ports).map(\.number)
        let portText: String
        if plan.profile.remote {
            portText = "remote: nothing runs here"
        } else if plan.profile.ports == "auto" {
            portText = "ports chosen at start"
        } else if let low = ports.min(), let high = ports.max() {
            portText = "ports \(low)–\(high)"
        } else {
            portText = "no ports"
        }
        let services = plan.services.map(\.name).joined(separator: ", ")
        return "stack '\(plan.stack)', profile '\(plan.profile.name)': \(plan.services.count) services (\(services)), \(portText)"
    }
}
