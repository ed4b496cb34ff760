import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// The error type of `DevstackSupervisor`: what happened, where, and what to do.
public struct SupervisorError: DevstackError, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case stateDirectory = "state_directory"
        case untrustedFolder = "untrusted_folder"
        case secrets
        case alreadyRunning = "already_running"
        case notRunning = "not_running"
        case portInUse = "port_in_use"
        case launchFailed = "launch_failed"
        case serviceFailed = "service_failed"
        case unknownService = "unknown_service"
        case refused
        case control
        case timeout
    }

    public var kind: Code
    public var message: String
    public var fix: String?

    public init(_ kind: Code, _ message: String, fix: String? = nil) {
        self.kind = kind
        self.message = message
        self.fix = fix
    }

    public var code: String { kind.rawValue }

    /// A service name that is not in the stack is a mistake in the command, like a configuration error.
    public var exitStatus: Int32 {
        switch kind {
        case .refused: return 3
        case .unknownService: return 2
        default: return 1
        }
    }

    public var description: String { report }
}
