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

    func run() async throws {
        Console.standardOutput.write(format.render(try await project.workspace().wiredEnv(service: service, environment: project.environment)))
    }
}
