import DevstackCore
import DevstackSystem
import Foundation

/// `devstack migrate`, `devstack migration new`, `devstack psql`.
public enum PostgresTools {
    /// The postgres service named, or the only one.
    public static func service(in plan: Plan, named name: String?) throws -> PlannedService {
        let databases = plan.services.filter { $0.kind.descriptor.keepsDatabase }
        if let name {
            guard let service = databases.first(where: { $0.name == name }) else {
                throw PostgresServiceError(
                    .connection, "no postgres service '\(name)' in stack '\(plan.stack)'",
                    fix: "postgres services: \(databases.map(\.name).joined(separator: ", ").ifEmpty("none"))")
            }
            return service
        }
        guard databases.count == 1, let only = databases.first else {
            throw PostgresServiceError(
                .connection, databases.isEmpty ? "stack '\(plan.stack)' has no postgres service" : "several postgres services",
                fix: databases.isEmpty
                    ? "add a service of kind postgres" : "name one with --service (\(databases.map(\.name).joined(separator: ", ")))")
        }
        return only
    }

    /// Applies pending migrations to the running server.
    public static func migrate(plan: Plan, service: PlannedService) async throws -> [String] {
        guard let endpoint = PostgresSession.Endpoint.of(service) else { return [] }
        guard (try? await PostgresSession.with(endpoint.with(database: "postgres")) { try await $0.execute("select 1") }) != nil else {
            throw PostgresServiceError(
                .connection, "\(service.name) is not running (nothing answers on port \(endpoint.port))", fix: "start it: devstack up \(service.name)"
            )
        }
        return try await PostgresSetup.run(service, plan: plan, seedNewDatabase: false)
    }

    /// `migrations/<UTC timestamp>_<name>.sql`, empty but for a comment.
    public static func newMigration(plan: Plan, service: PlannedService, name: String, now: Date = Date()) throws -> String {
        guard let folder = service.setting("migrations")?.description else {
            throw PostgresServiceError(
                .migrationFailed, "\(service.name) has no 'migrations:' folder", fix: "add 'migrations: migrations' to it in the stack")
        }
        let slug = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.reduce(into: "") { text, character in
            if !(character == "_" && text.hasSuffix("_")) { text.append(character) }
        }.trimmingCharacters(in: CharacterSet(charactersIn: "_"))
        guard !slug.isEmpty else { throw PostgresServiceError(.migrationFailed, "'\(name)' makes no file name", fix: "use letters and digits") }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let directory = FilePath.absolute(folder, relativeTo: plan.stackDirectory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(formatter.string(from: now))_\(slug).sql"
        guard !FileManager.default.fileExists(atPath: path) else {
            throw PostgresServiceError(.migrationFailed, "\(path) already exists", fix: "wait a second or choose another name")
        }
        try Data("-- \(name)\n".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Becomes psql, connected to the service's database with the stack's credentials.
    public static func execPsql(plan: Plan, service: PlannedService, arguments: [String], environment: [String: String]) throws -> Never {
        let installation = try PostgresInstallation.find(
            binDirectory: service.setting("bin_dir").map { FilePath.absolute($0.description, relativeTo: plan.projectDirectory) },
            version: nil, environment: environment)
        guard let endpoint = PostgresSession.Endpoint.of(service) else { throw PostgresServiceError(.connection, "\(service.name) has no port") }
        guard let psql = installation.psql(environment: environment) else {
            throw PostgresServiceError(
                .binariesMissing, "psql is not installed", fix: "install the Postgres client: \(BinaryDiscovery.postgresInstallCommand(nil))")
        }
        let argv = [psql, "-h", endpoint.host, "-p", String(endpoint.port), "-U", endpoint.user, "-d", endpoint.database] + arguments
        var merged = environment
        merged["PGPASSWORD"] = endpoint.password
        try ProcessReplacement.exec(psql, arguments: argv, environment: merged)
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
