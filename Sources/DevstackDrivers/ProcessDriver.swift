import DevstackCore
import DevstackDriverKit
import DevstackSystem

/// `kind: process`: the command from the plan, run as is.
public struct ProcessDriver: ServiceDriver {
    public init() {}

    public func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        guard let command = service.command, let program = command.first else {
            throw SystemError(.launchFailed, "\(service.name): no command to run", fix: "add services.\(service.name).command")
        }
        let environment = context.environment.merging(service.environment) { $1 }
        guard let executable = ExecutableLookup.resolve(program, workingDirectory: service.workingDirectory, environment: environment) else {
            throw SystemError(
                .launchFailed, "\(service.name): command '\(program)' not found" + (program.contains("/") ? "" : " in PATH"),
                fix: "check services.\(service.name).command; relative paths start from \(service.workingDirectory)")
        }
        return .process(
            LaunchSpec(
                executable: executable, arguments: Array(command.dropFirst()), environment: environment, workingDirectory: service.workingDirectory))
    }
}
