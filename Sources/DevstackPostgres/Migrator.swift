import Crypto
import DevstackCore
import Foundation

/// `migrations/*.sql` in name order, each in its own transaction, recorded with a checksum in
/// `devstack.schema_migrations` and, as the Supabase CLI records them, in `supabase_migrations`. A changed applied file is an error; a failing one leaves the
/// database at the last good migration.
public struct Migrator: Sendable {
    public struct File: Sendable {
        public var name: String
        public var version: String
        public var path: String
        public var checksum: String
        public var contents: String
    }

    public let directory: String
    /// Files given rather than read from `directory`: what a client sent a host.
    private let given: [File]?

    public init(directory: String) {
        self.directory = directory
        given = nil
    }

    /// Applies these files (a client's, sent to the host), as if they were the folder's.
    public init(sent: [(name: String, contents: String)]) {
        directory = "(sent)"
        given = sent.map { Self.file(name: $0.name, path: $0.name, data: Data($0.contents.utf8)) }
    }

    public func files() throws -> [File] {
        if let given { return given }
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { name in
            let path = "\(directory)/\(name)"
            return Self.file(name: name, path: path, data: try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }

    /// `<version>_<what>.sql`: the version is what comes before the first `_`.
    private static func file(name: String, path: String, data: Data) -> File {
        let stem = name.hasSuffix(".sql") ? String(name.dropLast(4)) : name
        return File(
            name: name, version: stem.split(separator: "_", maxSplits: 1).first.map(String.init) ?? stem, path: path,
            checksum: checksum(data), contents: String(decoding: data, as: UTF8.self))
    }

    static func checksum(_ data: Data) -> String {
        SHA256.hash(data: data).hexEncoded
    }

    /// Applies what is pending; returns the names applied. `beforeFirst` runs once, before the first
    /// pending migration, and not at all when nothing is pending.
    @discardableResult
    public func apply(
        on session: PostgresSession, display: (String) -> String = { $0 }, beforeFirst: () async throws -> Void = {}
    ) async throws -> [String] {
        // Whether the records where the Supabase CLI looks are known complete comes in the same round trip.
        let applied = try await DevstackSchema.rows(
            "select version, name, checksum, (select value from devstack.state where key = '\(SupabaseMigrations.completeKey)') from devstack.schema_migrations",
            on: session)
        var recorded: [String: (name: String, checksum: String)] = [:]
        for row in applied {
            if let version = row[0], let name = row[1], let checksum = row[2] { recorded[version] = (name, checksum) }
        }
        let files = try files()
        if !applied.isEmpty && applied[0][3] == nil {
            try await SupabaseMigrations.backfill(files.filter { recorded[$0.version]?.checksum == $0.checksum }, on: session)
        }
        var done: [String] = []
        for file in files {
            if let previous = recorded[file.version] {
                guard previous.checksum == file.checksum else {
                    throw PostgresServiceError(
                        .migrationChanged, "migration \(display(file.path)) was changed after it was applied",
                        fix: "put the file back as it was and add a new migration for the change (devstack migration new NAME); "
                            + "or, for throw-away data, start over from an empty database")
                }
                continue
            }
            if done.isEmpty { try await beforeFirst() }
            do {
                try await session.run(
                    SQLScript(file.contents), file: display(file.path),
                    then: [
                        "insert into devstack.schema_migrations (version, name, checksum) values ('\(file.version.replacingOccurrences(of: "'", with: "''"))', '\(file.name.replacingOccurrences(of: "'", with: "''"))', '\(file.checksum)')"
                    ] + SupabaseMigrations.recording(file))
            } catch let failure as PostgresSession.ScriptFailure {
                throw PostgresServiceError(
                    .migrationFailed, "migration failed: \(failure)",
                    fix: "fix \(display(file.path)) and run `devstack migrate`; the database stays at the last good migration"
                        + (done.last.map { " (\($0))" } ?? ""))
            }
            done.append(file.name)
        }
        return done
    }
}
