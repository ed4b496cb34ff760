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
        let (plan, values) =
            if let remote = try RemoteStack.of(project) {
                try await remote.wiredEnv(project, service: service, publicOnly: `public`)
            } else {
                try await project.workspace().wiredEnv(service: service, environment: project.environment)
            }
        if `public` { return Console.standardOutput.write(format.render(values.filter { EnvironmentRules.isPublic($0.value, plan: plan) })) }
        try EnvironmentRules.refuseProduction(plan, command: "env")
        guard format == .dotenv else { return Console.standardOutput.write(format.render(values)) }
        // A dotenv file is written down: a remote profile's keys given from the environment never go into one.
        let kept = values.filter { !EnvironmentRules.isRemoteSecret($0.value, plan: plan) }
        Console.standardOutput.write(format.render(kept))
    }
}
