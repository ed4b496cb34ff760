import ArgumentParser
import DevstackProject
import DevstackSupervisor
import Foundation

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command with the stack's environment; its exit status is devstack's.",
        discussion: "devstack exec -- pytest -x        devstack exec --service gateway -- env")

    @OptionGroup var project: ProjectOptions

    @Option(help: "Use this service's env instead of the stack's.")
    var service: String?

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.")
    var command: [String] = []

    func run() async throws {
        let arguments = command.first == "--" ? Array(command.dropFirst()) : command
        guard !arguments.isEmpty else { throw ValidationError("give a command after --, e.g. devstack exec -- pytest") }
        if let remote = try RemoteStack.of(project) {
            // The local command, wired to the host's stack: the test suite here runs against staging there.
            let (plan, wired) = try await remote.wiredEnv(project, service: service, publicOnly: false)
            try EnvironmentRules.refuseProduction(plan, command: "exec")
            try CommandExec.replaceProcess(wired: wired, command: arguments, environment: project.environment)
        }
        try await CommandExec.replaceProcess(
            workspace: project.workspace(), service: service, command: arguments, environment: project.environment
        ) { try EnvironmentRules.refuseProduction($0, command: "exec") }
    }
}
