import ArgumentParser
import DevstackDriverKit
import DevstackDrivers
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import Foundation

struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Named database states, restored as fast as a reset.",
        discussion: """
            devstack snapshot save onboarded_50_users
            devstack snapshot restore onboarded_50_users      (same as: devstack reset --to onboarded_50_users)
            """,
        subcommands: [Save.self, Restore.self, List.self, Remove.self])

    /// Runs `body` on the snapshots of the stack's postgres service (`--service`, or the only one),
    /// starting the stack's databases for the occasion if it is stopped.
    static func withDatabase<T: Sendable>(
        _ project: ProjectOptions, service name: String?, _ body: @escaping @Sendable (DatabaseReset) async throws -> T
    ) async throws -> T {
        try await StackRunner.withRunningStack(workspace: project.workspace(), environment: project.environment, drivers: DriverSet.standard) {
            plan, _ in
            let service = try PostgresTools.service(in: plan, named: name)
            guard let database = DatabaseReset(service: service, plan: plan) else {
                throw PostgresServiceError(.connection, "\(service.name) has no port or password in the plan: devstack does not run it")
            }
            return try await body(database)
        }.0
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "save", abstract: "Save the database's current state under NAME (replacing one of that name).")
        @OptionGroup var project: ProjectOptions
        @Option(help: "The postgres service. (default: the only one)") var service: String?
        @Argument(help: "Lowercase letters, digits and '_'.") var name: String

        func run() async throws {
            let name = self.name
            if let remote = try RemoteStack.of(project) {
                _ = try await remote.client().snapshots("POST", name: name)
            } else {
                try await Snapshot.withDatabase(project, service: service) { try await $0.saveSnapshot(name) }
            }
            Console.standardOutput.write("devstack: saved snapshot \(name)\n")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "restore", abstract: "Restore snapshot NAME (a reset to it).")
        @OptionGroup var project: ProjectOptions
        @Flag(help: "Restore in a protected profile.") var force = false
        @Argument(help: "The snapshot.") var name: String

        func run() async throws {
            try await Reset.perform(project: project, snapshot: name, force: force, json: false)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List snapshots; stale ones predate a change of migrations or seed.")
        @OptionGroup var project: ProjectOptions
        @Option(help: "The postgres service. (default: the only one)") var service: String?

        func run() async throws {
            let snapshots =
                if let remote = try RemoteStack.of(project) {
                    try StateStore.decoder.decode([DatabaseReset.Snapshot].self, from: try await remote.client().snapshots())
                } else {
                    try await Snapshot.withDatabase(project, service: service) { try await $0.snapshots() }
                }
            let lines = snapshots.map { "\($0.name)  \($0.createdAt)" + ($0.stale ? "  (stale: taken before the migrations or seed changed)" : "") }
            Console.standardOutput.write(lines.isEmpty ? "no snapshots\n" : lines.joined(separator: "\n") + "\n")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete snapshot NAME.")
        @OptionGroup var project: ProjectOptions
        @Option(help: "The postgres service. (default: the only one)") var service: String?
        @Argument(help: "The snapshot.") var name: String

        func run() async throws {
            let name = self.name
            if let remote = try RemoteStack.of(project) {
                _ = try await remote.client().snapshots("DELETE", name: name)
            } else {
                try await Snapshot.withDatabase(project, service: service) { try await $0.removeSnapshot(name) }
            }
            Console.standardOutput.write("devstack: removed snapshot \(name)\n")
        }
    }
}
