import DevstackCore

/// What went wrong with the machine: folders, files, processes.
public typealias SystemError = ModuleError<SystemErrorCode>

public enum SystemErrorCode: String, ErrorCode {
    case stateDirectory = "state_directory"
    case untrustedFolder = "untrusted_folder"
    case launchFailed = "launch_failed"
}
