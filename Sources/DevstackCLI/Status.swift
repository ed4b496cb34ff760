import ArgumentParser
import DevstackProject
import DevstackSupervisor
import Foundation

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each service: state, pid, ports, health, restarts, uptime, last exit and why.",
        discussion: "Exit status 1 when the stack is not running.")

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Print the supervisor's metrics in Prometheus's text format (as GET /metrics on the control socket).")
    var metrics = false

    func run() async throws {
        if let remote = try RemoteStack.of(project) {
            let client = try remote.client()
            if metrics { return Console.standardOutput.write(try await client.metrics()) }
            let report = try await client.status()
            if json { return try Console.standardOutput.writeJSON(report) }
            return Console.standardOutput.write(
                "on \(remote.host.endpoint):\n" + report.table() + (report.backups.map { "backups: \($0.summary())\n" } ?? ""))
        }
        let store = StateStore(directory: try project.workspace().stateDirectory)
        guard let record = store.running() else {
            Console.standardOutput.write(json ? "{\"running\":false}\n" : "devstack: not running\n")
            throw ExitCode(1)
        }
        if metrics { return Console.standardOutput.write(try await ControlClient(socket: record.controlSocket).metrics()) }
        let report = try await ControlClient(socket: record.controlSocket).status()
        if json {
            try Console.standardOutput.writeJSON(report)
        } else {
            Console.standardOutput.write(report.table() + (report.backups.map { "backups: \($0.summary())\n" } ?? ""))
        }
    }
}
