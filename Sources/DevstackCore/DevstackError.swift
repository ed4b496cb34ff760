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
