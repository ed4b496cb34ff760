import ArgumentParser
import DevstackCore
import DevstackProject
import DevstackSupervisor

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the running stack of this project and profile, in reverse dependency order.")

    @OptionGroup var project: ProjectOptions

    @Option(help: "How long to wait for everything to stop.")
    var timeout = "120s"

    func run() async throws {
        if let remote = try RemoteStack.of(project) { return Console.standardOutput.write(remote.elsewhere + "\n") }
        let message = try await StackRunner.down(workspace: project.workspace(), timeout: DurationParser.parse(timeout) ?? .seconds(120))
        Console.standardOutput.write(message + "\n")
    }
}
