import DevstackCore
import DevstackSystem
import Foundation

/// One cluster's backups: taken with pgBackRest, each proved by restoring it into a scratch folder
/// and comparing the restored database with the live one at the backup's point.
///
/// The point is exact: right after a backup, one transaction holds off writers (`SHARE` locks, a few
/// milliseconds), counts every table's rows and the applied migrations, and creates a named restore
/// point; the WAL up to it is archived before the backup counts as taken. Verifying restores the
/// backup to that restore point and expects the same counts.
public struct BackupRepository: Sendable {
    public let tool: PgBackRest
    /// The service's database, through the live server's socket.
    let endpoint: PostgresSession.Endpoint
    let postgres: String
    /// How the live server is started, for replaying a restore in place before it is handed back.
    let liveSettings: [(String, String)]

    public init(tool: PgBackRest, endpoint: PostgresSession.Endpoint, postgres: String, liveSettings: [(String, String)]) {
        self.tool = tool
        self.endpoint = endpoint
        self.postgres = postgres
        self.liveSettings = liveSettings
    }

    /// The stanza is created once the server runs (pgBackRest reads the cluster's identity from it).
    public func prepare() async throws {
        guard !tool.stanzaExists else { return }
        try await tool.run("stanza-create")
    }

    // MARK: Taking backups

    public func backup(_ kind: BackupRecord.Kind, reason: String) async throws -> BackupRecord {
        try await prepare()
        let before = Set(try await tool.backups().map(\.label))
        try await tool.run("backup", ["--type=\(kind.rawValue)", "--annotation=devstack-reason=\(reason)"])
        guard let info = try await tool.backups().last(where: { !before.contains($0.label) }) else {
            throw PostgresServiceError(
                .backupFailed, "pgbackrest backup succeeded but no new backup is in the repository", fix: "see \(tool.layout.root)/log")
        }
        var log = VerificationLog(file: tool.layout.verifications)
        let expectation = try await markPoint(label: info.label)
        log.entries[info.label] = VerificationLog.Entry(
            restorePoint: expectation.restorePoint, expected: expectation.counts, migrations: expectation.migrations)
        try log.save()
        let check = await verifyRestore(info.label, log: &log)
        try log.save()
        return record(info, verification: check)
    }

    /// Counts, migrations and a restore point in one transaction that writers wait for, then the WAL
    /// up to that point into the repository.
    private func markPoint(label: String) async throws -> (restorePoint: String, counts: [String: Int], migrations: [String]) {
        let restorePoint = "devstack-\(label)"
        return try await PostgresSession.with(endpoint) { session in
            let tables = try await Self.tables(on: session)
            try await session.execute("begin isolation level repeatable read")
            do {
                try await session.execute("set local lock_timeout = '10s'")
                if !tables.isEmpty { try await session.execute("lock table \(tables.joined(separator: ", ")) in share mode") }
                let counts = try await Self.counts(of: tables, on: session)
                let migrations = try await Self.migrations(on: session)
                try await session.execute("select pg_create_restore_point('\(restorePoint)')")
                try await session.execute("commit")
                try await Self.archiveCurrentWAL(on: session)
                return (restorePoint, counts, migrations)
            } catch {
                try? await session.execute("rollback")
                throw PostgresServiceError(
                    .backupFailed, "the backup \(label) was taken, but its verification point was not: \(PostgresSession.message(of: error))",
                    fix: "`devstack backup verify \(label)` restores it to its end instead")
            }
        }
    }

    /// Ends the current WAL segment and waits until the archiver has put it in the repository.
    static func archiveCurrentWAL(on session: PostgresSession) async throws {
        guard let segment = try await session.strings("select pg_walfile_name(pg_switch_wal())").first else { return }
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let row = try await session.rows("select coalesce(last_archived_wal, ''), coalesce(last_failed_wal, '') from pg_stat_archiver").first
            if let archived = row?.first ?? nil, archived >= segment { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresServiceError(
            .backupFailed, "WAL segment \(segment) was not archived within 2 minutes",
            fix: "see the Postgres log for archive_command failures, and the pgBackRest log")
    }

    /// Every table the stack keeps rows in (not Postgres's catalogs, not devstack's reset copies).
    static func tables(on session: PostgresSession) async throws -> [String] {
        try await session.strings(
            """
            select format('%I.%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'p') and n.nspname not in ('information_schema', 'devstack_clean') and n.nspname !~ '^pg_'
            order by 1
            """)
    }

    static func counts(of tables: [String], on session: PostgresSession) async throws -> [String: Int] {
        guard !tables.isEmpty else { return [:] }
        let query = tables.map { "select '\($0.replacingOccurrences(of: "'", with: "''"))', count(*)::text from \($0)" }.joined(
            separator: " union all ")
        var counts: [String: Int] = [:]
        for row in try await session.rows(query) {
            if let table = row.first ?? nil, let count = row.last.flatMap({ $0 }).flatMap(Int.init) { counts[table] = count }
        }
        return counts
    }

    /// The migrations applied, by devstack and (where the Supabase CLI keeps them) by either tool.
    static func migrations(on session: PostgresSession) async throws -> [String] {
        var versions: [String] = []
        for table in ["devstack.schema_migrations", "supabase_migrations.schema_migrations"] {
            guard try await session.strings("select coalesce(to_regclass('\(table)')::text, '')").first?.isEmpty == false else { continue }
            versions += try await session.strings("select version::text from \(table) order by 1").map { "\(table):\($0)" }
        }
        return versions
    }

    // MARK: Listing and verifying

    public func list() async throws -> [BackupRecord] {
        let log = VerificationLog(file: tool.layout.verifications)
        return try await tool.backups().map { record($0, verification: log.entries[$0.label]?.verification) }
    }

    /// pgBackRest's checksums of every backup and WAL file, then a restore of `label` (the newest when nil).
    public func verify(_ label: String?) async throws -> RepositoryCheck {
        let backups = try await tool.backups()
        guard let chosen = label ?? backups.last?.label else {
            return RepositoryCheck(ok: false, problems: ["the repository holds no backup yet"], restore: nil, label: nil)
        }
        guard backups.contains(where: { $0.label == chosen }) else {
            throw PostgresServiceError(
                .restoreFailed, "there is no backup \(chosen)",
                fix: "see `devstack backup list`" + (backups.last.map { "; the newest is \($0.label)" } ?? ""))
        }
        let report = try await tool.run("verify", ["--output=text"])
        let problems = report.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { line in
            ["invalid", "missing", "error"].contains { line.contains($0) } && !line.hasSuffix(": 0")
        }
        var log = VerificationLog(file: tool.layout.verifications)
        let restore = await verifyRestore(chosen, log: &log)
        try log.save()
        return RepositoryCheck(ok: problems.isEmpty && restore.ok, problems: problems, restore: restore, label: chosen)
    }

    /// Restores `label` into the scratch folder, starts it, compares, and records the result.
    private func verifyRestore(_ label: String, log: inout VerificationLog) async -> BackupVerification {
        let began = ContinuousClock.now
        let entry = log.entries[label]
        let result: (Bool, String)
        do {
            result = try await restoreAndCompare(label, entry: entry)
        } catch {
            result = (false, "\(error)")
        }
        let verification = BackupVerification(
            ok: result.0, at: Date(), detail: result.1, milliseconds: Int((ContinuousClock.now - began).milliseconds))
        var updated = entry ?? VerificationLog.Entry(restorePoint: nil, expected: nil, migrations: nil)
        updated.verification = verification
        log.entries[label] = updated
        return verification
    }

    private func restoreAndCompare(_ label: String, entry: VerificationLog.Entry?) async throws -> (Bool, String) {
        let scratch = tool.layout.scratch
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        guard mkdir(scratch, 0o700) == 0 else {
            throw PostgresServiceError(
                .restoreFailed, "cannot create \(scratch): \(String(cString: strerror(errno)))", fix: "check the folder's permissions")
        }
        tool.user?.own(scratch)
        var arguments = ["--pg1-path=\(scratch)", "--set=\(label)", "--archive-mode=off", "--target-action=promote", "--job-retry=0"]
        if let point = entry?.restorePoint {
            arguments += ["--type=name", "--target=\(point)"]
        } else {
            arguments += ["--type=immediate"]
        }
        try await tool.run("restore", arguments, failure: .restoreFailed)
        let server = SocketServer(
            postgres: postgres, dataDirectory: scratch, socketDirectory: scratch, user: tool.user, role: endpoint.user,
            settings: [("archive_mode", "off"), ("fsync", "off")], log: "\(tool.layout.root)/verify.log")
        let database = endpoint.database
        return try await server.run { try await PostgresSession.with($0.with(database: database)) { try await Self.compare($0, with: entry) } }
    }

    /// Counts the restored database's rows and migrations against what was recorded at the backup.
    private static func compare(_ session: PostgresSession, with entry: VerificationLog.Entry?) async throws -> (Bool, String) {
        let tables = try await Self.tables(on: session)
        let counts = try await Self.counts(of: tables, on: session)
        let migrations = try await Self.migrations(on: session)
        guard let expected = entry?.expected else {
            return (true, "restored and started: \(tables.count) tables, \(counts.values.reduce(0, +)) rows (no counts were recorded to compare)")
        }
        var differences: [String] = []
        for table in Set(expected.keys).union(counts.keys).sorted() where expected[table] != counts[table] {
            differences.append(
                "\(table): \(counts[table].map { "\($0) rows" } ?? "missing") restored, \(expected[table].map { "\($0)" } ?? "no table") at the backup"
            )
        }
        if let recorded = entry?.migrations, recorded != migrations {
            differences.append("migrations: \(migrations.count) restored, \(recorded.count) at the backup")
        }
        if !differences.isEmpty { return (false, differences.joined(separator: "; ")) }
        return (
            true,
            "restored and started: \(tables.count) tables, \(counts.values.reduce(0, +)) rows and \(migrations.count) migrations, as in the live database at the backup"
        )
    }

    // MARK: Restoring

    /// Refuses a target no backup can reach, before anything is stopped.
    public func checkRestore(to target: RestoreTarget) async throws {
        let backups = try await tool.backups()
        guard let first = backups.first else {
            throw PostgresServiceError(.restoreFailed, "there is no backup to restore from", fix: "take one: devstack backup now")
        }
        switch target {
        case .latest:
            return
        case .backup(let label):
            guard backups.contains(where: { $0.label == label }) else {
                throw PostgresServiceError(.restoreFailed, "there is no backup \(label)", fix: "see `devstack backup list`")
            }
        case .time(let date):
            guard date <= Date() else {
                throw PostgresServiceError(
                    .restoreFailed, "\(BackupTime.format(date)) is in the future", fix: "give a time in the past (UTC unless it says otherwise)")
            }
            let earliest = Date(timeIntervalSince1970: TimeInterval(first.timestamp.stop))
            guard date >= earliest else {
                throw PostgresServiceError(
                    .restoreFailed, "\(BackupTime.format(date)) is before the end of the oldest backup (\(BackupTime.format(earliest)))",
                    fix: "give a time after \(BackupTime.format(earliest)), or restore that backup by name")
            }
        }
    }

    /// Every change so far into the repository, so a restore (or undoing one) loses nothing.
    public func flushChanges() async throws {
        try await PostgresSession.with(endpoint) { try await Self.archiveCurrentWAL(on: $0) }
    }

    /// Replaces the stopped server's data with the state at `target` and replays it to the end, so
    /// the next start is an ordinary one.
    public func restore(to target: RestoreTarget) async throws {
        var arguments = ["--delta", "--target-action=promote"]
        switch target {
        case .backup(let label): arguments += ["--set=\(label)", "--type=immediate"]
        case .time(let date): arguments += ["--type=time", "--target=\(Self.postgresTime(date))"]
        case .latest: arguments += ["--type=default"]
        }
        unlink("\(tool.dataDirectory)/postmaster.pid")
        try await tool.run("restore", arguments, failure: .restoreFailed)
        let server = SocketServer(
            postgres: postgres, dataDirectory: tool.dataDirectory, socketDirectory: tool.socketDirectory, user: tool.user, role: endpoint.user,
            settings: liveSettings, log: "\(tool.layout.root)/restore.log")
        try await server.run { _ in }
    }

    /// Bytes a backup and its verification may need: the cluster's size twice (repository and scratch).
    public func spaceNeeded() async -> Int? {
        let size = try? await PostgresSession.with(endpoint) {
            try await $0.strings("select sum(pg_database_size(oid))::bigint::text from pg_database").first
        }
        return size.flatMap { $0 }.flatMap(Int.init).map { $0 * 2 }
    }

    private static func postgresTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        return formatter.string(from: date) + "+00"
    }

    private func record(_ info: PgBackRest.Info, verification: BackupVerification?) -> BackupRecord {
        BackupRecord(
            label: info.label, kind: BackupRecord.Kind(rawValue: info.type) ?? .full,
            started: Date(timeIntervalSince1970: TimeInterval(info.timestamp.start)),
            stopped: Date(timeIntervalSince1970: TimeInterval(info.timestamp.stop)), databaseBytes: info.info.size,
            repositoryBytes: info.info.repository.delta, reason: info.annotation?["devstack-reason"] ?? "outside devstack",
            verification: verification)
    }
}

/// What devstack knows of each backup beyond pgBackRest's own record: the counts at its verification
/// point, and the last verification. Kept beside the repository's configuration.
struct VerificationLog {
    struct Entry: Codable {
        var restorePoint: String?
        var expected: [String: Int]?
        var migrations: [String]?
        var verification: BackupVerification?
    }

    let file: String
    var entries: [String: Entry]

    init(file: String) {
        self.file = file
        entries = (try? Data(contentsOf: URL(fileURLWithPath: file))).flatMap { try? Self.decoder.decode([String: Entry].self, from: $0) } ?? [:]
    }

    func save() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(entries).write(to: URL(fileURLWithPath: file), options: .atomic)
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
