import DevstackCore
import Foundation

/// Everything inside a running server: the database, the Supabase bootstrap, migrations, seed.
public enum PostgresSetup {
    /// Returns what it did, as lines for the log.
    /// `building`: the database was just created empty, to become the clean-state template.
    /// `session`: an open connection to the service's database to use (and close), instead of a new one.
    public static func run(
        _ service: PlannedService, plan: Plan, seedNewDatabase: Bool, database name: String? = nil, building: Bool = false,
        on session: PostgresSession? = nil, freshCluster: Bool = false, preparedDatabase: String? = nil
    ) async throws -> [String] {
        guard var endpoint = PostgresSession.Endpoint.of(service) else { return [] }
        if let name { endpoint.database = name }
        let database = endpoint.database
        let display = { (path: String) in path.hasPrefix(plan.projectDirectory + "/") ? String(path.dropFirst(plan.projectDirectory.count + 1)) : path
        }
        func setUp(_ session: PostgresSession, created: Bool, prepared: Bool = false) async throws -> [String] {
            var notes = created ? ["created database \(database)" + (prepared ? " (the initdb cache's prepared one, renamed)" : "")] : []
            // A new database has no bookkeeping tables: made before the first read, which would fail in the log.
            if created && !prepared { try await DevstackSchema.create(on: session) }
            let supabase = service.setting("supabase") == .bool(true)
            // Scripts run with Supabase's search path. New sessions get it from the database (the bootstrap
            // sets it there), the one that applies the bootstrap does not: set it here before the first
            // script, and only then, so a warm start is its reads alone.
            var searchPathSet = !supabase
            func beforeScript() async throws {
                guard !searchPathSet else { return }
                try await session.execute("set search_path to \"$user\", public, extensions")
                searchPathSet = true
            }
            if supabase {
                let rows = try await DevstackSchema.rows("select value from devstack.state where key = 'supabase_bootstrap'", on: session)
                if created && rows.first?.first ?? nil == SupabaseBootstrap.fingerprint {
                    // Bootstrapped ahead (the prepared database): the search path is the database's own setting, not copied with it.
                    try await session.execute("alter database \"\(database)\" set search_path to \"$user\", public, extensions")
                } else if rows.first?.first ?? nil != SupabaseBootstrap.fingerprint {
                    do {
                        try await session.run(
                            SQLScript(SupabaseBootstrap.sql), file: "supabase bootstrap",
                            then: [
                                "alter database \"\(database)\" set search_path to \"$user\", public, extensions",
                                "insert into devstack.state values ('supabase_bootstrap', '\(SupabaseBootstrap.fingerprint)') on conflict (key) do update set value = excluded.value",
                            ])
                    } catch {
                        throw PostgresServiceError(.bootstrapFailed, "the Supabase bootstrap failed: \(error)")
                    }
                    notes.append("applied the Supabase bootstrap (roles, auth schema, auth.uid())")
                }
            }
            if let folder = service.setting("migrations")?.description {
                let applied = try await Migrator(directory: FilePath.absolute(folder, relativeTo: plan.stackDirectory))
                    .apply(on: session, display: display, beforeFirst: beforeScript)
                notes += applied.map { "applied migration \($0)" }
            }
            if created && seedNewDatabase, let seed = service.setting("seed")?.description {
                let path = FilePath.absolute(seed, relativeTo: plan.stackDirectory)
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw PostgresServiceError(
                        .seedFailed, "seed file \(display(path)) does not exist", fix: "create it, or remove 'seed:' from \(service.name)")
                }
                do {
                    try await beforeScript()
                    try await session.run(SQLScript(text), file: display(path))
                } catch {
                    throw PostgresServiceError(.seedFailed, "seed failed: \(error)", fix: "fix \(display(path)); the database keeps its migrations")
                }
                notes.append("seeded from \(display(path))")
            }
            return notes
        }
        if let session {
            defer { session.closeInBackground() }
            return try await setUp(session, created: building)
        }
        func create() async throws -> [String] {
            let quoted = "\"\(database.replacingOccurrences(of: "\"", with: "\"\""))\""
            try await PostgresSession.with(endpoint.with(database: "postgres")) { session in
                try await session.execute(preparedDatabase.map { "alter database \($0) rename to \(quoted)" } ?? "create database \(quoted)")
            }
            return try await PostgresSession.with(endpoint) { try await setUp($0, created: true, prepared: preparedDatabase != nil) }
        }
        // A cluster initdb just made has no such database: asking for it would put a FATAL in the log.
        if freshCluster { return try await create() }
        // Straight to the database, which is there on every start but the first: a connection costs milliseconds.
        do {
            return try await PostgresSession.with(endpoint) { try await setUp($0, created: building) }
        } catch  where PostgresSession.sqlState(of: error) == "3D000" {
            return try await create()
        }
    }
}
