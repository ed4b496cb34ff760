import Crypto
import DevstackCore
import Foundation

/// Back to the migrated and seeded state in milliseconds: the tables changed since the last reset put
/// back in place when no DDL ran (`ChangeTracking`), else a rename swap of a pre-cloned spare of the
/// clean-state template. Snapshots are more templates, each with its own spare.
public struct DatabaseReset: Sendable {
    public struct Report: Codable, Sendable {
        public var service: String
        public var database: String
        public var milliseconds: Int
        public var rebuiltTemplate: Bool
        public var rebuildReason: String?
        public var usedSpare: Bool
        /// Tables put back in place by the fast path; nil when the database was swapped.
        public var repairedTables: Int?
        /// Why the fast path could not be taken, when it was tried.
        public var swapReason: String?
        public var snapshot: String?
        public var staleSnapshot: Bool
    }

    public struct Snapshot: Codable, Sendable {
        public var name: String
        public var createdAt: String
        public var stale: Bool
    }

    let service: PlannedService
    let plan: Plan
    let endpoint: PostgresSession.Endpoint
    /// Clean copies kept ready, so a burst of resets swaps without waiting for a copy.
    let spareCount: Int
    /// The most clean rows the fast path copies back; beyond, the swap is faster. 0: always swap.
    let fastResetRows: Int

    public init?(service: PlannedService, plan: Plan) {
        guard let endpoint = PostgresSession.Endpoint.of(service) else { return nil }
        self.service = service
        self.plan = plan
        self.endpoint = endpoint
        if case .int(let count)? = service.setting("spares") { spareCount = count } else { spareCount = 2 }
        if case .int(let rows)? = service.setting("fast_reset_rows") { fastResetRows = rows } else { fastResetRows = 10_000 }
    }

    var database: String { endpoint.database }
    var template: String { "\(database)__devstack_template" }
    func snapshotName(_ name: String) -> String { "\(database)__devstack_snap_\(name)" }
    func snapshotSpare(_ name: String) -> String { "\(database)__devstack_ready_\(name)" }
    var retired: String { "\(database)__devstack_retired" }

    static let marker = "devstack:"

    /// What the clean state is made of: the bootstrap, every migration, the seed.
    func cleanStateKey() throws -> String {
        var hasher = SHA256()
        if case .bool(true)? = service.setting("supabase") { hasher.update(data: Data(SupabaseBootstrap.fingerprint.utf8)) }
        if let folder = service.setting("migrations")?.description {
            for file in try Migrator(directory: FilePath.absolute(folder, relativeTo: plan.stackDirectory)).files() {
                hasher.update(data: Data("\(file.name):\(file.checksum);".utf8))
            }
        }
        if let seed = service.setting("seed")?.description,
            let data = FileManager.default.contents(atPath: FilePath.absolute(seed, relativeTo: plan.stackDirectory))
        {
            hasher.update(data: data)
        }
        return hasher.finalize().prefix(12).hexEncoded
    }

    // MARK: Reset

    /// Swaps in a clean copy. Returns with the old database retired; `maintain()` finishes the job.
    public func reset(to snapshot: String? = nil) async throws -> Report {
        let began = ContinuousClock.now
        let key = try cleanStateKey()
        return try await withAdminSession(locking: .swap) { admin in
            var rebuilt: (Bool, String?) = (false, nil)
            var stale = false
            var ready: String?
            var swapReason: String?
            if let snapshot {
                let name = snapshotName(snapshot)
                guard let comment = try await comment(of: name, admin) else {
                    throw PostgresServiceError(.connection, "no snapshot '\(snapshot)' of \(service.name)", fix: "see `devstack snapshot list`")
                }
                stale = !comment.hasPrefix("\(Self.marker)\(key)")
                let copy = snapshotSpare(snapshot)
                if try await self.comment(of: copy, admin) == comment {
                    ready = copy
                } else {
                    try await drop(copy, admin)
                    try await clone(name, into: copy, admin)
                }
                try await swap(in: copy, admin)
            } else {
                rebuilt = try await ensureTemplate(key: key, admin)
                // A rebuilt template means a new clean state, which only a copy of it brings.
                if !rebuilt.0 && fastResetRows > 0 {
                    let repair = await repairInPlace(key: key)
                    guard let fallback = repair.fallback else {
                        return Report(
                            service: service.name, database: database, milliseconds: Int((ContinuousClock.now - began).milliseconds),
                            rebuiltTemplate: false, usedSpare: false, repairedTables: repair.tables, snapshot: nil, staleSnapshot: false)
                    }
                    swapReason = fallback
                }
                ready = try await readySpare(admin)
                if let ready {
                    try await swap(in: ready, admin)
                } else {
                    // None ready: wait for the copy being made, if any, else make one now.
                    let copy = try await holdingClonesLock(admin) {
                        if let made = try await readySpare(admin) { return made }
                        try await drop(spares[0], admin)
                        try await clone(template, into: spares[0], admin)
                        return spares[0]
                    }
                    try await swap(in: copy, admin)
                }
            }
            return Report(
                service: service.name, database: database, milliseconds: Int((ContinuousClock.now - began).milliseconds),
                rebuiltTemplate: rebuilt.0, rebuildReason: rebuilt.1, usedSpare: ready != nil, swapReason: swapReason, snapshot: snapshot,
                staleSnapshot: stale)
        }
    }

    /// The fast path, on a session to the database kept between resets. A session the server ended
    /// meanwhile (a swap, a restart) is replaced once.
    private func repairInPlace(key: String, retrying: Bool = true) async -> ChangeTracking.Repair {
        var session: PostgresSession?
        do {
            let taken = try await AdminSessions.shared.take(endpoint)
            session = taken
            let repair = try await ChangeTracking.repair(key: key, maxRows: fastResetRows, on: taken)
            await AdminSessions.shared.giveBack(taken, to: endpoint)
            return repair
        } catch {
            try? await session?.connection.close()
            if session != nil && PostgresSession.sqlState(of: error) == nil && retrying { return await repairInPlace(key: key, retrying: false) }
            return ChangeTracking.Repair(tables: 0, fallback: "putting the tables back failed: \(PostgresSession.message(of: error))")
        }
    }

    /// After a reset (in the background): drop what was retired, then make spares until `spareCount`
    /// are ready. The copies are made under their own lock, so a reset meanwhile swaps in a spare
    /// already made instead of waiting for the next.
    public func maintain(snapshot: String? = nil) async throws {
        try await withAdminSession(locking: .swap) { admin in
            try await drop(retired, admin)
            if let snapshot { try await clone(snapshotName(snapshot), into: snapshotSpare(snapshot), admin) }
        }
        if snapshot == nil { try await makeSpares() }
    }

    /// Builds the template if missing or stale, and makes the spares, so the first reset is fast too.
    public func prepare() async throws {
        let key = try cleanStateKey()
        try await withAdminSession(locking: .swap) { admin in _ = try await ensureTemplate(key: key, admin) }
        try await makeSpares()
    }

    /// The spares' names: the first is the one a single-spare stack has always used.
    var spares: [String] {
        (0..<spareCount).map { $0 == 0 ? "\(database)__devstack_spare" : "\(database)__devstack_spare_\($0 + 1)" }
    }

    private func makeSpares() async throws {
        for name in spares {
            try await withAdminSession(locking: .clones) { admin in
                guard let clean = try await comment(of: template, admin), try await comment(of: name, admin) != clean else { return }
                try await drop(name, admin)
                try await clone(template, into: name, admin)
            }
        }
    }

    /// A spare that is a complete copy of the current template: its tag, set once the copy is done, matches.
    private func readySpare(_ admin: PostgresSession) async throws -> String? {
        try await admin.strings(
            "select datname from pg_database where datname in (\(spares.map(literal).joined(separator: ", "))) "
                + "and shobj_description(oid, 'pg_database') = (select shobj_description(oid, 'pg_database') from pg_database where datname = \(literal(template))) "
                + "order by datname limit 1"
        ).first
    }

    // MARK: Snapshots

    public func saveSnapshot(_ name: String) async throws {
        try Self.checkSnapshotName(name)
        let key = try cleanStateKey()
        try await withAdminSession { admin in
            try await drop(snapshotName(name), admin)
            try await drop(snapshotSpare(name), admin)
            // Cloning needs the database to itself for a moment.
            try await admin.execute("alter database \(quote(database)) allow_connections false")
            do {
                try await terminate(database, admin)
                try await admin.execute("create database \(quote(snapshotName(name))) template \(quote(database))")
            } catch {
                try? await admin.execute("alter database \(quote(database)) allow_connections true")
                throw error
            }
            try await admin.execute("alter database \(quote(database)) allow_connections true")
            let stamp = ISO8601DateFormatter().string(from: Date())
            try await setComment(snapshotName(name), "\(Self.marker)\(key) \(stamp)", admin)
            try await admin.execute("alter database \(quote(snapshotName(name))) allow_connections false")
            try await clone(snapshotName(name), into: snapshotSpare(name), admin)
        }
    }

    public func removeSnapshot(_ name: String) async throws {
        try await withAdminSession { admin in
            guard try await comment(of: snapshotName(name), admin) != nil else {
                throw PostgresServiceError(.connection, "no snapshot '\(name)' of \(service.name)", fix: "see `devstack snapshot list`")
            }
            try await drop(snapshotSpare(name), admin)
            try await drop(snapshotName(name), admin)
        }
    }

    public func snapshots() async throws -> [Snapshot] {
        let key = try cleanStateKey()
        let prefix = snapshotName("")
        return try await withAdminSession { admin in
            let rows = try await admin.rows(
                "select datname, shobj_description(oid, 'pg_database') from pg_database where datname like \(literal(prefix.replacingOccurrences(of: "_", with: "\\_")) + " || '%'") order by datname"
            )
            return rows.compactMap { row in
                guard let name = row[0], let comment = row[1] else { return nil }
                let parts = comment.dropFirst(Self.marker.count).split(separator: " ")
                return Snapshot(
                    name: String(name.dropFirst(prefix.count)), createdAt: parts.count > 1 ? String(parts[1]) : "",
                    stale: parts.first.map(String.init) != key)
            }
        }
    }

    static func checkSnapshotName(_ name: String) throws {
        guard (1...24).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
            throw PostgresServiceError(.connection, "'\(name)' is not a snapshot name", fix: "use up to 24 lowercase letters, digits and '_'")
        }
    }

    // MARK: Steps

    func ensureTemplate(key: String, _ admin: PostgresSession) async throws -> (Bool, String?) {
        let current = try await comment(of: template, admin)
        if current == "\(Self.marker)\(key)" { return (false, nil) }
        let reason = current == nil ? "no clean-state template yet" : "the bootstrap, a migration or the seed changed"
        let build = "\(database)__devstack_build"
        try await drop(build, admin)
        try await admin.execute("create database \(quote(build))")
        _ = try await PostgresSetup.run(service, plan: plan, seedNewDatabase: true, database: build, building: true)
        try await PostgresSession.with(endpoint.with(database: build)) { try await ChangeTracking.install(key: key, on: $0) }
        // No copy of the old template may be in the making while it goes.
        try await holdingClonesLock(admin) {
            for spare in spares { try await drop(spare, admin) }
            try await drop(template, admin)
        }
        try await terminate(build, admin)
        try await admin.execute("alter database \(quote(build)) rename to \(quote(template))")
        try await admin.execute("alter database \(quote(template)) allow_connections false")
        try await setComment(template, "\(Self.marker)\(key)", admin)
        return (true, reason)
    }

    func clone(_ source: String, into target: String, _ admin: PostgresSession) async throws {
        try await terminate(source, admin)
        try await admin.execute("create database \(quote(target)) template \(quote(source))")
        if let comment = try await comment(of: source, admin) { try await setComment(target, comment, admin) }
        // Per-database settings do not travel with a copy, but they do follow a rename: set them now, not during the swap.
        if case .bool(true)? = service.setting("supabase") {
            try await admin.execute("alter database \(quote(target)) set search_path to \"$user\", public, extensions")
        }
    }

    /// Closes the door, shows everyone out, swaps the rooms. Clients see an ordinary
    /// "terminating connection" error and reconnect to the clean database; one that reconnects during
    /// the swap's few milliseconds is told the database is not accepting connections, never that it
    /// does not exist: both renames commit together.
    private func swap(in ready: String, _ admin: PostgresSession) async throws {
        await AdminSessions.shared.discard(endpoint)
        try await drop(retired, admin)
        try await terminate(ready, admin)
        try await admin.execute("alter database \(quote(database)) allow_connections false")
        // A client whose connection was already past Postgres's checks when the door closed shows up in
        // pg_stat_activity only a moment later, and the rename then finds it (55006, after waiting 5 s
        // for it to leave): it is shown out too, and the swap tried again.
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await terminate(database, admin, clientsConnect: true)
                // The copy already allows connections and carries its settings; its tag says which clean state it is.
                try await admin.execute("begin")
                try await admin.execute("alter database \(quote(database)) rename to \(quote(retired))")
                try await admin.execute("alter database \(quote(ready)) rename to \(quote(database))")
                try await admin.execute("commit")
                return
            } catch {
                try? await admin.execute("rollback")
                if PostgresSession.sqlState(of: error) == "55006" && attempt < 5 { continue }
                try? await admin.execute("alter database \(quote(database)) allow_connections true")
                throw error
            }
        }
    }

    /// Ends every session on `name` and waits until their backends are gone (a closed session's
    /// backend lingers a moment, and renaming or copying needs the database to itself).
    /// `clientsConnect`: the database clients use, where a connection finishing its start-up is not in
    /// pg_stat_activity yet at the first look; done there when two looks a millisecond apart find nobody.
    func terminate(_ name: String, _ admin: PostgresSession, clientsConnect: Bool = false) async throws {
        var emptyLooks = 0
        for _ in 0..<500 {
            let left = try await admin.strings(
                "select count(pg_terminate_backend(pid))::text from pg_stat_activity where datname = \(literal(name)) and pid <> pg_backend_pid()")
            emptyLooks = left.first == "0" ? emptyLooks + 1 : 0
            if emptyLooks == (clientsConnect ? 2 : 1) { return }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func drop(_ name: String, _ admin: PostgresSession) async throws {
        try await admin.execute("drop database if exists \(quote(name)) with (force)")
    }

    func comment(of name: String, _ admin: PostgresSession) async throws -> String? {
        try await admin.rows("select shobj_description(oid, 'pg_database') from pg_database where datname = \(literal(name))").first?.first ?? nil
    }

    func setComment(_ name: String, _ text: String, _ admin: PostgresSession) async throws {
        try await admin.execute("comment on database \(quote(name)) is \(literal(text))")
    }

    /// One admin connection to `postgres`, holding an advisory lock so resets never overlap, whoever runs them
    /// (`.clones` for making copies of the template, which a reset need not wait for).
    /// The connection is kept for the next reset: a new one costs a server process, milliseconds a reset need not spend.
    func withAdminSession<T: Sendable>(locking lock: AdminLock = .swap, _ body: (PostgresSession) async throws -> T) async throws -> T {
        do {
            let server = endpoint.with(database: "postgres")
            let admin = try await AdminSessions.shared.take(server)
            let result: T
            do {
                try await admin.execute("select pg_advisory_lock(\(lock.rawValue))")
                result = try await body(admin)
            } catch {
                // Closing ends the session and with it the advisory lock, whatever state it was left in.
                try? await admin.connection.close()
                throw error
            }
            // The work is done either way: a session that cannot give the lock back is closed, not kept.
            if (try? await admin.execute("select pg_advisory_unlock(\(lock.rawValue))")) != nil {
                await AdminSessions.shared.giveBack(admin, to: server)
            } else {
                try? await admin.connection.close()
            }
            return result
        } catch let error as PostgresServiceError {
            throw error
        } catch {
            throw PostgresServiceError(.connection, "\(service.name): \(PostgresSession.message(of: error))")
        }
    }

    /// Runs `body` holding the clones lock too. A failure leaves the lock held, but the session is then
    /// closed (see `withAdminSession`), which releases it.
    func holdingClonesLock<T: Sendable>(_ admin: PostgresSession, _ body: () async throws -> T) async throws -> T {
        try await admin.execute("select pg_advisory_lock(\(AdminLock.clones.rawValue))")
        let result = try await body()
        try await admin.execute("select pg_advisory_unlock(\(AdminLock.clones.rawValue))")
        return result
    }

    func quote(_ identifier: String) -> String { "\"\(identifier.replacingOccurrences(of: "\"", with: "\"\""))\"" }
    func literal(_ text: String) -> String { "'\(text.replacingOccurrences(of: "'", with: "''"))'" }
}

/// The advisory locks devstack's admin sessions take, one number each. A reset, a snapshot or a template
/// rebuild takes `.swap`; making a copy of the template takes `.clones`; a rebuild takes both (in that order, never the other).
enum AdminLock: Int64 {
    case swap = 74657374
    case clones = 74657375
}

/// At most one idle admin session per server, taken and given back whole (never shared while in use).
actor AdminSessions {
    static let shared = AdminSessions()
    private var idle: [String: PostgresSession] = [:]

    func take(_ endpoint: PostgresSession.Endpoint) async throws -> PostgresSession {
        if let session = idle.removeValue(forKey: Self.key(endpoint)), !session.connection.isClosed { return session }
        return try await PostgresSession.connect(endpoint)
    }

    func giveBack(_ session: PostgresSession, to endpoint: PostgresSession.Endpoint) async {
        let key = Self.key(endpoint)
        guard idle[key] == nil, !session.connection.isClosed else {
            try? await session.connection.close()
            return
        }
        idle[key] = session
    }

    /// Closes the idle session to a database about to be renamed away.
    func discard(_ endpoint: PostgresSession.Endpoint) async {
        if let session = idle.removeValue(forKey: Self.key(endpoint)) { try? await session.connection.close() }
    }

    private static func key(_ endpoint: PostgresSession.Endpoint) -> String {
        "\(endpoint.socketPath ?? "\(endpoint.host):\(endpoint.port)")/\(endpoint.database)"
    }
}
