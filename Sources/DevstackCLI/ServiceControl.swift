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
        let store = StateStore(directory: try project.workspace().stateDirectory)
        guard let record = store.running() else {
            throw SupervisorError(.notRunning, "the stack is not running", fix: "start it with `devstack up`")
        }
        try await ControlClient(socket: record.controlSocket).service(service, Self.action)
        Console.standardOutput.write("devstack: \(Self.action) \(service): done\n")
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
