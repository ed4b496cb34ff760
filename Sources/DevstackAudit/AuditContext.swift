import DevstackCore
import DevstackPostgres
import DevstackProject
import Foundation

/// What the checks look at: the resolved plan, the files behind it, the running stack if any.
struct AuditContext: Sendable {
    let plan: Plan
    let project: LoadedProject
    let running: SupervisorRecord?
    let stateDirectory: String
    /// The state folder's secret files and their modes, read before planning (which tightens them).
    let secretFileModes: [(name: String, mode: Int)]

    /// A remote profile (production): only checks that read; nothing is probed, leased or forged.
    var readOnly: Bool { plan.profile.remote }
    /// Staging and production: where rate limits, alerts and backups are required.
    var alwaysOn: Bool { plan.profile.protected || plan.profile.remote }
    var profileFile: String { "profiles/\(plan.profile.name).yaml" }

    /// The stack's database: the Postgres service the auth service names, else the first.
    var database: PlannedService? {
        let postgres = plan.services.filter { $0.kind == .postgres }
        let named = plan.services.first { $0.kind == .auth }?.setting("database")?.description
        return postgres.first { $0.name == named } ?? postgres.first
    }

    var exposedSchemas: [String] {
        if case .list(let schemas)? = database?.setting("exposed_schemas"), !schemas.isEmpty { return schemas }
        return ["public"]
    }

    /// How to reach the database: the running service (its private socket), or a remote profile's URL.
    func databaseEndpoint() throws -> PostgresSession.Endpoint {
        guard let database else { throw AuditProblem("the stack has no postgres service") }
        if readOnly {
            guard let url = database.remoteURL, let endpoint = PostgresSession.Endpoint(url: url) else {
                throw AuditProblem("the profile gives \(database.name) no postgresql:// URL with a user and password")
            }
            return endpoint
        }
        guard running != nil else { throw AuditProblem("the stack is not running: `devstack up --profile \(plan.profile.name)` first") }
        guard let endpoint = PostgresSession.Endpoint.of(database) else { throw AuditProblem("\(database.name) has no port or password") }
        return endpoint
    }

    /// A session on the database; on a remote profile every transaction is read-only.
    func withDatabase<T: Sendable>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        let endpoint = try databaseEndpoint()
        return try await PostgresSession.with(endpoint) { session in
            if readOnly { try await session.execute("set default_transaction_read_only = on") }
            return try await body(session)
        }
    }

    /// The `iss` of the stack's access tokens, for the tokens the probes mint.
    var tokenIssuer: String {
        (plan.services.first { $0.kind == .auth }?.attributes["url"] ?? "http://127.0.0.1") + "/auth/v1"
    }

    /// The stack's secrets that give full access, by what to call them in a finding.
    var powerfulSecrets: [(name: String, value: String)] {
        var secrets: [(String, String)] = []
        for service in plan.services where service.kind == .auth {
            if let key = service.attributes["service_role_key"], !key.isEmpty { secrets.append(("the service role key", key)) }
            if let secret = service.attributes["jwt_secret"], !secret.isEmpty { secrets.append(("the JWT secret", secret)) }
        }
        if let key = plan.secrets["service_role_key"], !key.isEmpty { secrets.append(("the service role key", key)) }
        if let secret = plan.secrets["jwt_secret"], !secret.isEmpty { secrets.append(("the JWT secret", secret)) }
        var seen = Set<String>()
        return secrets.filter { seen.insert($0.1).inserted }
    }
}

/// Why a check could not run, said to the user as "not checked: …".
struct AuditProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Why an error stopped a check, in one line.
func describe(_ error: Error) -> String {
    if let problem = error as? AuditProblem { return problem.description }
    return PostgresSession.message(of: error)
}

/// SQL text literals and identifiers, for the statements the checks build.
enum SQL {
    static func literal(_ text: String) -> String { "'\(text.replacingOccurrences(of: "'", with: "''"))'" }
    static func identifier(_ text: String) -> String { "\"\(text.replacingOccurrences(of: "\"", with: "\"\""))\"" }
    static func array(_ texts: [String]) -> String { "array[\(texts.map(literal).joined(separator: ", "))]::text[]" }
}
