import DevstackCore
import DevstackDriverKit
import DevstackPostgres
import DevstackSystem
import Foundation

/// `kind: postgres`: the real server, found on the machine, initialised on first start, run as an
/// unprivileged user when devstack is root, ready when `select 1` answers, then bootstrapped,
/// migrated and seeded.
public final class PostgresDriver: ServiceDriver, @unchecked Sendable {
    private let lock = NSLock()
    private var prepared: Set<String> = []
    private var dataDirectories: [String: String] = [:]
    /// Services launched and not yet set up, and the connection that found each ready: the set-up
    /// runs on it rather than on a second one (a connection is a new server process, ~5 ms here).
    private var awaitingSetUp: Set<String> = []
    /// Services whose cluster initdb made (or the initdb cache gave) in this run.
    private var freshClusters: Set<String> = []
    /// Services whose cluster came from the initdb cache and still has the cache's throwaway password.
    private var cachedClusters: Set<String> = []
    /// Services whose cluster came from the initdb cache with kept data: its spare is made again once the stack settles.
    private var spareRefills: [String: InitdbCache.Key] = [:]
    /// The spare being made: a stop right after a first start lets it finish (a second or so, once).
    private var refilling: [String: Task<Void, Never>] = [:]
    /// Services set up while the stack was still starting, whose reset copies wait for it to settle.
    private var awaitingPreparation: [String: DatabaseReset] = [:]
    /// Services of a stack that has settled since it started: their later set-ups prepare at once.
    private var settled: Set<String> = []
    /// Services whose cluster holds the initdb cache's prepared database, to be renamed into theirs.
    private var preparedClusters: Set<String> = []
    private var readyConnections: [String: ReadyConnection] = [:]
    private var leases: [String: PostgresLeasing] = [:]
    /// Services whose profile asks for backups, with their repository (set at each launch).
    private var repositories: [String: BackupRepository] = [:]

    /// The connection that found a server ready, and the role's stored password verifier, which its
    /// first query read (one round trip instead of `select 1` and then the read).
    private struct ReadyConnection {
        let session: PostgresSession
        let verifier: ScramVerifier?
    }

    public init() {}

    public func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        let plan = context.plan
        let installation = try PostgresInstallation.find(
            binDirectory: service.setting("bin_dir").map { FilePath.absolute($0.description, relativeTo: plan.projectDirectory) },
            version: { if case .int(let version)? = service.setting("version") { return version } else { return nil } }(),
            environment: context.environment)
        let user = try RunAsUser.resolve(service.setting("user")?.description)
        let layout = try DataLayout.prepare(service, plan: plan, user: user)
        let firstLaunchOfRun = lock.withLock {
            dataDirectories[service.name] = layout.dataDirectory
            awaitingSetUp.insert(service.name)
            return prepared.insert(service.name).inserted
        }
        if layout.ephemeral && firstLaunchOfRun {
            // Throw-away data from a run that crashed before it could clean up.
            try? FileManager.default.removeItem(atPath: layout.dataDirectory)
        }
        if FileManager.default.fileExists(atPath: "\(layout.dataDirectory)/PG_VERSION") {
            try checkVersion(layout.dataDirectory, installation: installation, service: service, plan: plan)
            try removeStalePidFile(layout.dataDirectory)
        } else {
            try await initdb(service, installation: installation, layout: layout, user: user, context: context)
            lock.withLock { _ = freshClusters.insert(service.name) }
        }
        guard let port = service.primaryPort else { throw PostgresServiceError(.dataDirectory, "\(service.name) has no port") }
        var listen = plan.profile.host
        var settings = plan.postgresSettings.map { ($0.name, $0.value) }
        if let exposure = plan.profile.exposure, exposure.exposes(service.name) {
            listen += ",\(exposure.address)"
            settings += try Self.exposureSettings(exposure, layout: layout, user: user)
        }
        var arguments = ["-D", layout.dataDirectory, "-p", String(port), "-k", layout.socketDirectory, "-h", listen]
        if let repository = try backupRepository(service, plan: plan, layout: layout, user: user, installation: installation, context: context) {
            settings += repository.tool.serverSettings
        }
        for (name, value) in settings { arguments += ["-c", "\(name)=\(value)"] }
        return .process(
            LaunchSpec(
                executable: installation.postgres, arguments: arguments, environment: PostgresInstallation.serverEnvironment(context.environment),
                workingDirectory: layout.dataDirectory, user: user?.name))
    }

    /// Exposed to other machines: TLS with the profile's certificate (copied into the data folder, where
    /// Postgres's user owns it, as Postgres requires of its key), and client rules of devstack's own that
    /// let other machines in only over TLS and with the password.
    static func exposureSettings(_ exposure: PlannedExposure, layout: DataLayout, user: RunAsUser?) throws -> [(String, String)] {
        let certificate = "\(layout.dataDirectory)/devstack-server.crt"
        let key = "\(layout.dataDirectory)/devstack-server.key"
        let rules = "\(layout.dataDirectory)/devstack_hba.conf"
        let hba = """
            # Written by devstack at every start: the profile exposes this server on \(exposure.address).
            # This machine: its socket folder (mode 0700) and loopback with the password; others: TLS and the password only.
            local   all          all                 trust
            local   replication  all                 trust
            host    all          all   127.0.0.1/32  scram-sha-256
            host    all          all   ::1/128       scram-sha-256
            hostssl all          all   all           scram-sha-256

            """
        for (source, target) in [(exposure.certificateFile, certificate), (exposure.keyFile, key)] {
            guard let data = FileManager.default.contents(atPath: source) else {
                throw PostgresServiceError(.dataDirectory, "the TLS file \(source) is missing", fix: "start the stack again: devstack makes it")
            }
            try Self.writePrivate(data, to: target, user: user)
        }
        try Self.writePrivate(Data(hba.utf8), to: rules, user: user)
        return [("ssl", "on"), ("ssl_cert_file", certificate), ("ssl_key_file", key), ("hba_file", rules)]
    }

    private static func writePrivate(_ data: Data, to path: String, user: RunAsUser?) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0, Descriptor.writeAll(descriptor, data) else {
            if descriptor >= 0 { close(descriptor) }
            throw PostgresServiceError(
                .dataDirectory, "cannot write \(path): \(String(cString: strerror(errno)))", fix: "check the folder's permissions")
        }
        close(descriptor)
        user?.own(path)
    }

    /// The profile's `backups:` for this service: pgBackRest's configuration written, the repository
    /// remembered for `backups(_:context:)`; nil when the profile backs up another service or none.
    private func backupRepository(
        _ service: PlannedService, plan: Plan, layout: DataLayout, user: RunAsUser?, installation: PostgresInstallation, context: DriverContext
    ) throws -> BackupRepository? {
        guard let policy = plan.profile.backups, policy.service == service.name, let port = service.primaryPort,
            let endpoint = PostgresSession.Endpoint.of(service)
        else { return nil }
        let root = URL(fileURLWithPath: layout.dataDirectory).deletingLastPathComponent().appendingPathComponent("\(service.name)-backups").path
        let repository = policy.repository.map { FilePath.absolute($0, relativeTo: plan.projectDirectory) } ?? "\(root)/repo"
        let tool = PgBackRest(
            executable: try PgBackRest.find(environment: context.environment), stanza: service.name,
            layout: PgBackRest.Layout(root: root, repository: repository), dataDirectory: layout.dataDirectory,
            socketDirectory: layout.socketDirectory, port: port, role: endpoint.user, user: user, retention: policy.retention,
            cipherKey: policy.encrypt ? plan.secrets["backup_key"] : nil)
        try tool.writeConfiguration()
        let settings = plan.postgresSettings.map { ($0.name, $0.value) } + tool.serverSettings
        let engine = BackupRepository(tool: tool, endpoint: endpoint, postgres: installation.postgres, liveSettings: settings)
        lock.withLock { repositories[service.name] = engine }
        return engine
    }

    public func backups(_ service: PlannedService, context: DriverContext) -> (any DatabaseBackups)? {
        lock.withLock { repositories[service.name] }.map(PostgresBackups.init)
    }

    /// Ready when Postgres says so in `postmaster.pid` and a real connection answers a query (`select 1`
    /// once set up). Asking before the first would make Postgres log "the database system is starting up".
    public func isReady(_ service: PlannedService, context: DriverContext) async -> Bool {
        guard serverSaysReady(service) else { return false }
        guard let endpoint = PostgresSession.Endpoint.of(service) else { return false }
        // A cluster initdb just made has no database of the service's yet: asking for it would put a
        // FATAL in the user's log, so only the maintenance database is asked.
        if lock.withLock({ awaitingSetUp.contains(service.name) && !freshClusters.contains(service.name) }) {
            do {
                let session = try await PostgresSession.connect(endpoint)
                let verifier: String?
                do {
                    verifier = try await session.strings("select coalesce(rolpassword, '') from pg_authid where rolname = current_user").first
                } catch {
                    session.closeInBackground()
                    return false
                }
                let ready = ReadyConnection(session: session, verifier: verifier.flatMap(ScramVerifier.init))
                lock.withLock { readyConnections.updateValue(ready, forKey: service.name) }?.session.closeInBackground()
                return true
            } catch  where PostgresSession.sqlState(of: error) == "3D000" {
                // The set-up creates the database; whether the server answers is asked of the maintenance database.
            } catch {
                return false
            }
        }
        return (try? await PostgresSession.with(endpoint.with(database: "postgres")) { try await $0.execute("select 1") }) != nil
    }

    public func initialize(_ service: PlannedService, context: DriverContext) async throws {
        let (ready, fresh, cached, prepared) = lock.withLock {
            awaitingSetUp.remove(service.name)
            return (
                readyConnections.removeValue(forKey: service.name), freshClusters.remove(service.name) != nil,
                cachedClusters.remove(service.name) != nil, preparedClusters.remove(service.name) != nil
            )
        }
        do {
            // A verifier made here is known to match; one the server hashed (a password it must normalise) is checked.
            let madeVerifier = cached ? try await setPassword(service, on: ready?.session) : false
            // The socket trusts, so make sure the password clients are given really works: against the
            // stored verifier the ready connection read (no TCP connection, no hashing in the server),
            // else by signing in over TCP during the set-up.
            async let passwordWorks = madeVerifier ? true : Self.passwordWorks(service, verifier: cached ? nil : ready?.verifier)
            for line in try await PostgresSetup.run(
                service, plan: context.plan, seedNewDatabase: true, on: ready?.session, freshCluster: fresh,
                preparedDatabase: prepared ? PreparedDatabase.name : nil)
            {
                context.sink.note(service: service.name, line)
            }
            guard try await passwordWorks else { throw wrongPassword(service, context: context) }
            if let repository = lock.withLock({ repositories[service.name] }) {
                // pgBackRest reads the cluster's identity from the running server: the stanza is made now, once.
                do {
                    try await repository.prepare()
                } catch {
                    context.sink.note(service: service.name, "backups are not ready: \(error)")
                }
            }
            // Ready the clean-state template and spares in the background, so even the first reset is a
            // swap: once the stack has settled (their copies would slow the services starting after this one).
            if let engine = DatabaseReset(service: service, plan: context.plan) {
                let now = lock.withLock { () -> Bool in
                    if settled.contains(service.name) { return true }
                    awaitingPreparation[service.name] = engine
                    return false
                }
                if now { prepareResets(engine, service: service, sink: context.sink) }
            }
        } catch  where PostgresSession.sqlState(of: error) == "28P01" {
            throw wrongPassword(service, context: context)
        }
    }

    public func stackSettled(_ service: PlannedService, context: DriverContext) async {
        let engine = lock.withLock {
            settled.insert(service.name)
            return awaitingPreparation.removeValue(forKey: service.name)
        }
        if let engine { prepareResets(engine, service: service, sink: context.sink) }
        if let key = lock.withLock({ spareRefills.removeValue(forKey: service.name) }) {
            let refill = Task(priority: .background) { await InitdbCache().refillSpare(key) }
            lock.withLock { refilling[service.name] = refill }
        }
    }

    private func prepareResets(_ engine: DatabaseReset, service: PlannedService, sink: any ServiceOutput) {
        Task {
            do {
                try await engine.prepare()
            } catch {
                // Stopped right after starting is no failure: the next start prepares it.
                if self.serverSaysReady(service) { sink.note(service: service.name, "preparing the reset template failed: \(error)") }
            }
        }
    }

    /// A cluster from the initdb cache gets the profile's password over the trusted local socket, as
    /// a SCRAM verifier made here when it can be (no hashing in the server, nothing to check after).
    /// Returns whether it was.
    private func setPassword(_ service: PlannedService, on session: PostgresSession?) async throws -> Bool {
        let password = service.attributes["password"] ?? ""
        let verifier = ScramVerifier.make(for: password)
        let statement = "alter role postgres with password '\((verifier ?? password).replacingOccurrences(of: "'", with: "''"))'"
        if let session {
            try await session.execute(statement)
        } else if let socket = PostgresSession.Endpoint.of(service, database: "postgres") {
            try await PostgresSession.with(socket) { try await $0.execute(statement) }
        }
        return verifier != nil
    }

    /// Whether the service's password is the role's: computed against the stored verifier when there
    /// is one to read, else by signing in over TCP (false there is Postgres's refusal, 28P01, thrown).
    private static func passwordWorks(_ service: PlannedService, verifier: ScramVerifier?) async throws -> Bool {
        guard let password = service.attributes["password"], var tcp = PostgresSession.Endpoint.of(service, database: "postgres") else { return true }
        if let matches = verifier?.matches(password) { return matches }
        tcp.socketDirectory = nil
        try await PostgresSession.with(tcp) { try await $0.execute("select 1") }
        return true
    }

    private func wrongPassword(_ service: PlannedService, context: DriverContext) -> PostgresServiceError {
        let data = lock.withLock { dataDirectories[service.name] } ?? "its data folder"
        return PostgresServiceError(
            .connection, "Postgres refused the password in .devstack/\(context.plan.profile.name)/secrets: \(data) was set up with another one",
            fix: "put back the secrets file that belongs to this data, or remove \(data) to start from an empty database")
    }

    public func reset(_ service: PlannedService, context: DriverContext, to snapshot: String?) async throws -> ResetOutcome? {
        guard let engine = DatabaseReset(service: service, plan: context.plan) else { return nil }
        let report = try await engine.reset(to: snapshot)
        var details = [
            "database": report.database, "template_rebuilt": String(report.rebuiltTemplate), "used_spare": String(report.usedSpare),
            "stale_snapshot": String(report.staleSnapshot), "path": report.repairedTables == nil ? "swapped" : "repaired",
        ]
        var summary =
            snapshot.map { "restored snapshot \($0) into \(report.database)" } ?? "reset \(report.database) to the migrated and seeded state"
        summary += " in \(report.milliseconds) ms"
        if let tables = report.repairedTables {
            details["repaired_tables"] = String(tables)
            summary += " (put \(tables) changed table\(tables == 1 ? "" : "s") back in place)"
            return ResetOutcome(service: service.name, summary: summary, milliseconds: report.milliseconds, details: details)
        }
        // Drop the old database and clone the next spare after answering; the advisory lock makes the next reset wait if needed.
        let sink = context.sink
        Task {
            do {
                try await engine.maintain(snapshot: snapshot)
            } catch {
                // Stopped meanwhile is no failure: the next reset clones what it lacks.
                if self.serverSaysReady(service) { sink.note(service: service.name, "preparing the next reset failed: \(error)") }
            }
        }
        if let reason = report.swapReason {
            details["swap_reason"] = reason
            summary += " (swapped in a clean copy: \(reason))"
        }
        if report.rebuiltTemplate { summary += " (rebuilt the clean-state template first: \(report.rebuildReason ?? "it changed"))" }
        if !report.usedSpare && !report.rebuiltTemplate { summary += " (no spare was ready: waited for a copy)" }
        if report.staleSnapshot { summary += " (warning: the snapshot was taken before the migrations or seed changed)" }
        return ResetOutcome(service: service.name, summary: summary, milliseconds: report.milliseconds, details: details)
    }

    public func leasing(_ service: PlannedService, context: DriverContext) -> (any DatabaseLeasing)? {
        lock.withLock {
            if let existing = leases[service.name] { return existing }
            var poolSize = 4
            if case .int(let size)? = service.setting("lease_pool") { poolSize = size }
            var maximumAge = Duration.seconds(3600)
            if case .duration(let age)? = service.setting("lease_max_age") { maximumAge = age }
            guard let pool = DatabaseLeases(service: service, plan: context.plan, poolSize: poolSize) else { return nil }
            let leasing = PostgresLeasing(pool: pool, maximumAge: maximumAge)
            leases[service.name] = leasing
            return leasing
        }
    }

    /// The run's folder in /tmp (the socket, and ephemeral data) does not outlive the run.
    public func cleanUp(_ service: PlannedService, context: DriverContext) async {
        await lock.withLock { refilling.removeValue(forKey: service.name) }?.value
        guard let socket = service.attributes["socket"] else { return }
        let runtime = URL(fileURLWithPath: socket).deletingLastPathComponent().path
        if context.plan.profile.data == .ephemeral { try? FileManager.default.removeItem(atPath: "\(runtime)/\(service.name)-data") }
        try? FileManager.default.removeItem(atPath: socket)
        // The last database out removes the folder they shared.
        rmdir(runtime)
        lock.withLock {
            prepared.remove(service.name)
            leases.removeValue(forKey: service.name)
            awaitingSetUp.remove(service.name)
            freshClusters.remove(service.name)
            preparedClusters.remove(service.name)
            settled.remove(service.name)
            awaitingPreparation.removeValue(forKey: service.name)
            return readyConnections.removeValue(forKey: service.name)
        }?.session.closeInBackground()
    }

    /// Postgres's own status line in `postmaster.pid`: "ready" once it accepts connections, "stopping"
    /// once told to stop, and no file once stopped.
    private func serverSaysReady(_ service: PlannedService) -> Bool {
        guard let data = lock.withLock({ dataDirectories[service.name] }),
            let text = try? String(contentsOfFile: "\(data)/postmaster.pid", encoding: .utf8)
        else { return false }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count > 7 && lines[7].trimmingCharacters(in: .whitespaces) == "ready"
    }

    // MARK: Steps

    /// initdb's options besides the folder and the password: what makes two clusters interchangeable.
    static let initdbOptions = ["-U", "postgres", "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256"]

    /// A new cluster in a folder beside the data's, renamed into place once complete and on disk:
    /// whatever stops devstack meanwhile (initdb dies with it), no half-made folder is taken for data
    /// later. It is a copy of the machine's initdb cache entry (made first if missing) unless the
    /// service asks for `fresh_initdb: true` (its own system identifier, e.g. for backups).
    private func initdb(
        _ service: PlannedService, installation: PostgresInstallation, layout: DataLayout, user: RunAsUser?, context: DriverContext
    ) async throws {
        let data = layout.dataDirectory
        let staging = "\(data).initdb"
        try? FileManager.default.removeItem(atPath: staging)
        func makeCluster(password: String, sync: Bool) async throws {
            try await runInitdb(
                service, into: staging, password: password, sync: sync, installation: installation, layout: layout, user: user, context: context)
        }
        if case .bool(true)? = service.setting("fresh_initdb") {
            try await makeCluster(password: service.attributes["password"] ?? "", sync: !layout.ephemeral)
        } else {
            let supabase = service.setting("supabase") == .bool(true)
            let key = InitdbCache.Key(
                majorVersion: installation.majorVersion, binDirectory: installation.binDirectory, options: Self.initdbOptions,
                prepared: PreparedDatabase.fingerprint(supabase: supabase))
            let cache = InitdbCache()
            var prepared = true
            do {
                let (entry, filled) = try await cache.entry(key) {
                    // A throwaway password: the copy gets the profile's own when it first starts.
                    try await makeCluster(password: UUID().uuidString, sync: true)
                    try await PreparedDatabase.build(
                        in: staging, postgres: installation.postgres, socketDirectory: layout.socketDirectory, user: user, role: "postgres",
                        supabase: supabase)
                    return staging
                }
                if !filled && !layout.ephemeral && cache.takeSpare(key, to: staging) {
                    context.sink.note(service: service.name, "cluster taken from the initdb cache's spare copy (\(cache.root))")
                } else if !filled {
                    context.sink.note(service: service.name, "cluster copied from the initdb cache (\(cache.root))")
                    try FileTree.clone(entry, to: staging)
                    // As initdb syncs what it writes: a kept cluster must be on disk before it gets its name.
                    if !layout.ephemeral { FileTree.sync() }
                }
                // Kept data's next first start (another checkout, another project) takes a spare made once this stack has settled.
                if !layout.ephemeral { lock.withLock { spareRefills[service.name] = key } }
            } catch let unavailable as InitdbCache.Unavailable {
                context.sink.note(service: service.name, "initdb cache not used: \(unavailable.reason)")
                if unavailable.filled == nil {
                    try await makeCluster(password: UUID().uuidString, sync: !layout.ephemeral)
                    prepared = false
                }
            }
            lock.withLock {
                cachedClusters.insert(service.name)
                if prepared { preparedClusters.insert(service.name) }
            }
        }
        // Onto an empty folder or none; a folder with files in it is not ours to replace.
        guard rename(staging, data) == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            throw DataLayout.notData(data)
        }
        if !layout.ephemeral { DiskSync.syncFolder(URL(fileURLWithPath: data).deletingLastPathComponent().path) }
    }

    private func runInitdb(
        _ service: PlannedService, into staging: String, password: String, sync: Bool, installation: PostgresInstallation, layout: DataLayout,
        user: RunAsUser?, context: DriverContext
    ) async throws {
        let data = layout.dataDirectory
        try DataLayout.makeDirectory(staging, mode: 0o700)
        user?.own(staging)
        let passwordFile = "\(layout.socketDirectory)/initdb-password"
        // The socket folder belongs to the user Postgres runs as: a file made afresh, never through a link left there.
        unlink(passwordFile)
        let descriptor = open(passwordFile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0, Descriptor.writeAll(descriptor, Data(password.utf8)) else {
            if descriptor >= 0 { close(descriptor) }
            throw PostgresServiceError(
                .initdbFailed, "cannot write \(passwordFile): \(String(cString: strerror(errno)))",
                fix: "remove \(layout.socketDirectory) and start again")
        }
        close(descriptor)
        user?.own(passwordFile)
        defer { unlink(passwordFile) }
        var arguments = ["-D", staging] + Self.initdbOptions + ["--pwfile=\(passwordFile)"]
        if !sync { arguments.append("--no-sync") }
        if installation.majorVersion >= 14 { arguments.append("--no-instructions") }
        context.sink.note(service: service.name, "initdb \(data)" + (user.map { " as \($0.name)" } ?? ""))
        let output = Pipe()
        let child = try await ChildLauncher.shared.launch(
            LaunchRequest(
                executable: installation.initdb, arguments: arguments, environment: PostgresInstallation.serverEnvironment(context.environment),
                workingDirectory: layout.socketDirectory, user: user?.name, standardOutput: output.fileHandleForWriting,
                standardError: output.fileHandleForWriting))
        try? output.fileHandleForWriting.close()
        let text = await ToolOutput.text(of: output.fileHandleForReading)
        let status = await child.waitForExit()
        guard status.succeeded else {
            try? FileManager.default.removeItem(atPath: staging)
            throw PostgresServiceError(
                .initdbFailed, "initdb for \(service.name) failed (\(status)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))",
                fix: "check that \(URL(fileURLWithPath: data).deletingLastPathComponent().path) is writable" + (user.map { " by \($0.name)" } ?? ""))
        }
    }

    private func checkVersion(_ data: String, installation: PostgresInstallation, service: PlannedService, plan: Plan) throws {
        let text = (try? String(contentsOfFile: "\(data)/PG_VERSION", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        guard Int(text) != installation.majorVersion else { return }
        throw PostgresServiceError(
            .versionMismatch,
            "the data of \(service.name) (\(data)) was made by Postgres \(text), but the binaries found are Postgres \(installation.majorVersion) (\(installation.binDirectory))",
            fix: "use the matching binaries ('version: \(text)' or 'bin_dir:' on \(service.name)), upgrade the data with pg_upgrade, "
                + "or move the folder aside to start from an empty database")
    }

    /// A `postmaster.pid` left by a crash names a pid that is gone (or reused by something else): remove it.
    private func removeStalePidFile(_ data: String) throws {
        let file = "\(data)/postmaster.pid"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8), let pid = text.split(separator: "\n").first.flatMap({ Int32($0) })
        else { return }
        if ProcessTable.isAlive(pid) && Self.isPostgres(pid) {
            throw PostgresServiceError(
                .dataDirectory, "another Postgres (pid \(pid)) is already running on \(data)", fix: "stop it (kill -INT \(pid)), then start again")
        }
        unlink(file)
    }

    private static func isPostgres(_ pid: Int32) -> Bool {
        ProcessTable.commandLine(of: pid)?.contains("postgres") ?? false
    }
}

/// Postgres's backups: pgBackRest through the repository; the supervisor decides when.
struct PostgresBackups: DatabaseBackups {
    let repository: BackupRepository

    func backup(_ kind: BackupRecord.Kind, reason: String) async throws -> BackupRecord { try await repository.backup(kind, reason: reason) }
    func list() async throws -> [BackupRecord] { try await repository.list() }
    func verify(_ label: String?) async throws -> RepositoryCheck { try await repository.verify(label) }
    func checkRestore(to target: RestoreTarget) async throws { try await repository.checkRestore(to: target) }
    func flushChanges() async throws { try await repository.flushChanges() }
    func restore(to target: RestoreTarget) async throws { try await repository.restore(to: target) }
    func spaceNeeded() async -> Int? { await repository.spaceNeeded() }
}

/// Postgres's leases: the pool does the work, the profile sets how long a lease may live.
struct PostgresLeasing: DatabaseLeasing {
    let pool: DatabaseLeases
    let maximumAge: Duration

    func lease() async throws -> LeasedDatabase {
        let lease = try await pool.lease()
        return LeasedDatabase(name: lease.name, url: lease.url, milliseconds: lease.milliseconds, fromPool: lease.fromPool)
    }

    func release(_ name: String) async throws { try await pool.release(name) }

    func close() async { await pool.close() }
}
