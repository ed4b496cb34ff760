import ArgumentParser
import DevstackCore
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import Foundation

struct Promote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract:
            "Walk the path to production: staging healthy, staging smoke green, migrations on staging, production's plan approved, production smoke.",
        discussion: """
            Stops at the first step that fails; nothing reaches production before every staging step passed. \
            The production step is `devstack migrate --profile production`: only what staging applied with the \
            same statements, the plan printed, --approve (and, on a terminal, the project's name) needed.
            """)

    @OptionGroup var project: ProjectOptions

    @Option(help: "The staging profile.")
    var from = "staging"

    @Option(help: "The production profile.")
    var to = "production"

    @Option(help: "The postgres service. (default: the only one)")
    var service: String?

    @Flag(help: "Apply production's plan.")
    var approve = false

    func run() async throws {
        let production = try await project.workspace(profile: to).plan(environment: project.environment, persistSecrets: false)
        guard production.profile.environment == .production, production.profile.remote else {
            throw ValidationError("--to \(to): promote goes to a remote production profile (remote: true, environment: production)")
        }
        try await step(1, "\(from) is healthy") {
            let report = try await stagingStatus()
            let down = report.services.filter { !$0.phase.isUp }.map { "\($0.name) (\($0.phase.rawValue))" }
            guard down.isEmpty else {
                throw SupervisorError(.refused, "not up on \(from): \(down.joined(separator: ", "))", fix: "devstack status --profile \(from)")
            }
            return "\(report.services.count) services up"
        }
        try await step(2, "smoke checks pass on \(from)") { try await smoke(from, fix: "devstack smoke --profile \(from)") }
        try await step(3, "pending migrations applied on \(from)") {
            let applied: [String]
            if let remote = try RemoteStack.of(project, profile: from) {
                applied = try await remote.migrate(project, service: service).map { "applied migration \($0)" }
            } else {
                let (plan, _) = try await project.workspace(profile: from).planMatchingRunningStack(environment: project.environment)
                applied = try await PostgresTools.migrate(plan: plan, service: PostgresTools.service(in: plan, named: service))
            }
            return applied.isEmpty ? "none pending" : applied.joined(separator: ", ")
        }
        try await step(4, "migrations applied to \(to), as approved") {
            let applied = try await MigrationRules.migrateRemote(
                production, service: PostgresTools.service(in: production, named: service), project: project, from: from, approve: approve)
            return applied.isEmpty ? "none pending" : applied.joined(separator: ", ")
        }
        try await step(5, "smoke checks pass on \(to) (read only)") {
            try await smoke(to, fix: "devstack smoke --profile \(to); the migrations are applied: fix forward with a new migration")
        }
        Console.standardOutput.write("devstack: promoted \(from) to \(to)\n")
    }

    /// Every smoke check of the profile passes; else the failures, as a refusal.
    private func smoke(_ profile: String, fix: String) async throws -> String {
        let (_, results) = try await Smoke.results(project: project, profile: profile)
        let failed = results.filter { !$0.ok }
        guard failed.isEmpty else {
            throw SupervisorError(.refused, "failed on \(profile): " + failed.map { "\($0.name) (\($0.detail))" }.joined(separator: ", "), fix: fix)
        }
        return "\(results.count) passed"
    }

    private func stagingStatus() async throws -> StatusReport {
        if let remote = try RemoteStack.of(project, profile: from) { return try await remote.client().status() }
        guard let record = StateStore(directory: try project.workspace(profile: from).stateDirectory).running() else {
            throw SupervisorError(.notRunning, "profile '\(from)' is not running here", fix: "devstack up --profile \(from) --detach")
        }
        return try await ControlClient(socket: record.controlSocket).status()
    }

    private func step(_ number: Int, _ title: String, _ body: () async throws -> String) async throws {
        do {
            let outcome = try await body()
            Console.standardOutput.write("devstack: promote \(number)/5 \(title): ok (\(outcome))\n")
        } catch {
            Console.standardOutput.write("devstack: promote \(number)/5 \(title): FAILED; stopped here\n")
            throw error
        }
    }
}
