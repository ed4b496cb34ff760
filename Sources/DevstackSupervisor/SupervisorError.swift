import DevstackCore

/// The errors of the runtime.
public typealias SupervisorError = ModuleError<SupervisorErrorCode>

public enum SupervisorErrorCode: String, ErrorCode {
    case alreadyRunning = "already_running"
    case notRunning = "not_running"
    case portInUse = "port_in_use"
    case launchFailed = "launch_failed"
    case serviceFailed = "service_failed"
    case unknownService = "unknown_service"
    case unknownLease = "unknown_lease"
    case refused
    case control
    case timeout

    /// A refusal is 3; a service name that is not in the stack is a mistake in the command, like a configuration error.
    public var exitStatus: Int32 {
        switch self {
        case .refused: return 3
        case .unknownService, .unknownLease: return 2
        default: return 1
        }
    }
}
