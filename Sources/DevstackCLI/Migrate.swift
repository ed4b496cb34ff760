import ArgumentParser
import DevstackPostgres
import DevstackProject
import DevstackSupervisor

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations to the running Postgres service.")

    @OptionGroup var project: ProjectOptions

    @Option(help: "The postgres service. (default: the only one)")
    var service: String?

    func run() async throws {
        let (plan, _) = try await project.workspace().planMatchingRunningStack(environment: project.environment)
        let notes = try await PostgresTools.migrate(plan: plan, service: PostgresTools.service(in: plan, named: service))
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
