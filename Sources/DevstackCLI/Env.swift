import ArgumentParser
import DevstackCore
import DevstackProject
import Foundation

extension EnvFormat: ExpressibleByArgument {}

struct Env: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print the wired environment variables.",
        discussion: """
            Without --service: the stack's top-level env, meant for tests and tools. \
            With --service: exactly what that service is started with.
            The shell form is safe to eval whatever the values hold: eval "$(devstack env)".
            """)

    @OptionGroup var project: ProjectOptions

    @Option(help: "shell, dotenv or json.")
    var format: EnvFormat = .shell

    @Option(help: "Print the env of this service instead of the stack's.")
    var service: String?

    @Flag(help: "Only what a browser may see: URLs and the anon key (the one form production allows).")
    var `public` = false

    func run() async throws {
        let workspace = try project.workspace()
        let values = try await workspace.wiredEnv(service: service, environment: project.environment)
        if `public` {
            let plan = try await workspace.plan(environment: project.environment)
            return Console.standardOutput.write(format.render(values.filter { EnvironmentRules.isPublic($0.value, plan: plan) }))
        }
        try await EnvironmentRules.refuseProduction(workspace: workspace, environment: project.environment, command: "env")
        guard format == .dotenv else { return Console.standardOutput.write(format.render(values)) }
        // A dotenv file is written down: a remote profile's keys given from the environment never go into one.
        let plan = try await workspace.plan(environment: project.environment, persistSecrets: false)
        let kept = values.filter { !EnvironmentRules.isRemoteSecret($0.value, plan: plan) }
        Console.standardOutput.write(format.render(kept))
    }
}
