import DevstackCore
import Foundation

/// The error type of `DevstackPostgres`: what happened, where, and what to do.
public struct PostgresServiceError: DevstackError, CustomStringConvertible {
    public enum Code: String, Sendable {
        case binariesMissing = "binaries_missing"
        case versionMismatch = "version_mismatch"
        case noUnprivilegedUser = "no_unprivileged_user"
        case initdbFailed = "initdb_failed"
        case dataDirectory = "data_directory"
        case migrationFailed = "migration_failed"
        case migrationChanged = "migration_changed"
        case seedFailed = "seed_failed"
        case bootstrapFailed = "bootstrap_failed"
        case connection
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
    /// Without the `error:` of the report: this text also goes inside other messages and logs.
    public var description: String { message + (fix.map { "\n    fix: \($0)" } ?? "") }
}
