import DevstackCore

/// The errors of `DevstackPostgres`.
public typealias PostgresServiceError = ModuleError<PostgresErrorCode>

public enum PostgresErrorCode: String, ErrorCode {
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
    case backupToolMissing = "backup_tool_missing"
    case backupFailed = "backup_failed"
    case restoreFailed = "restore_failed"
}
