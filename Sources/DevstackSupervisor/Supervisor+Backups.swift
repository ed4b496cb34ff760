import DevstackCore
import DevstackDriverKit
import DevstackSystem
import Foundation

/// What a restore did.
public struct RestoreOutcome: Codable, Sendable {
    public var service: String
    public var target: String
    /// The backup taken just before (protected profiles), to undo the restore with.
    public var safetyBackup: String?
    /// The services stopped for the restore and started again.
    public var restarted: [String]
    public var milliseconds: Int
}

/// `backup list`: where the backups stand, and each backup.
public struct BackupListing: Codable, Sendable {
    public var status: BackupStatus
    public var backups: [BackupRecord]
}

extension Supervisor {
    /// The profile's backup policy, its desk and the service's backups; an error saying why not.
    func backupParts() throws -> (BackupPolicy, BackupDesk, any DatabaseBackups) {
        guard let policy = plan.profile.backups, let desk = backupDesk, let name = policy.service else {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' takes no backups",
                fix: "add 'backups: { full: weekly, diff: daily }' to profiles/\(plan.profile.name).yaml (see the README's Backups section)")
        }
        guard let service = services.first(where: { $0.name == name }), snapshots[name]?.phase.isUp == true,
            let provider = try drivers.driver(for: service).backups(service, context: context)
        else {
            throw SupervisorError(
                .serviceFailed, "\(name) is \(snapshots[name]?.phase.rawValue ?? "not started"), not running: backups need it",
                fix: "see `devstack status` and `devstack logs \(name)`")
        }
        return (policy, desk, provider)
    }

    public func backupNow(_ kind: BackupRecord.Kind) async throws -> BackupRecord {
        let (_, desk, provider) = try backupParts()
        return try await desk.backup(
            kind, reason: "manual", provider: provider, freeBytes: ProcessResources.freeBytes(at: plan.stateDirectory),
            minimumFree: plan.profile.minimumFreeDisk)
    }

    public func backupListing() async throws -> BackupListing {
        let (policy, desk, provider) = try backupParts()
        let backups = try await desk.list(provider: provider)
        return BackupListing(status: await desk.status(service: policy.service ?? ""), backups: backups)
    }

    public func verifyBackup(_ label: String?) async throws -> RepositoryCheck {
        let (_, desk, provider) = try backupParts()
        return try await desk.verify(label, provider: provider)
    }

    public func backupStatus() async -> BackupStatus? {
        await backupDesk?.status(service: plan.profile.backups?.service ?? "")
    }

    /// One look of the schedule; the supervisor's loop calls it every minute while the service is up.
    func runBackupSchedule() async {
        guard let (_, desk, provider) = try? backupParts() else { return }
        await desk.runSchedule(
            provider: provider, freeBytes: ProcessResources.freeBytes(at: plan.stateDirectory), minimumFree: plan.profile.minimumFreeDisk)
    }

    /// Puts the database back to `target`: refused on a protected profile without `force`; what
    /// depends on the database stops first, a safety backup is taken (protected profiles), every
    /// change so far goes into the repository, the database is restored and replayed, and everything
    /// starts again. A restore that fails puts back the latest state.
    public func restoreBackup(to target: RestoreTarget, force: Bool) async throws -> RestoreOutcome {
        let began = ContinuousClock.now
        if plan.profile.protected && !force {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' is protected: a restore replaces its live data with \(target); nothing was changed",
                fix: "run `devstack backup restore … --profile \(plan.profile.name) --force` if you mean it (a safety backup is taken first)")
        }
        let (_, desk, provider) = try backupParts()
        guard let name = plan.profile.backups?.service else { throw SupervisorError(.refused, "no service to restore") }
        try await provider.checkRestore(to: target)
        guard !shuttingDown else { throw SupervisorError(.refused, "the stack is stopping; nothing was restored") }
        await acquireReset()
        defer { releaseReset() }
        await desk.acquire("restore")
        do {
            let outcome = try await restore(name, to: target, provider: provider, began: began)
            await desk.release()
            return outcome
        } catch {
            await desk.release()
            throw error
        }
    }

    private func restore(_ name: String, to target: RestoreTarget, provider: any DatabaseBackups, began: ContinuousClock.Instant) async throws
        -> RestoreOutcome
    {
        do {
            let dependants = dependants(of: name).filter { snapshots[$0]?.phase.isLaunched == true }
            for dependant in dependants.reversed() {
                sink.note(service: dependant, "stopping for the restore of \(name)")
                try await stopService(dependant)
            }
            var safety: String?
            do {
                if plan.profile.protected {
                    sink.note(service: name, "taking a safety backup before the restore")
                    safety = try await provider.backup(.incr, reason: "safety").label
                }
                try await provider.flushChanges()
            } catch {
                for dependant in dependants { try? await start(dependant) }
                throw error
            }
            try await stopService(name)
            sink.note(service: name, "restoring \(target)")
            do {
                try await provider.restore(to: target)
            } catch {
                sink.note(service: name, "the restore failed (\(error)); putting back the latest state")
                try? await provider.restore(to: .latest)
                try? await start(name)
                for dependant in dependants { try? await start(dependant) }
                throw error
            }
            try await start(name)
            guard await waitUntilUp(name) else {
                throw SupervisorError(
                    .serviceFailed, "\(name) did not come back after the restore", fix: "see `devstack logs \(name)`; the data is restored")
            }
            for dependant in dependants { try await start(dependant) }
            for dependant in dependants where await !waitUntilUp(dependant) {
                sink.note(service: dependant, "did not come back after the restore of \(name)")
            }
            await leaseDesk.releaseAll(because: "the database was restored")
            sink.note(service: name, "restored \(target)")
            return RestoreOutcome(
                service: name, target: target.description, safetyBackup: safety, restarted: dependants,
                milliseconds: Int((ContinuousClock.now - began).milliseconds))
        }
    }

    /// Every service that depends on `name`, directly or not, in start order.
    func dependants(of name: String) -> [String] {
        var found: Set<String> = [name]
        var ordered: [String] = []
        for service in services where service.dependsOn.contains(where: { found.contains($0.service) }) {
            found.insert(service.name)
            ordered.append(service.name)
        }
        return ordered
    }
}
