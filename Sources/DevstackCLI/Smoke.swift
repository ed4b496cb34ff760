import ArgumentParser
import DevstackAudit
import DevstackCore
import DevstackProject
import DevstackSupervisor
import Foundation

struct Smoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smoke",
        abstract: "Run the stack's smoke checks (HTTP requests and SQL queries) against a profile's services.",
        discussion: """
            The checks are the stack's `smoke:`. Against production (a profile with environment: production) \
            a check only reads: a method other than GET or HEAD is refused before anything runs (exit 3), and \
            every query runs in a READ ONLY transaction. Elsewhere a check may write. Exit 1 when a check fails.
            """)

    @OptionGroup var project: ProjectOptions

    @Argument(help: "Only these checks (default: every one).")
    var checks: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let results = try await Self.results(project: project, only: checks)
        try Self.report(results.results, profile: results.profile, json: json)
        if results.results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }

    /// The checks run against the profile: by the host when the stack runs on another machine, else from here.
    static func results(project: ProjectOptions, profile: String? = nil, only checks: [String] = []) async throws -> (
        profile: String, results: [SmokeResult]
    ) {
        if let remote = try RemoteStack.of(project, profile: profile) {
            let data = try await remote.client().smoke(checks)
            guard let results = try? StateStore.decoder.decode([SmokeResult].self, from: data) else {
                throw SupervisorError(.control, "the host's smoke results were not understood")
            }
            return ("\(remote.profile) on \(remote.host.endpoint)", results)
        }
        let (plan, running) = try await project.workspace(profile: profile).planMatchingRunningStack(environment: project.environment)
        let chosen = try chosen(checks, of: plan)
        let refusals = SmokeRunner.refusals(plan, checks: chosen)
        guard refusals.isEmpty else {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' is production; nothing was run:\n    " + refusals.joined(separator: "\n    "),
                fix: "make those checks GET or HEAD, or run them against staging: devstack smoke --profile staging")
        }
        return (plan.profile.name, await SmokeRunner.run(plan, checks: chosen, running: running))
    }

    /// The checks named (all when none is), or which names the stack does not have.
    static func chosen(_ names: [String], of plan: Plan) throws -> [PlannedSmokeCheck] {
        let unknown = names.filter { name in !plan.smoke.contains { $0.name == name } }
        guard unknown.isEmpty else {
            throw SupervisorError(
                .refused,
                "no smoke check \(unknown.joined(separator: ", ")) in the stack"
                    + (plan.smoke.isEmpty ? " (it has none)" : "; it has \(plan.smoke.map(\.name).joined(separator: ", "))"),
                fix: "name checks from the stack's smoke:, or none for all")
        }
        return names.isEmpty ? plan.smoke : plan.smoke.filter { names.contains($0.name) }
    }

    static func report(_ results: [SmokeResult], profile: String, json: Bool) throws {
        if json {
            try Console.standardOutput.writeJSON(results)
        } else {
            let lines = results.map { "\($0.ok ? "ok  " : "FAIL") \($0.name): \($0.check) — \($0.detail) (\($0.milliseconds) ms)" }
            let summary = "\(results.filter(\.ok).count)/\(results.count) smoke checks passed on profile \(profile)"
            Console.standardOutput.write((lines + [summary]).joined(separator: "\n") + "\n")
        }
    }
}
