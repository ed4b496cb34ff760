import DevstackCore
import DevstackSupervisor
import Foundation

/// The rules between environments that the command line enforces: tests run against staging, never
/// against production.
enum EnvironmentRules {
    /// `exec` and `env` refuse a production profile: its environment never reaches local tools.
    static func refuseProduction(_ plan: Plan, command: String) throws {
        guard plan.profile.environment == .production else { return }
        throw SupervisorError(
            .refused, "profile '\(plan.profile.name)' is production: devstack \(command) never hands its environment to local tools",
            fix: command == "env"
                ? "test against staging (devstack env --profile staging); for what a browser may see: devstack env --profile \(plan.profile.name) --public"
                : "test against staging: devstack exec --profile staging -- …; production is reached by devstack smoke and devstack migrate only")
    }

    /// A remote profile's service key, JWT secret, or database password (bare or in a URL).
    static func isRemoteSecret(_ value: String, plan: Plan) -> Bool {
        guard plan.profile.remote || plan.profile.reach != nil, !value.isEmpty else { return false }
        let secrets = ["service_role_key", "jwt_secret", "postgres_password"].compactMap { plan.secrets[$0] }.filter { !$0.isEmpty }
        let passwords = plan.services.compactMap { $0.remoteURL.flatMap { URLComponents(string: $0)?.password } }
        return secrets.contains(value) || passwords.contains { value.contains($0) } || value.hasPrefix("postgres://")
            || value.hasPrefix("postgresql://")
    }

    /// What a browser may see: an http(s) URL without credentials in it, or the anon key.
    static func isPublic(_ value: String, plan: Plan) -> Bool {
        if let anon = plan.secrets["anon_key"], !anon.isEmpty, value == anon { return true }
        guard let url = URLComponents(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else { return false }
        return url.user == nil && url.password == nil
    }
}
