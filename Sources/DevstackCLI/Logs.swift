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
        if let remote = try RemoteStack.of(project) { return try await followRemote(remote) }
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

    /// The host's logs (a `test` token); `--follow` asks again every second for what came since.
    private func followRemote(_ remote: RemoteStack) async throws {
        let client = try remote.client()
        var since = try since.map { text in
            guard let date = LogReader.parseSince(text) else {
                throw ValidationError("--since: '\(text)' is neither a duration (10m) nor an ISO 8601 time")
            }
            return date
        }
        var seen = Set<String>()
        var first = true
        let view = ConsoleView(services: services, showLogs: true, environment: ProcessInfo.processInfo.environment)
        repeat {
            if !first { try await Task.sleep(for: .seconds(1)) }
            let lines = try await client.logs(services: services, lines: first ? lines : nil, since: since)
            // Asked again from the last time seen: lines of that very instant come twice, and are shown once.
            let fresh = lines.filter { seen.insert("\($0.service)\u{0}\($0.timestamp?.timeIntervalSince1970 ?? 0)\u{0}\($0.text)").inserted }
            view.print(fresh.map { LogReader.Line(service: $0.service, timestamp: $0.timestamp, text: $0.text) })
            since = lines.compactMap(\.timestamp).max() ?? since
            first = false
        } while follow
    }
}
