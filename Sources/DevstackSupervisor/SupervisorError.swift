import Foundation

/// The error type of `DevstackSupervisor`: what happened, where, and what to do.
public struct SupervisorError: Error, Sendable, CustomStringConvertible {
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

    public var code: Code
    public var message: String
    public var fix: String?

    public init(_ code: Code, _ message: String, fix: String? = nil) {
        self.code = code
        self.message = message
        self.fix = fix
    }

    public var description: String {
        "error: \(message)" + (fix.map { "\n    fix: \($0)" } ?? "")
    }
}
