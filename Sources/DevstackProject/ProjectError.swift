import DevstackCore

/// What went wrong with the project's own files: secrets, state, scaffolding.
public typealias ProjectError = ModuleError<ProjectErrorCode>

public enum ProjectErrorCode: String, ErrorCode {
    case secrets
    case stateDirectory = "state_directory"
    case refused

    public var exitStatus: Int32 { self == .refused ? 3 : 1 }
}
