import Foundation

/// A backup in the repository, with what devstack learnt when it restored it.
public struct BackupRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case full, diff, incr
    }

    public var label: String
    public var kind: Kind
    public var started: Date
    public var stopped: Date
    /// The database's size, and what the backup took in the repository (compressed, deduplicated).
    public var databaseBytes: Int
    public var repositoryBytes: Int
    /// Why it was taken: `scheduled`, `manual`, `safety` (before a restore).
    public var reason: String
    /// nil: never restored, so not known to restore.
    public var verification: BackupVerification?

    public init(
        label: String, kind: Kind, started: Date, stopped: Date, databaseBytes: Int, repositoryBytes: Int, reason: String,
        verification: BackupVerification?
    ) {
        self.label = label
        self.kind = kind
        self.started = started
        self.stopped = stopped
        self.databaseBytes = databaseBytes
        self.repositoryBytes = repositoryBytes
        self.reason = reason
        self.verification = verification
    }
}

/// A restore of one backup into a scratch folder, started and compared with the live database.
public struct BackupVerification: Codable, Sendable, Equatable {
    public var ok: Bool
    public var at: Date
    /// What was compared, or what differed.
    public var detail: String
    public var milliseconds: Int

    public init(ok: Bool, at: Date, detail: String, milliseconds: Int) {
        self.ok = ok
        self.at = at
        self.detail = detail
        self.milliseconds = milliseconds
    }
}

/// `backup verify`: the repository's own checksums, and a restore of the backup asked for.
public struct RepositoryCheck: Codable, Sendable {
    public var ok: Bool
    /// The repository checker's findings, one per line (empty when all is well).
    public var problems: [String]
    public var restore: BackupVerification?
    public var label: String?

    public init(ok: Bool, problems: [String], restore: BackupVerification?, label: String?) {
        self.ok = ok
        self.problems = problems
        self.restore = restore
        self.label = label
    }
}

/// Where `backup restore` takes the database.
public enum RestoreTarget: Sendable, Equatable, CustomStringConvertible {
    /// The end of the named backup (its consistent point).
    case backup(String)
    /// The last committed transaction at or before this moment.
    case time(Date)
    /// Every change the repository holds (after a lost data folder, or to undo a failed restore).
    case latest

    public var description: String {
        switch self {
        case .backup(let label): return "backup \(label)"
        case .time(let date): return "the state at \(BackupTime.format(date))"
        case .latest: return "the latest state in the repository"
        }
    }
}

/// Times as backups show and take them: UTC with seconds (and milliseconds when present).
public enum BackupTime {
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// For people: to the second.
    public static func display(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// ISO 8601 (`2026-12-06T12:00:00Z`, fractions and offsets allowed) or `YYYY-MM-DD HH:MM:SS` in UTC.
    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        let plain = DateFormatter()
        plain.locale = Locale(identifier: "en_US_POSIX")
        plain.timeZone = TimeZone(identifier: "UTC")
        for format in ["yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss"] {
            plain.dateFormat = format
            if let date = plain.date(from: text) { return date }
        }
        return nil
    }
}
