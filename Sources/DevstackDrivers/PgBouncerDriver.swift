import DevstackCore
import DevstackDriverKit
import DevstackPostgres
import DevstackSystem
import Foundation

/// `kind: pgbouncer`, the companion of a postgres service with `pool: true`: PgBouncer on the
/// database's `pool` port, talking to Postgres over its private socket, clients signing in with the
/// database's password. A reset pauses it (clients' queries wait, their connections stay), drops
/// its server connections, and resumes it once the clean database is in place.
public final class PgBouncerDriver: ServiceDriver, @unchecked Sendable {
    private let lock = NSLock()
    /// The `psql` of each pooler's Postgres: PgBouncer's admin console speaks only the simple query
    /// protocol, which postgres-nio does not.
    private var psql: [String: String] = [:]

    public init() {}

    struct Target {
        let database: PlannedService
        let pool: Int
        let folder: String
    }

    func target(of service: PlannedService, in plan: Plan) throws -> Target {
        guard let name = service.partOf, let database = plan.service(named: name), let pool = service.primaryPort,
            let folder = service.attributes["socket"]
        else {
            throw PostgresServiceError(.dataDirectory, "\(service.name) has no postgres service with a pool port in the plan")
        }
        return Target(database: database, pool: pool, folder: folder)
    }

    public func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        guard let executable = BinaryDiscovery.pgbouncer(environment: context.environment) else {
            throw PostgresServiceError(
                .binariesMissing, "\(service.name): PgBouncer is not installed (the postgres service asks for pool: true)",
                fix: "install it: \(BinaryDiscovery.pgbouncerInstallCommand); or remove 'pool: true'")
        }
        let target = try target(of: service, in: context.plan)
        guard let socket = target.database.attributes["socket"], let port = target.database.primaryPort else {
            throw PostgresServiceError(.dataDirectory, "\(target.database.name) has no socket or port in the plan")
        }
        let user = try RunAsUser.resolve(target.database.setting("user")?.description)
        let installation = try PostgresInstallation.find(
            binDirectory: target.database.setting("bin_dir").map { FilePath.absolute($0.description, relativeTo: context.plan.projectDirectory) },
            version: nil, environment: context.environment)
        lock.withLock { psql[service.name] = "\(installation.binDirectory)/psql" }
        try RuntimeFolder.prepare(URL(fileURLWithPath: target.folder).deletingLastPathComponent().path)
        try FileManager.default.createDirectory(atPath: target.folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let password = target.database.attributes["password"] ?? ""
        let mode = service.setting("pool_mode")?.description ?? target.database.setting("pool_mode")?.description ?? "transaction"
        let files = [
            "pgbouncer.ini": """
            ; Written by devstack for \(target.database.name)'s pool: true, at every start.
            [databases]
            * = host=\(socket) port=\(port)

            [pgbouncer]
            listen_addr = \(context.plan.profile.host)
            listen_port = \(target.pool)
            unix_socket_dir = \(target.folder)
            auth_type = hba
            auth_hba_file = \(target.folder)/hba.conf
            auth_file = \(target.folder)/userlist.txt
            admin_users = postgres
            pool_mode = \(mode)
            max_client_conn = 1000
            default_pool_size = 20
            ignore_startup_parameters = extra_float_digits,options
            """,
            // devstack's own console sessions come over the private socket; clients sign in with the password.
            "hba.conf": "local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n",
            "userlist.txt": "\"postgres\" \"\(password.replacingOccurrences(of: "\"", with: "\"\""))\"\n",
        ]
        for (name, text) in files {
            let path = "\(target.folder)/\(name)"
            if let failure = StateDirectory.replace(path, with: Data((text + "\n").utf8), durable: false) {
                throw PostgresServiceError(.dataDirectory, "\(service.name): \(failure)")
            }
            user?.own(path)
        }
        user?.own(target.folder)
        return .process(
            LaunchSpec(
                executable: executable, arguments: ["\(target.folder)/pgbouncer.ini"], environment: [:], workingDirectory: target.folder,
                user: user?.name))
    }

    public func isReady(_ service: PlannedService, context: DriverContext) async -> Bool {
        guard let target = try? target(of: service, in: context.plan) else { return false }
        return await HealthProbe.tcpConnects(port: target.pool, timeout: .seconds(2))
    }

    /// Clients' queries wait from here; the server connections go, so none points at the database being swapped.
    public func pauseForReset(_ service: PlannedService, context: DriverContext) async throws {
        try console(service, context: context, ["PAUSE", "RECONNECT"])
    }

    public func resumeAfterReset(_ service: PlannedService, context: DriverContext) async {
        do {
            try console(service, context: context, ["RESUME"])
        } catch {
            context.sink.note(service: service.name, "could not resume the pool after the reset: \(error)")
        }
    }

    public func cleanUp(_ service: PlannedService, context: DriverContext) async {
        if let target = try? target(of: service, in: context.plan) { try? FileManager.default.removeItem(atPath: target.folder) }
    }

    /// Commands on PgBouncer's admin console, over its private socket (trusted there).
    private func console(_ service: PlannedService, context: DriverContext, _ commands: [String]) throws {
        let target = try target(of: service, in: context.plan)
        guard let psql = lock.withLock({ psql[service.name] }) else { return }
        let arguments =
            ["-X", "-q", "-h", target.folder, "-p", String(target.pool), "-U", "postgres", "-d", "pgbouncer"] + commands.flatMap { ["-c", $0] }
        let (status, output) = ToolOutput.run(psql, arguments)
        guard status == 0 else {
            throw PostgresServiceError(.connection, "\(service.name): \(commands.joined(separator: ", ")) failed: \(output)")
        }
    }
}
