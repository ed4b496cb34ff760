import ArgumentParser
import DevstackCore
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import Foundation

/// `devstack service install|uninstall|status|logs`: the stack as a service of the machine, for the
/// always-on staging machine. What the platform's manager is asked lives in
/// `ServiceManager+Linux.swift` (systemd) and `ServiceManager+macOS.swift` (launchd).
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Run the stack as a service of this machine (systemd on Linux, launchd on macOS).",
        discussion: """
            devstack service install --profile staging --dry-run    print the unit, change nothing
            devstack service install --profile staging              write it, enable it, start it
            """,
        subcommands: [Install.self, Uninstall.self, Status.self, Logs.self])

    struct Placement: ParsableArguments {
        @Flag(help: "A unit of your own service manager instead of the machine's (no root needed).") var user = false
    }

    static func unit(_ project: ProjectOptions, placement: Placement, runAs: String? = nil) throws -> ServiceUnit {
        let workspace = try project.workspace()
        return ServiceUnit(
            executable: BinaryDiscovery.runningExecutable, projectDirectory: workspace.projectDirectory, stack: workspace.stack,
            profile: workspace.profile, scope: placement.user ? .user : .system, user: runAs)
    }

    /// Writes a unit or property list, making its folder (a user's may not exist yet).
    static func write(_ text: String, to path: String, scope: ServiceUnit.Scope) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw ServiceManagerError(
                .failed, "cannot write \(path): \(error.localizedDescription)",
                fix: scope == .system ? "run it with sudo, or install one of your own: --user" : "check the permissions of \(path)")
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install", abstract: "Write the unit (or property list) for this project and profile, enable and start it.")
        @OptionGroup var project: ProjectOptions
        @OptionGroup var placement: Placement
        @Option(help: "Whom a machine-wide service runs as. (default: the user who runs sudo, else root)") var runAs: String?
        @Flag(help: "Print what would be written and run, and change nothing.") var dryRun = false

        func run() async throws {
            if let remote = try RemoteStack.of(project) {
                throw SupervisorError(
                    .refused, "profile '\(remote.profile)' runs on \(remote.host.endpoint): the service belongs on that machine",
                    fix: "run devstack service install --profile \(remote.profile) there")
            }
            let environment = project.environment
            let owner = runAs ?? environment["SUDO_USER"]
            let unit = try ServiceCommand.unit(project, placement: placement, runAs: placement.user ? nil : owner)
            let manager = ServiceManager(home: environment["HOME"] ?? NSHomeDirectory())
            if dryRun {
                Console.standardOutput.write("# \(manager.path(of: unit))\n\(manager.text(of: unit))")
                for command in manager.installCommands(unit) { Console.standardOutput.write("# then: \(command.joined(separator: " "))\n") }
                return
            }
            for line in try manager.install(unit) { Console.standardOutput.write("devstack: \(line)\n") }
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "uninstall", abstract: "Stop the service, disable it and remove its unit.")
        @OptionGroup var project: ProjectOptions
        @OptionGroup var placement: Placement

        func run() async throws {
            let unit = try ServiceCommand.unit(project, placement: placement)
            let manager = ServiceManager(home: project.environment["HOME"] ?? NSHomeDirectory())
            for line in try manager.uninstall(unit) { Console.standardOutput.write("devstack: \(line)\n") }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "The service manager's view of the service, then the stack's.")
        @OptionGroup var project: ProjectOptions
        @OptionGroup var placement: Placement

        func run() async throws {
            let unit = try ServiceCommand.unit(project, placement: placement)
            let manager = ServiceManager(home: project.environment["HOME"] ?? NSHomeDirectory())
            Console.standardOutput.write(manager.status(unit) + "\n\n")
            if let record = StateStore(directory: try project.workspace().stateDirectory).running() {
                Console.standardOutput.write(try await ControlClient(socket: record.controlSocket).status().table())
            } else {
                Console.standardOutput.write("devstack: the stack is not running\n")
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "logs",
            abstract: "What the service manager recorded of the service (devstack's own lines; `devstack logs` has the services').")
        @OptionGroup var project: ProjectOptions
        @OptionGroup var placement: Placement

        func run() async throws {
            let unit = try ServiceCommand.unit(project, placement: placement)
            let manager = ServiceManager(home: project.environment["HOME"] ?? NSHomeDirectory())
            Console.standardOutput.write(manager.logs(unit))
        }
    }
}

/// A failure of the service manager, with what it said.
typealias ServiceManagerError = ModuleError<ServiceManagerErrorCode>

enum ServiceManagerErrorCode: String, ErrorCode {
    case failed = "service_manager_failed"
}
