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
        let (plan, running) = try await project.workspace().planMatchingRunningStack(environment: project.environment)
        let unknown = checks.filter { name in !plan.smoke.contains { $0.name == name } }
        guard unknown.isEmpty else {
            throw ValidationError(
                "no smoke check \(unknown.joined(separator: ", ")) in the stack"
                    + (plan.smoke.isEmpty ? " (it has none)" : "; it has \(plan.smoke.map(\.name).joined(separator: ", "))"))
        }
        let chosen = checks.isEmpty ? plan.smoke : plan.smoke.filter { checks.contains($0.name) }
        let refusals = SmokeRunner.refusals(plan, checks: chosen)
        guard refusals.isEmpty else {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' is production; nothing was run:\n    " + refusals.joined(separator: "\n    "),
                fix: "make those checks GET or HEAD, or run them against staging: devstack smoke --profile staging")
        }
        let results = await SmokeRunner.run(plan, checks: chosen, running: running)
        if json {
            Console.standardOutput.write(String(decoding: try StateStore.encoder.encode(results), as: UTF8.self) + "\n")
        } else {
            let lines = results.map { "\($0.ok ? "ok  " : "FAIL") \($0.name): \($0.check) — \($0.detail) (\($0.milliseconds) ms)" }
            let summary = "\(results.filter(\.ok).count)/\(results.count) smoke checks passed on profile \(plan.profile.name)"
            Console.standardOutput.write((lines + [summary]).joined(separator: "\n") + "\n")
        }
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}
