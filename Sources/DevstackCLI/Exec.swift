import ArgumentParser
import DevstackSupervisor
import AuthEmulator
import Foundation

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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
        try await CommandExec.replaceProcess(
            workspace: project.workspace(), service: service, command: arguments, environment: project.environment)
    }
}

struct GuardianCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__guardian", shouldDisplay: false)

    func run() throws { Guardian.runGuardian() }
}

#if os(macOS)
    struct ExecInGroupCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "__exec-in-group", shouldDisplay: false)

        @Argument(parsing: .captureForPassthrough) var command: [String] = []

        func run() throws { ProcessGroupExec.run(command) }
    }
#endif

/// The auth emulator's process: `kind: auth` services run devstack itself with this.
struct AuthServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__auth-server", shouldDisplay: false)

    @Option(help: "The service's configuration, written by devstack.")
    var config: String

    func run() async throws {
        try await AuthService.run(configurationFile: config)
    }
}
