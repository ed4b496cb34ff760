/// The one protocol every user-facing error adopts: what happened, where, what to do about it, a
/// stable code for scripts, and the exit status. `DevstackEntry` prints them all, in one place.
public protocol DevstackError: Error, Sendable {
    /// snake_case, stable: what scripts and `--json` read.
    var code: String { get }
    var message: String { get }
    /// The spot in a file the user wrote, when there is one.
    var location: SourceLocation? { get }
    var fix: String? { get }
    /// 2 for a mistake in the files or the command line, 3 for a refusal, 1 for the rest.
    var exitStatus: Int32 { get }
    /// What the terminal shows.
    var report: String { get }
}

extension DevstackError {
    public var location: SourceLocation? { nil }
    public var exitStatus: Int32 { 1 }

    /// `error: [file:line:column: ]message`, and the fix indented below.
    public var report: String {
        "error: " + (location.map { "\($0): " } ?? "") + message + (fix.map { "\n    fix: \($0)" } ?? "")
    }
}

/// The codes one module's errors use: snake_case raw values, each with its exit status.
public protocol ErrorCode: RawRepresentable, Sendable where RawValue == String {
    var exitStatus: Int32 { get }
}

extension ErrorCode {
    public var exitStatus: Int32 { 1 }
}

/// The error of one module (`SupervisorError`, `PostgresServiceError`, …): a code from that module's
/// list, what happened and what to do about it.
public struct ModuleError<Code: ErrorCode>: DevstackError, CustomStringConvertible {
    public var kind: Code
    public var message: String
    public var fix: String?

    public init(_ kind: Code, _ message: String, fix: String? = nil) {
        self.kind = kind
        self.message = message
        self.fix = fix
    }

    public var code: String { kind.rawValue }
    public var exitStatus: Int32 { kind.exitStatus }
    /// Without the `error:` of the report: this text also goes inside other messages and logs.
    public var description: String { message + (fix.map { "\n    fix: \($0)" } ?? "") }
}
