import ArgumentParser
import DevstackCore
import DevstackDriverKit
import DevstackDrivers
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import Foundation

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the stack (or the named services and what they depend on).",
        discussion: """
            Foreground by default: every service's output, prefixed and coloured; Ctrl-C stops everything \
            in reverse dependency order (a second Ctrl-C forces). With --detach the supervisor runs on in \
            the background and the command returns once all services are ready.
            """)

    @OptionGroup var project: ProjectOptions

    @Argument(help: "Services to start, with their dependencies. (default: all)")
    var services: [String] = []

    @Flag(name: .shortAndLong, help: "Run in the background; return when every service is ready.")
    var detach = false

    @Option(help: "With --detach: how long to wait for the stack to be ready, e.g. 90s.")
    var waitTimeout = "120s"

    @Flag(help: "Stop the stack and exit non-zero as soon as a service fails (for CI).")
    var exitOnFailure = false

    @Flag(name: .customLong(SelfInvocation.backgroundSupervisorFlag), help: .hidden)
    var backgroundSupervisor = false

    func validate() throws {
        if DurationParser.parse(waitTimeout) == nil { throw ValidationError("--wait-timeout: '\(waitTimeout)' is not a duration such as 90s or 2m") }
    }

    func run() async throws {
        if let remote = try RemoteStack.of(project) { return Console.standardOutput.write(remote.elsewhere + "\n") }
        let workspace = try project.workspace()
        let options = UpOptions(
            services: services, detach: detach, waitTimeout: DurationParser.parse(waitTimeout) ?? .seconds(120), exitOnFailure: exitOnFailure,
            isBackgroundSupervisor: backgroundSupervisor,
            projectArguments: ["--stack", workspace.stack, "--profile", workspace.profile, "--project-dir", workspace.projectDirectory]
                + (workspace.paths.instance.map { ["--instance", $0] } ?? []))
        if detach && !backgroundSupervisor {
            Console.standardOutput.write(
                try await StackRunner.runDetached(
                    workspace: workspace, options: options, environment: project.environment, drivers: DriverSet.standard) + "\n")
            return
        }
        let status = try await StackRunner.runForeground(
            workspace: workspace, options: options, environment: project.environment, drivers: DriverSet.standard,
            hosted: .standard)
        if status != 0 { throw ExitCode(status) }
    }
}
