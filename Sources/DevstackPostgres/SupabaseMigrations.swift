import Crypto
import DevstackCore
import Foundation

/// Where the Supabase CLI records applied migrations (`supabase_migrations.schema_migrations`:
/// version, statements, name), which devstack writes too — locally, on staging and on production —
/// so both tools agree on what is applied. A file's checksum is that of its statements, so a record
/// from either tool can be compared with a file.
public enum SupabaseMigrations {
    static let create = [
        "create schema if not exists supabase_migrations",
        "create table if not exists supabase_migrations.schema_migrations (version text not null primary key, statements text[], name text)",
    ]

    /// What a file is recorded as: its statements, as the Supabase CLI splits them.
    public static func statements(of file: Migrator.File) -> [String] { SQLScript(file.contents).statements.map(\.text) }

    public static func checksum(_ statements: [String]) -> String {
        SHA256.hash(data: Data(statements.joined(separator: "\n;\n").utf8)).hexEncoded.prefix(16).description
    }

    public static func checksum(of file: Migrator.File) -> String { checksum(statements(of: file)) }

    /// The table (if missing) and the record of `file`, to run in the file's own transaction.
    static func recording(_ file: Migrator.File) -> [String] {
        let quoted = { (text: String) in "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        let statements = "array[" + statements(of: file).map(quoted).joined(separator: ", ") + "]::text[]"
        let name = String(file.name.dropLast(4).dropFirst(file.version.count).drop { $0 == "_" })
        return create + [
            "insert into supabase_migrations.schema_migrations (version, statements, name) values (\(quoted(file.version)), \(statements), \(quoted(name))) on conflict (version) do nothing"
        ]
    }

    /// In `devstack.state`, set once every migration devstack applied is recorded here too.
    static let completeKey = "supabase_migrations_complete"

    /// Records there the files devstack applied before it recorded them where the Supabase CLI does (a
    /// database migrated by an older devstack), so both tools agree on what is applied; then marks the
    /// records complete, so later starts do not look again.
    static func backfill(_ applied: [Migrator.File], on session: PostgresSession) async throws {
        let present: Set<String>
        do {
            present = Set(try await session.strings("select version from supabase_migrations.schema_migrations"))
        } catch  where ["42P01", "3F000"].contains(PostgresSession.sqlState(of: error)) {
            present = []
        }
        let missing = applied.filter { !present.contains($0.version) }
        try await session.execute("begin")
        do {
            for statement in missing.flatMap(recording) { try await session.execute(statement) }
            try await session.execute(
                "insert into devstack.state values ('\(completeKey)', '1') on conflict (key) do update set value = excluded.value")
            try await session.execute("commit")
        } catch {
            try? await session.execute("rollback")
            throw error
        }
    }

    /// Applied versions with the checksum of their recorded statements; empty when the table is missing.
    public static func applied(on session: PostgresSession) async throws -> [String: String] {
        guard try await session.strings("select coalesce(to_regclass('supabase_migrations.schema_migrations')::text, '')").first?.isEmpty == false
        else { return [:] }
        var applied: [String: String] = [:]
        for row in try await session.rows(
            "select version, coalesce(array_to_json(statements)::text, '[]') from supabase_migrations.schema_migrations")
        {
            guard let version = row[0] ?? nil, let json = row[1] ?? nil,
                let statements = try? JSONDecoder().decode([String].self, from: Data(json.utf8))
            else { continue }
            applied[version] = checksum(statements)
        }
        return applied
    }

    /// Where one environment stands with the project's files.
    public struct Status: Sendable, Codable {
        public var applied: [String] = []
        public var pending: [String] = []
        /// Applied, but the file's statements differ from what was applied.
        public var changed: [String] = []
    }

    public static func status(of files: [Migrator.File], applied: [String: String]) -> Status {
        var status = Status()
        for file in files {
            guard let recorded = applied[file.version] else {
                status.pending.append(file.name)
                continue
            }
            if recorded == checksum(of: file) { status.applied.append(file.name) } else { status.changed.append(file.name) }
        }
        return status
    }

    /// Applies `files` in order, each in its own transaction with its record.
    public static func apply(_ files: [Migrator.File], on session: PostgresSession) async throws -> [String] {
        var done: [String] = []
        for file in files {
            do {
                try await session.run(SQLScript(file.contents), file: file.name, then: recording(file))
            } catch let failure as PostgresSession.ScriptFailure {
                throw PostgresServiceError(
                    .migrationFailed, "migration failed: \(failure)",
                    fix: "fix \(file.name) and migrate again; the database stays at the last good migration" + (done.last.map { " (\($0))" } ?? ""))
            }
            done.append(file.name)
        }
        return done
    }
}
