import ArgumentParser
import DevstackPostgres
import DevstackProject
import DevstackSupervisor

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations: to the running Postgres service, or a remote profile's database.",
        discussion: """
            A remote profile's database (a managed staging, production) is reached by its URL and takes each             pending file in its own transaction, recorded in supabase_migrations.schema_migrations. Production             takes only files the staging profile (--from) has applied with the same statements, prints its             plan, and needs --approve (and, on a terminal, the project's name typed back).
            """)

    @OptionGroup var project: ProjectOptions

    @Option(help: "The postgres service. (default: the only one)")
    var service: String?

    @Flag(help: "Production: apply the plan shown.")
    var approve = false

    @Option(help: "Production: the profile whose applied migrations production may take.")
    var from = "staging"

    func run() async throws {
        if let remote = try RemoteStack.of(project) {
            let applied = try await remote.migrate(project, service: service)
            return Console.standardOutput.write(
                (applied.isEmpty
                    ? ["devstack: no pending migrations on \(remote.host.endpoint)"]
                    : applied.map { "devstack: applied migration \($0) on \(remote.host.endpoint)" }).joined(separator: "\n") + "\n")
        }
        let (plan, _) = try await project.workspace().planMatchingRunningStack(environment: project.environment)
        let database = try PostgresTools.service(in: plan, named: service)
        let notes =
            plan.profile.remote
            ? try await MigrationRules.migrateRemote(plan, service: database, project: project, from: from, approve: approve).map {
                "applied migration \($0) to \(plan.profile.name)"
            }
            : try await PostgresTools.migrate(plan: plan, service: database)
        Console.standardOutput.write(
            (notes.isEmpty ? ["devstack: no pending migrations"] : notes.map { "devstack: \($0)" }).joined(separator: "\n") + "\n")
    }
}

struct Migration: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migration",
        abstract: "Manage migration files.", subcommands: [New.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "new", abstract: "Create migrations/<UTC timestamp>_<name>.sql.")

        @OptionGroup var project: ProjectOptions

        @Option(help: "The postgres service. (default: the only one)")
        var service: String?

        @Argument(help: "What the migration does, e.g. add_profiles.")
        var name: String

        func run() async throws {
            let plan = try await project.workspace().plan(environment: project.environment, persistSecrets: false)
            let path = try PostgresTools.newMigration(plan: plan, service: PostgresTools.service(in: plan, named: service), name: name)
            Console.standardOutput.write("created \(path)\n")
        }
    }
}

struct Psql: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "psql",
        abstract: "Open psql on the stack's database with the right credentials.",
        discussion: "devstack psql            devstack psql -- -c 'select count(*) from auth.users'")

    @OptionGroup var project: ProjectOptions

    @Option(help: "The postgres service. (default: the only one)")
    var service: String?

    @Argument(parsing: .captureForPassthrough, help: "Arguments for psql, after --.")
    var arguments: [String] = []

    func run() async throws {
        let (plan, _) = try await project.workspace().planMatchingRunningStack(environment: project.environment)
        try PostgresTools.execPsql(
            plan: plan, service: PostgresTools.service(in: plan, named: service),
            arguments: arguments.first == "--" ? Array(arguments.dropFirst()) : arguments, environment: project.environment)
    }
}
