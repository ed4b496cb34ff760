import DevstackCore

/// What went wrong with the machine: folders, files, processes.
public struct SystemError: DevstackError, CustomStringConvertible {
    public enum Code: String, Sendable {
        case stateDirectory = "state_directory"
        case untrustedFolder = "untrusted_folder"
        case launchFailed = "launch_failed"
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
    public var description: String { report }
}
