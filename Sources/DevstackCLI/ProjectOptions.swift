import ArgumentParser
import DevstackCore
import DevstackProject
import Foundation

/// --stack, --profile, --project-dir and --instance, shared by every command that reads a project.
struct ProjectOptions: ParsableArguments {
    @Option(help: "Stack to use: stacks/<name>/stack.yaml.")
    var stack = "default"

    @Option(help: "Profile to use: profiles/<name>.yaml. (default: $DEVSTACK_PROFILE, or local)")
    var profile: String?

    @Option(help: "Project folder. (default: the nearest folder holding stacks/, walking up)")
    var projectDir: String?

    @Option(help: "Another copy of the stack, with its own state, data and free ports. (default: $DEVSTACK_INSTANCE, or none)")
    var instance: String?

    var instanceName: String? {
        instance ?? ProcessInfo.processInfo.environment["DEVSTACK_INSTANCE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var profileName: String {
        profile ?? ProcessInfo.processInfo.environment["DEVSTACK_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "local"
    }

    func workspace(profile override: String? = nil) throws -> Workspace {
        try Workspace(
            projectDirectory: projectDir, stack: stack, profile: override ?? profileName,
            currentDirectory: FileManager.default.currentDirectoryPath, binDirectory: Workspace.executableDirectory, instance: instanceName)
    }

    var environment: [String: String] { ProcessInfo.processInfo.environment }
}
