import DevstackCore
import DevstackDriverKit
import Foundation

/// When the profile's policy wants the next backup, from the backups already taken. Pure, so the
/// schedule is tested without a clock or a database.
public enum BackupSchedule {
    /// The backup due at `now`, if any: a full one when none is younger than `policy.full`, else a
    /// differential one when the newest backup is older than `policy.differential`.
    public static func due(_ policy: BackupPolicy, backups: [BackupRecord], now: Date) -> BackupRecord.Kind? {
        guard let next = nextDue(policy, backups: backups) else { return .full }
        guard now >= next.at else { return nil }
        return next.kind
    }

    /// When the next backup falls due and of which kind; nil when there is no full backup yet.
    public static func nextDue(_ policy: BackupPolicy, backups: [BackupRecord]) -> (kind: BackupRecord.Kind, at: Date)? {
        let scheduled = backups.filter { $0.kind == .full || $0.kind == .diff }
        guard let lastFull = scheduled.last(where: { $0.kind == .full }) else { return nil }
        let fullDue = lastFull.stopped.addingTimeInterval(policy.full.seconds)
        guard let differential = policy.differential, let newest = scheduled.last else { return (.full, fullDue) }
        let diffDue = newest.stopped.addingTimeInterval(differential.seconds)
        return diffDue < fullDue ? (.diff, diffDue) : (.full, fullDue)
    }

    /// Overdue: a quarter of the interval (at least an hour) past due, which only failures or a
    /// stopped machine explain.
    public static func isOverdue(_ policy: BackupPolicy, backups: [BackupRecord], now: Date) -> Bool {
        guard let next = nextDue(policy, backups: backups) else { return false }
        let interval = next.kind == .full ? policy.full : policy.differential ?? policy.full
        return now.timeIntervalSince(next.at) > max(3600, interval.seconds / 4)
    }
}

extension BackupStatus {
    /// One line: `last backup 20261206-121530F 3h ago, verified` (for `status` and systemd's STATUS).
    public func summary(now: Date = Date()) -> String {
        var parts: [String] = []
        if let last {
            let verified = last.verification.map { $0.ok ? "verified" : "VERIFICATION FAILED" } ?? "not verified"
            parts.append("last backup \(last.label) \(DurationParser.uptime(now.timeIntervalSince(last.stopped))) ago, \(verified)")
        } else {
            parts.append("no backup yet")
        }
        if let working { parts.append(working + " running") }
        if let paused { parts.append("backups paused: \(paused)") }
        if overdue { parts.append("a backup is OVERDUE") }
        if let lastFailure { parts.append("last failure: \(lastFailure.split(separator: "\n").first ?? "")") }
        return parts.joined(separator: "; ")
    }
}

/// What `backup list`, `status` and the metrics say of the stack's backups.
public struct BackupStatus: Codable, Sendable {
    public var service: String
    /// The newest backup, with its verification.
    public var last: BackupRecord?
    public var count: Int
    /// What devstack is doing now (`full backup`, `verification`, `restore`), if anything.
    public var working: String?
    /// Why scheduled backups are held (low disk), if they are.
    public var paused: String?
    public var lastFailure: String?
    public var failures: Int
    public var nextDue: Date?
    public var overdue: Bool
}

/// The stack's backups: one operation at a time, taken when the schedule says, held while the disk
/// is low, every failure alerted. The kind's `DatabaseBackups` does the work.
actor BackupDesk {
    enum State: Equatable {
        case idle
        case working(String)
    }

    let policy: BackupPolicy
    private let alerts: AlertSender
    private let note: @Sendable (String) -> Void
    private var state = State.idle
    private var queue: [CheckedContinuation<Void, Never>] = []
    private var known: [BackupRecord] = []
    private var lastFailure: String?
    private var failures = 0
    private var paused: String?
    private var overdueAlerted = false

    init(policy: BackupPolicy, alerts: AlertSender, note: @escaping @Sendable (String) -> Void) {
        self.policy = policy
        self.alerts = alerts
        self.note = note
    }

    /// Runs `body` when no other backup operation runs; callers queue in order.
    func exclusively<T: Sendable>(_ what: String, _ body: () async throws -> T) async throws -> T {
        await acquire(what)
        defer { release() }
        return try await body()
    }

    /// The turn for one operation (a restore, which the supervisor runs itself); `release()` ends it.
    func acquire(_ what: String) async {
        if state != .idle { await withCheckedContinuation { queue.append($0) } }
        state = .working(what)
    }

    /// The turn passes straight to the next in the queue, so nobody slips in between.
    func release() {
        if queue.isEmpty { state = .idle } else { queue.removeFirst().resume() }
    }

    /// Why a backup would be refused now: the disk guard's look plus the room the backup needs.
    func holdReason(provider: any DatabaseBackups, freeBytes: Int?, minimumFree: Int) async -> String? {
        guard let free = freeBytes else { return nil }
        let gib = { (bytes: Int) in String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        if free < minimumFree { return "the disk is low (\(gib(free)) free, under the profile's \(gib(minimumFree)))" }
        if let needed = await provider.spaceNeeded(), free - needed < minimumFree {
            return "a backup and its verification may need \(gib(needed)), which would leave less than the profile's \(gib(minimumFree)) free"
        }
        return nil
    }

    func backup(
        _ kind: BackupRecord.Kind, reason: String, provider: any DatabaseBackups, freeBytes: Int?, minimumFree: Int
    ) async throws -> BackupRecord {
        try await exclusively("\(kind.rawValue) backup") {
            if let hold = await holdReason(provider: provider, freeBytes: freeBytes, minimumFree: minimumFree) {
                throw SupervisorError(.refused, "no backup was taken: \(hold)", fix: "free some space; devstack never deletes data to make room")
            }
            return try await take(kind, reason: reason, provider: provider)
        }
    }

    private func take(_ kind: BackupRecord.Kind, reason: String, provider: any DatabaseBackups) async throws -> BackupRecord {
        note("taking a \(kind.rawValue) backup (\(reason))")
        do {
            let record = try await provider.backup(kind, reason: reason)
            known = try await provider.list()
            lastFailure = nil
            overdueAlerted = false
            let verified = record.verification.map { $0.ok ? "verified: \($0.detail)" : "VERIFICATION FAILED: \($0.detail)" } ?? "not verified"
            note("backup \(record.label) taken in \(Int(record.stopped.timeIntervalSince(record.started)))s; \(verified)")
            if let verification = record.verification, !verification.ok {
                await alerts.send("backup_verification_failed", detail: "backup \(record.label) did not restore as taken: \(verification.detail)")
            }
            return record
        } catch {
            failures += 1
            lastFailure = "\(error)"
            note("the \(kind.rawValue) backup failed: \(error)")
            await alerts.send("backup_failed", detail: "a \(kind.rawValue) backup failed: \(error)")
            throw error
        }
    }

    /// One look of the scheduler: the backup due, unless the disk guard holds it (said once, alerted once).
    func runSchedule(provider: any DatabaseBackups, freeBytes: Int?, minimumFree: Int, now: Date = Date()) async {
        if known.isEmpty, let listed = try? await provider.list() { known = listed }
        if BackupSchedule.isOverdue(policy, backups: known, now: now) && !overdueAlerted {
            overdueAlerted = true
            let last = known.last.map { "the newest is \($0.label)" } ?? "there is none"
            await alerts.send(
                "backup_overdue", detail: "a scheduled backup is overdue; \(last)" + (lastFailure.map { "; last failure: \($0)" } ?? ""))
        }
        guard let kind = BackupSchedule.due(policy, backups: known, now: now), state == .idle else { return }
        let hold = await holdReason(provider: provider, freeBytes: freeBytes, minimumFree: minimumFree)
        if hold != paused {
            paused = hold
            if let hold {
                note("scheduled backups are paused: \(hold)")
                await alerts.send("backups_paused", detail: "scheduled backups are paused: \(hold)")
            } else {
                note("scheduled backups resume")
            }
        }
        guard hold == nil else { return }
        _ = try? await exclusively("\(kind.rawValue) backup") { try await take(kind, reason: "scheduled", provider: provider) }
    }

    func list(provider: any DatabaseBackups) async throws -> [BackupRecord] {
        known = try await provider.list()
        return known
    }

    func verify(_ label: String?, provider: any DatabaseBackups) async throws -> RepositoryCheck {
        try await exclusively("verification") {
            let check = try await provider.verify(label)
            known = (try? await provider.list()) ?? known
            if !check.ok {
                let detail = (check.problems + [check.restore.flatMap { $0.ok ? nil : $0.detail }].compactMap { $0 }).joined(separator: "; ")
                await alerts.send("backup_verification_failed", detail: "backup \(check.label ?? "-") failed verification: \(detail)")
            }
            return check
        }
    }

    func status(service: String, now: Date = Date()) -> BackupStatus {
        let working: String? = if case .working(let what) = state { what } else { nil }
        return BackupStatus(
            service: service, last: known.last, count: known.count, working: working, paused: paused, lastFailure: lastFailure,
            failures: failures, nextDue: BackupSchedule.nextDue(policy, backups: known)?.at,
            overdue: BackupSchedule.isOverdue(policy, backups: known, now: now))
    }
}

extension Duration {
    var seconds: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
