import ArgumentParser
import DevstackDriverKit
import DevstackDrivers
import DevstackProject
import DevstackSupervisor
import Foundation

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Put the data back to the migrated and seeded state (or a snapshot), in milliseconds.",
        discussion: """
            Works on a running stack (processes keep running) and on a stopped one (its databases are \
            started for the reset). When no DDL ran, the changed tables are put back in place and no \
            session ends; otherwise a clean copy is swapped in and clients see an ordinary Postgres error \
            and reconnect. A protected profile (staging) needs --force; a remote one (production) always \
            refuses.
            """)

    @OptionGroup var project: ProjectOptions

    @Option(help: "Restore this snapshot instead of the seeded state.")
    var to: String?

    @Flag(help: "Reset a protected profile.")
    var force = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await Self.perform(project: project, snapshot: to, force: force, json: json)
    }

    static func perform(project: ProjectOptions, snapshot: String?, force: Bool, json: Bool) async throws {
        if let remote = try RemoteStack.of(project) {
            let outcomes = try await remote.client().reset(to: snapshot, force: force)
            return try report(outcomes, started: false, json: json)
        }
        let workspace = try project.workspace()
        let (outcomes, started) = try await StackRunner.withSupervisor(
            workspace: workspace, environment: project.environment, drivers: DriverSet.standard,
            check: { try StackRunner.checkResetAllowed($0, force: force) }
        ) { control in
            try await control.reset(to: snapshot, force: force)
        }
        try report(outcomes, started: started, json: json)
    }

    private static func report(_ outcomes: [ResetOutcome], started: Bool, json: Bool) throws {
        if json {
            try Console.standardOutput.writeJSON(outcomes)
            return
        }
        let lines = outcomes.map { "devstack: \($0.service): \($0.summary)" }
        Console.standardOutput.write(
            (lines.isEmpty ? ["devstack: nothing to reset"] : lines).joined(separator: "\n")
                + (started ? " (the stack was stopped: its databases were started for this)" : "") + "\n")
    }
}
