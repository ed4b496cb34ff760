import DevstackCore
import Foundation

/// What a kind that keeps data offers for backups. The supervisor schedules them, pauses them when
/// the disk is low, stops and starts services around a restore; the kind knows how.
public protocol DatabaseBackups: Sendable {
    /// Takes a backup of the running server, then restores it into a scratch folder to prove it.
    func backup(_ kind: BackupRecord.Kind, reason: String) async throws -> BackupRecord
    func list() async throws -> [BackupRecord]
    /// The repository's checksums, and a restore of `label` (the newest backup when nil).
    func verify(_ label: String?) async throws -> RepositoryCheck
    /// Checks that a restore to `target` can be made, before anything is stopped.
    func checkRestore(to target: RestoreTarget) async throws
    /// Makes sure every change so far is in the repository (the server runs).
    func flushChanges() async throws
    /// Replaces the stopped server's data with the state at `target`.
    func restore(to target: RestoreTarget) async throws
    /// Free bytes a backup and its verification may take; nil when unknown.
    func spaceNeeded() async -> Int?
}
