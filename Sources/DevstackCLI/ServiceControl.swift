import ArgumentParser
import DevstackProject
import DevstackSupervisor

/// `restart`, `stop` and `start` of one service in the running stack.
protocol ServiceControlCommand: AsyncParsableCommand {
    var project: ProjectOptions { get }
    var service: String { get }
    static var action: String { get }
}

extension ServiceControlCommand {
    func run() async throws {
        try await client().service(service, Self.action)
        Console.standardOutput.write("devstack: \(Self.action) \(service): done\n")
    }

    /// The host's control API for a profile that runs elsewhere (an admin token), else the running supervisor here.
    private func client() throws -> ControlClient {
        if let remote = try RemoteStack.of(project) { return try remote.client() }
        guard let record = StateStore(directory: try project.workspace().stateDirectory).running() else {
            throw SupervisorError(.notRunning, "the stack is not running", fix: "start it with `devstack up`")
        }
        return ControlClient(socket: record.controlSocket)
    }
}

struct Restart: ServiceControlCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one service of the running stack.")
    static let action = "restart"
    @OptionGroup var project: ProjectOptions
    @Argument(help: "The service.") var service: String
}

struct Stop: ServiceControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop one service of the running stack (it stays stopped until `start`).")
    static let action = "stop"
    @OptionGroup var project: ProjectOptions
    @Argument(help: "The service.") var service: String
}

struct Start: ServiceControlCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one stopped service of the running stack.")
    static let action = "start"
    @OptionGroup var project: ProjectOptions
    @Argument(help: "The service.") var service: String
}
