import ArgumentParser
import DevstackCore
import DevstackProject
import DevstackSupervisor
import Foundation

/// `devstack db lease|release|leases`: a database of its own for each test process.
struct Db: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Lease fresh databases (copies of the clean state) for parallel tests.",
        discussion: """
            devstack db lease                 prints a URL; the database is yours until you release it,
                                              your process exits, the stack is reset or stopped, or it
                                              reaches lease_max_age
            devstack db release NAME
            devstack db leases
            Test processes in any language use the same over HTTP at $DEVSTACK_LEASE_URL (see README).
            """,
        subcommands: [Lease.self, Release.self, Leases.self])

    /// The running supervisor of the project's profile; leases never start a stack.
    static func control(_ project: ProjectOptions) async throws -> ControlClient {
        let workspace = try project.workspace()
        let store = StateStore(directory: workspace.stateDirectory)
        if ProjectLock.isHeld(store.lockFile) { return ControlClient(socket: store.controlSocket) }
        let plan = try await workspace.plan(environment: project.environment)
        if plan.profile.remote {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' is remote: devstack leases no databases of it",
                fix: "lease from a local, ci or staging stack instead")
        }
        throw SupervisorError(
            .notRunning, "the \(plan.profile.name) stack is not running: leases come from a running stack",
            fix: "start it first: devstack up -d --profile \(plan.profile.name)")
    }

    struct Lease: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lease", abstract: "Lease a fresh database and print its URL (the name is the database's).")
        @OptionGroup var project: ProjectOptions
        @Option(help: "The postgres service. (default: the only one)") var service: String?
        @Option(help: "The process the lease lives with. (default: the one that ran devstack)") var pid: Int32?
        @Flag(help: "Print JSON: name, url, service, holder_pid, expires_at, …") var json = false

        func run() async throws {
            let record = try await Db.control(project).lease(service: service, holder: pid ?? getppid())
            if json {
                try Console.standardOutput.writeJSON(record)
            } else {
                Console.standardOutput.write(record.url + "\n")
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "release", abstract: "Give a leased database back (dropped at once).")
        @OptionGroup var project: ProjectOptions
        @Argument(help: "The lease's name, as `db lease --json` or `db leases` shows it.") var name: String

        func run() async throws {
            try await Db.control(project).releaseLease(name)
        }
    }

    struct Leases: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "leases", abstract: "List the leases out, with their holder and age.")
        @OptionGroup var project: ProjectOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let records = try await Db.control(project).leases()
            if json {
                try Console.standardOutput.writeJSON(records)
                return
            }
            guard !records.isEmpty else {
                Console.standardOutput.write("no leases\n")
                return
            }
            let now = Date()
            var rows = [["NAME", "SERVICE", "HOLDER", "AGE", "EXPIRES IN"]]
            for record in records {
                rows.append([
                    record.name, record.service, record.holderPid.map { "\($0) \(record.holder ?? "")" } ?? "-",
                    DurationParser.uptime(now.timeIntervalSince(record.leasedAt)),
                    DurationParser.uptime(max(0, record.expiresAt.timeIntervalSince(now))),
                ])
            }
            Console.standardOutput.write(TextTable.render(rows))
        }
    }
}
