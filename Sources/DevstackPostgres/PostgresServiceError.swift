import Foundation

/// The error type of `DevstackPostgres`: what happened, where, and what to do.
public struct PostgresServiceError: Error, Sendable, CustomStringConvertible {
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

    public var code: Code
    public var message: String
    public var fix: String?

    public init(_ code: Code, _ message: String, fix: String? = nil) {
        self.code = code
        self.message = message
        self.fix = fix
    }

    public var description: String { message + (fix.map { "\n    fix: \($0)" } ?? "") }
}
