import DevstackAudit
import DevstackCore
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import Foundation

extension HostedActions {
    /// What a host does for its clients: smoke checks and migrations on the stack running here.
    static let standard = HostedActions(
        smoke: { plan, names in
            let checks = try Smoke.chosen(names, of: plan)
            let results = await SmokeRunner.run(plan, checks: checks, running: StateStore(directory: plan.stateDirectory).running())
            return try StateStore.encoder.encode(results)
        },
        appliedMigrations: { plan in
            try await PostgresSession.with(try hostDatabase(plan)) { try await SupabaseMigrations.applied(on: $0) }
        },
        migrate: { plan, files in
            try await PostgresSession.with(try hostDatabase(plan)) { session in
                try await Migrator(sent: files.map { ($0.name, $0.contents) }).apply(on: session)
            }
        },
        snapshot: { plan, action in
            let service = try PostgresTools.service(in: plan, named: nil)
            guard let database = DatabaseReset(service: service, plan: plan) else {
                throw PostgresServiceError(.connection, "\(service.name) has no port or password in the plan: devstack does not run it")
            }
            switch action {
            case .list: return try StateStore.encoder.encode(try await database.snapshots())
            case .save(let name): try await database.saveSnapshot(name)
            case .remove(let name): try await database.removeSnapshot(name)
            }
            return Data("{\"ok\":true}".utf8)
        })

    private static func hostDatabase(_ plan: Plan) throws -> PostgresSession.Endpoint {
        let service = try PostgresTools.service(in: plan, named: nil)
        guard let endpoint = PostgresSession.Endpoint.of(service) else {
            throw SupervisorError(.serviceFailed, "\(service.name) has no port to reach it on", fix: "give it one in the stack")
        }
        return endpoint
    }
}
