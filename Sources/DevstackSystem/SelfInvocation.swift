/// Every way devstack runs itself, with its arguments built here and its hidden command names written
/// only here (the command line parses them under these names).
public enum SelfInvocation: Sendable, Equatable {
    /// `up --background-supervisor …`: the supervisor `up --detach` leaves running.
    case backgroundSupervisor(projectArguments: [String], exitOnFailure: Bool, services: [String])
    /// Holds a pipe from the supervisor; when it closes, stops every recorded process group.
    case guardian
    /// macOS: leads a new process group, then becomes the program.
    case execInGroup(program: String, arguments: [String])
    /// The auth emulator, with its configuration file.
    case authServer(configurationFile: String)

    public static let backgroundSupervisorFlag = "background-supervisor"
    public static let guardianCommand = "__guardian"
    public static let execInGroupCommand = "__exec-in-group"
    public static let authServerCommand = "__auth-server"
    public static let configurationOption = "config"

    /// This very executable.
    public var executable: String { BinaryDiscovery.runningExecutable }

    public var arguments: [String] {
        switch self {
        case .backgroundSupervisor(let project, let exitOnFailure, let services):
            return ["up", "--\(Self.backgroundSupervisorFlag)"] + project + (exitOnFailure ? ["--exit-on-failure"] : []) + services
        case .guardian:
            return [Self.guardianCommand]
        case .execInGroup(let program, let arguments):
            return [Self.execInGroupCommand, "--", program] + arguments
        case .authServer(let file):
            return [Self.authServerCommand, "--\(Self.configurationOption)", file]
        }
    }
}
