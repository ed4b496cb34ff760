import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// `devstack exec`: becomes the command (exec, not a child), so its exit status and signals are exactly its own.
public enum CommandExec {
    /// `check` may refuse the profile (production) before anything runs.
    public static func replaceProcess(
        workspace: Workspace, service: String?, command: [String], environment: [String: String], check: (Plan) throws -> Void
    ) async throws -> Never {
        // A running stack's ports win, so `auto` profiles point at what is really listening.
        let (plan, wired) = try await workspace.wiredEnv(service: service, environment: environment)
        try check(plan)
        try replaceProcess(wired: wired, command: command, environment: environment)
    }

    /// Runs `command` in place of this process with `wired` over `environment`.
    public static func replaceProcess(wired: [PlannedValue], command: [String], environment: [String: String]) throws -> Never {
        let merged = environment.merging(wired.map { ($0.name, $0.value) }) { $1 }
        guard let executable = ExecutableLookup.resolve(command[0], workingDirectory: FileManager.default.currentDirectoryPath, environment: merged)
        else {
            throw SupervisorError(.launchFailed, "command '\(command[0])' not found", fix: "check the name and PATH")
        }
        try ProcessReplacement.exec(executable, arguments: command, environment: merged)
    }
}
