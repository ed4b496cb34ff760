import ArgumentParser
import DevstackCore
import DevstackProject
import DevstackSupervisor
import Foundation

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print services' logs from .devstack/<profile>/logs, merged by time.")

    @OptionGroup var project: ProjectOptions

    @Argument(help: "Services. (default: all)")
    var services: [String] = []

    @Flag(name: .shortAndLong, help: "Keep printing new lines.")
    var follow = false

    @Option(name: [.customShort("n"), .long], help: "Only the last N lines of each service.")
    var lines: Int?

    @Option(help: "Only lines since a duration ago (10m) or a time (2026-11-21T10:00:00Z).")
    var since: String?

    func run() async throws {
        let directory = StateStore(directory: try project.workspace().stateDirectory).logDirectory
        let known = LogReader.services(in: directory)
        let wanted = services.isEmpty ? known : services
        if let missing = wanted.first(where: { !known.contains($0) }) {
            throw SupervisorError(
                .unknownService, "no logs for '\(missing)' in \(directory)",
                fix: known.isEmpty ? "start the stack with `devstack up`" : "logs exist for: \(known.joined(separator: ", "))")
        }
        let sinceDate = try since.map { text in
            guard let date = LogReader.parseSince(text) else {
                throw ValidationError("--since: '\(text)' is neither a duration (10m) nor an ISO 8601 time")
            }
            return date
        }
        let view = ConsoleView(services: wanted, showLogs: true, environment: ProcessInfo.processInfo.environment)
        let (existing, start) = LogReader.read(services: wanted, directory: directory, last: lines, since: sinceDate)
        view.print(existing)
        var offsets = start
        while follow {
            try await Task.sleep(for: .milliseconds(200))
            view.print(LogReader.follow(services: wanted, directory: directory, offsets: &offsets))
        }
    }
}
