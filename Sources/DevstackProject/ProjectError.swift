import DevstackCore

/// What went wrong with the project's own files: secrets, state, scaffolding.
public struct ProjectError: DevstackError, CustomStringConvertible {
    public enum Code: String, Sendable {
        case secrets
        case stateDirectory = "state_directory"
        case refused
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
    public var exitStatus: Int32 { kind == .refused ? 3 : 1 }
    public var description: String { report }
}
