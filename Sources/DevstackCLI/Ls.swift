import ArgumentParser
import DevstackCore
import DevstackProject
import Foundation

/// `devstack ls`: every stack and instance this user runs on the machine.
struct Ls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List every running stack and instance of yours on this machine, with its project, profile and ports.")

    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let entries = RunningStacks.list()
        if json {
            try Console.standardOutput.writeJSON(entries)
            return
        }
        guard !entries.isEmpty else {
            Console.standardOutput.write("no running stacks\n")
            return
        }
        let now = Date()
        var rows = [["PROJECT", "STACK", "PROFILE", "INSTANCE", "PID", "UPTIME", "PORTS"]]
        for entry in entries {
            let ports = entry.ports.sorted { $0.key < $1.key }.flatMap { service, ports in
                ports.sorted { $0.key < $1.key }.map { "\(service).\($0.key)=\($0.value)" }
            }
            rows.append([
                entry.project, entry.stack, entry.profile, entry.instance ?? "-", String(entry.pid),
                DurationParser.uptime(now.timeIntervalSince(entry.startedAt)), ports.isEmpty ? "-" : ports.joined(separator: ","),
            ])
        }
        Console.standardOutput.write(TextTable.render(rows))
    }
}
