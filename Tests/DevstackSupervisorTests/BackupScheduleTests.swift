import DevstackCore
import DevstackSupervisor
import Foundation
import Testing

/// The schedule is a function of the policy, the backups taken and the time.
@Suite struct BackupScheduleTests {
    let day: TimeInterval = 86_400
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func backup(_ kind: BackupRecord.Kind, endedAfter days: Double) -> BackupRecord {
        let ended = start.addingTimeInterval(days * day)
        return BackupRecord(
            label: "\(kind)-\(days)", kind: kind, started: ended.addingTimeInterval(-60), stopped: ended, databaseBytes: 1, repositoryBytes: 1,
            reason: "scheduled", verification: nil)
    }

    @Test func aFullBackupComesFirst() {
        #expect(BackupSchedule.due(BackupPolicy(), backups: [], now: start) == .full)
        // A safety backup (incremental) is no full one.
        #expect(BackupSchedule.due(BackupPolicy(), backups: [backup(.incr, endedAfter: 0)], now: start) == .full)
    }

    @Test func differentialsDailyFullsWeekly() {
        let policy = BackupPolicy(full: .seconds(7 * 86_400), differential: .seconds(86_400))
        var taken = [backup(.full, endedAfter: 0)]
        #expect(BackupSchedule.due(policy, backups: taken, now: start.addingTimeInterval(0.5 * day)) == nil)
        #expect(BackupSchedule.due(policy, backups: taken, now: start.addingTimeInterval(1 * day)) == .diff)
        taken += (1...6).map { backup(.diff, endedAfter: Double($0)) }
        #expect(BackupSchedule.due(policy, backups: taken, now: start.addingTimeInterval(6.5 * day)) == nil)
        #expect(BackupSchedule.due(policy, backups: taken, now: start.addingTimeInterval(7 * day)) == .full)
        #expect(BackupSchedule.nextDue(policy, backups: taken)?.at == start.addingTimeInterval(7 * day))
    }

    @Test func withoutDifferentialsOnlyFulls() {
        let policy = BackupPolicy(full: .seconds(86_400), differential: nil)
        let taken = [backup(.full, endedAfter: 0)]
        #expect(BackupSchedule.due(policy, backups: taken, now: start.addingTimeInterval(0.9 * day)) == nil)
        #expect(BackupSchedule.due(policy, backups: taken, now: start.addingTimeInterval(1 * day)) == .full)
    }

    @Test func overdueOnlyWellPastDue() {
        let policy = BackupPolicy(full: .seconds(7 * 86_400), differential: .seconds(86_400))
        let taken = [backup(.full, endedAfter: 0)]
        #expect(!BackupSchedule.isOverdue(policy, backups: [], now: start))
        #expect(!BackupSchedule.isOverdue(policy, backups: taken, now: start.addingTimeInterval(1.2 * day)))
        #expect(BackupSchedule.isOverdue(policy, backups: taken, now: start.addingTimeInterval(1.3 * day)))
    }

    @Test func intervalsAsPeopleWriteThem() {
        #expect(BackupPolicy.interval("weekly") == .seconds(7 * 86_400))
        #expect(BackupPolicy.interval("3d") == .seconds(3 * 86_400))
        #expect(BackupPolicy.interval("12h") == .seconds(12 * 3600))
        #expect(BackupPolicy.interval("10s") == nil)
        #expect(BackupPolicy.interval("fortnightly") == nil)
    }

    @Test func timesAsUsersGiveThem() {
        #expect(BackupTime.parse("2026-12-06T14:05:00Z") == Date(timeIntervalSince1970: 1_796_565_900))
        #expect(BackupTime.parse("2026-12-06 14:05:00") == Date(timeIntervalSince1970: 1_796_565_900))
        #expect(BackupTime.parse("2026-12-06T15:05:00+01:00") == Date(timeIntervalSince1970: 1_796_565_900))
        #expect(BackupTime.parse("2026-12-06T14:05:00.250Z") == Date(timeIntervalSince1970: 1_796_565_900.25))
        #expect(BackupTime.parse("yesterday") == nil)
    }
}
