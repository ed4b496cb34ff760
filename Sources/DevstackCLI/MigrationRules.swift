import ArgumentParser
import DevstackCore
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import Foundation

/// Migrations staging first, production only with approval (staging-by-default, rule 3), for the
/// databases devstack does not run here: a managed staging and production, reached by their URLs.
enum MigrationRules {
    /// How to reach a profile's database: a remote profile's URL (credentials from the environment),
    /// or the stack running here.
    static func endpoint(_ plan: Plan, service: PlannedService, running: SupervisorRecord?) throws -> PostgresSession.Endpoint {
        if plan.profile.remote {
            guard let url = service.remoteURL, let endpoint = PostgresSession.Endpoint(url: url) else {
                throw SupervisorError(
                    .refused, "profile '\(plan.profile.name)' gives \(service.name) no postgresql:// URL with a user and password",
                    fix: "set the environment variable its url: reads (production credentials are never stored)")
            }
            return endpoint
        }
        guard running != nil, let endpoint = PostgresSession.Endpoint.of(service) else {
            throw SupervisorError(
                .notRunning, "profile '\(plan.profile.name)' is not running here",
                fix: "devstack up --profile \(plan.profile.name) --detach (its migrations are applied at start)")
        }
        return endpoint
    }

    static func files(_ plan: Plan, service: PlannedService) throws -> [Migrator.File] {
        guard let folder = service.setting("migrations")?.description else { return [] }
        return try Migrator(directory: FilePath.absolute(folder, relativeTo: plan.stackDirectory)).files()
    }

    /// The files not applied yet; refused, with nothing applied, when one was changed since it was.
    static func pending(_ files: [Migrator.File], applied: [String: String], on target: String) throws -> [Migrator.File] {
        let status = SupabaseMigrations.status(of: files, applied: applied)
        guard status.changed.isEmpty else {
            throw SupervisorError(
                .refused, "\(status.changed.joined(separator: ", ")) changed since applied to \(target); nothing was applied",
                fix: "put the files back as they were and add new migrations for the changes (devstack migration new NAME)")
        }
        return files.filter { status.pending.contains($0.name) }
    }

    /// `devstack migrate` for a remote profile.
    static func migrateRemote(
        _ plan: Plan, service: PlannedService, project: ProjectOptions, from source: String, approve: Bool
    ) async throws -> [String] {
        let files = try files(plan, service: service)
        let target = try endpoint(plan, service: service, running: nil)
        let applied = try await PostgresSession.with(target) { try await SupabaseMigrations.applied(on: $0) }
        let pending = try pending(files, applied: applied, on: "'\(plan.profile.name)'")
        guard !pending.isEmpty else { return [] }
        if plan.profile.environment == .production {
            try await checkOnStaging(pending, project: project, from: source, service: service.name)
            var lines = ["devstack: the plan for production profile '\(plan.profile.name)' (each file in its own transaction):"]
            for file in pending {
                let statements = SupabaseMigrations.statements(of: file)
                lines.append("  \(file.name)  checksum \(SupabaseMigrations.checksum(statements))  \(statements.count) statement(s)")
                lines += statements.map { "      " + ($0.split(separator: "\n").first.map(String.init) ?? "") }
            }
            Console.standardOutput.write(lines.joined(separator: "\n") + "\n")
            guard approve else {
                throw SupervisorError(
                    .refused, "production migrations need approval; nothing was applied",
                    fix: "read the plan above, then run it again with --approve")
            }
            if isatty(STDIN_FILENO) == 1 {
                let name = URL(fileURLWithPath: plan.projectDirectory).lastPathComponent
                Console.standardOutput.write("Type the project's name (\(name)) to apply this to production: ")
                guard readLine()?.trimmingCharacters(in: .whitespaces) == name else {
                    throw SupervisorError(.refused, "the name did not match; nothing was applied")
                }
            }
        }
        return try await PostgresSession.with(target) { try await SupabaseMigrations.apply(pending, on: $0) }
    }

    /// What a profile's database has applied (version → checksum): asked of its host when it runs on
    /// another machine, else read from its database.
    static func applied(on profile: String, project: ProjectOptions, service: String?, refusingProduction: Bool = false) async throws -> [String:
        String]
    {
        if let remote = try RemoteStack.of(project, profile: profile) { return try await remote.client().appliedMigrations() }
        let (plan, running) = try await project.workspace(profile: profile).planMatchingRunningStack(environment: project.environment)
        if refusingProduction && plan.profile.environment == .production {
            throw ValidationError("--from \(profile): production migrations come from staging, not from another production profile")
        }
        let database = try PostgresTools.service(in: plan, named: service)
        return try await PostgresSession.with(try endpoint(plan, service: database, running: running)) {
            try await SupabaseMigrations.applied(on: $0)
        }
    }

    /// Production takes only what staging has applied, with the same statements.
    private static func checkOnStaging(_ pending: [Migrator.File], project: ProjectOptions, from source: String, service: String) async throws {
        let onStaging = try await applied(on: source, project: project, service: service, refusingProduction: true)
        let missing = pending.filter { onStaging[$0.version] == nil }
        let mismatched = pending.filter { file in onStaging[file.version].map { $0 != SupabaseMigrations.checksum(of: file) } ?? false }
        guard missing.isEmpty && mismatched.isEmpty else {
            var reasons = missing.map { "\($0.name) is not applied on '\(source)'" }
            reasons += mismatched.map { "\($0.name) was applied on '\(source)' with other statements (its checksum differs)" }
            throw SupervisorError(
                .refused, "production takes only what staging has applied; nothing was applied:\n    " + reasons.joined(separator: "\n    "),
                fix: "devstack migrate --profile \(source) first, test there, then migrate production")
        }
    }
}

struct Migrations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrations", abstract: "Where each environment stands with the migration files.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per profile: which files are applied, pending, or changed since applied.",
            discussion: "Read from supabase_migrations.schema_migrations, where devstack and the Supabase CLI record them.")

        @OptionGroup var project: ProjectOptions

        @Option(help: "The postgres service. (default: the only one)")
        var service: String?

        @Flag(help: "Print JSON.")
        var json = false

        struct Row: Codable {
            var profile: String
            var environment: String
            var status: SupabaseMigrations.Status?
            var unavailable: String?
        }

        func run() async throws {
            let directory = try project.workspace().projectDirectory
            var rows: [Row] = []
            for profile in ProjectLoader.availableProfiles(in: directory) {
                let plan = try await project.workspace(profile: profile).plan(environment: project.environment, persistSecrets: false)
                var row = Row(profile: profile, environment: plan.profile.environment.rawValue)
                do {
                    let files = try MigrationRules.files(plan, service: try PostgresTools.service(in: plan, named: service))
                    let applied = try await MigrationRules.applied(on: profile, project: project, service: service)
                    row.status = SupabaseMigrations.status(of: files, applied: applied)
                } catch let error as any DevstackError {
                    row.unavailable = error.message
                } catch {
                    row.unavailable = PostgresSession.message(of: error)
                }
                rows.append(row)
            }
            if json { return try Console.standardOutput.writeJSON(rows) }
            var lines: [String] = []
            for row in rows {
                guard let status = row.status else {
                    lines.append("\(row.profile) (\(row.environment)): not looked at: \(row.unavailable ?? "")")
                    continue
                }
                lines.append(
                    "\(row.profile) (\(row.environment)): \(status.applied.count) applied, \(status.pending.count) pending, \(status.changed.count) changed"
                )
                lines += status.pending.map { "  pending  \($0)" } + status.changed.map { "  CHANGED  \($0)" }
            }
            Console.standardOutput.write(lines.joined(separator: "\n") + "\n")
        }
    }
}
