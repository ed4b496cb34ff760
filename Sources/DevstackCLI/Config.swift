import ArgumentParser
import DevstackCore
import DevstackProject
import Foundation

struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the resolved plan: every service with its final command, env, ports, probes and start order.")

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Flag(help: "Say where each value came from: stack, profile, environment, generated or default.")
    var explain = false

    @Flag(help: "Print secrets in full instead of masking them.")
    var showSecrets = false

    func run() async throws {
        let plan = try await project.workspace().plan(environment: project.environment)
        let renderer = PlanRenderer(explain: explain, revealSecrets: showSecrets, secretValues: Set(plan.secrets.values))
        Console.standardOutput.write(json ? renderer.json(plan) : renderer.render(plan))
    }
}
