import DevstackCore
import DevstackDriverKit
import DevstackPostgres
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

private let pgBackRestInstalled =
    ExecutableLookup.resolve("pgbackrest", workingDirectory: "/", environment: ProcessInfo.processInfo.environment) != nil

/// pgBackRest for real: WAL archived from a real Postgres, backups taken, restored into scratch
/// folders and compared, points in time restored, a damaged repository found out.
@Suite(.serialized, .enabled(if: pgBackRestInstalled, "pgBackRest is installed by Tests/Support/install-prerequisites"))
struct BackupTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
          reader:
            kind: process
            command: "sleep 600"
            depends_on: [db]
        """

    static func start(profile: String) throws -> StackUnderTest {
        let directory = try TemporaryDirectory(prefix: "devstack-stack")
        try directory.write("stacks/default/stack.yaml", stack)
        try directory.write("profiles/staging.yaml", profile)
        return try StackUnderTest(directory: directory, arguments: ["--profile", "staging"])
    }

    static func json(_ result: DevstackBinary.Result) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        return try #require(object, "not JSON: \(result.standardOutput) \(result.standardError)")
    }

    static func count(_ stack: StackUnderTest) async throws -> [String] {
        try await PostgresSession.with(try await stack.postgresEndpoint()) {
            try await $0.strings("select body || ':' || count(*) from notes group by body order by 1")
        }
    }

    @Test func aRestoreToATimeBetweenGivesExactlyTheFirstRows() async throws {
        let stack = try Self.start(profile: "ports: auto\nprotected: true\nbackups: { full: weekly, diff: daily, encrypt: true }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { session in
            try await session.execute("create table notes (id serial primary key, body text not null)")
            try await session.execute("insert into notes (body) select 'first' from generate_series(1, 5)")
        }
        let taken = try Self.json(try stack.devstack(["backup", "now", "--profile", "staging", "--json"]))
        let verification = try #require(taken["verification"] as? [String: Any])
        #expect(verification["ok"] as? Bool == true, "\(taken)")
        #expect((verification["detail"] as? String)?.contains("as in the live database at the backup") == true, "\(verification)")

        // Postgres's clock, which the restore target is read against, and a moment between the two writes.
        let between = try await PostgresSession.with(endpoint) { session in
            try await Task.sleep(for: .milliseconds(300))
            let moment = try #require(
                try await session.strings("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')").first)
            try await Task.sleep(for: .milliseconds(300))
            try await session.execute("insert into notes (body) select 'second' from generate_series(1, 3)")
            return moment
        }
        let refused = try stack.devstack(["backup", "restore", "--to", between, "--profile", "staging"])
        #expect(refused.status == 3, "\(refused.standardError)")
        #expect(refused.standardError.contains("is protected"))
        #expect(try await Self.count(stack) == ["first:5", "second:3"], "a refused restore changed the data")

        let restored = try Self.json(try stack.devstack(["backup", "restore", "--to", between, "--profile", "staging", "--force", "--json"]))
        #expect(restored["restarted"] as? [String] == ["reader"], "\(restored)")
        let safety = try #require(restored["safety_backup"] as? String, "\(restored)")
        #expect(try await Self.count(stack) == ["first:5"])
        let report = try #require(await stack.status())
        #expect(report.services.allSatisfy { $0.phase.isUp }, "\(report.services)")

        // The safety backup holds what the restore replaced: restoring it brings the second rows back.
        let undone = try stack.devstack(["backup", "restore", safety, "--profile", "staging", "--force"])
        #expect(undone.status == 0, "\(undone.standardError)")
        #expect(try await Self.count(stack) == ["first:5", "second:3"])

        let listing = try Self.json(try stack.devstack(["backup", "list", "--profile", "staging", "--json"]))
        let backups = try #require(listing["backups"] as? [[String: Any]])
        #expect(backups.count >= 3, "\(backups)")
        #expect(backups.allSatisfy { ($0["verification"] as? [String: Any])?["ok"] as? Bool == true }, "\(backups)")
        #expect(Set(backups.compactMap { $0["reason"] as? String }).isSuperset(of: ["manual", "safety"]))
        let metrics = try stack.devstack(["status", "--metrics", "--profile", "staging"]).standardOutput
        #expect(metrics.contains("devstack_backup_last_verified{service=\"db\"} 1"), "\(metrics)")
        #expect(try await stack.stop() == 0)
    }

    @Test func verifyFindsACorruptedRepositoryFileAndAlerts() async throws {
        let hook = try await WebhookReceiver()
        defer { hook.stop() }
        let stack = try Self.start(profile: "ports: auto\nalerts: { webhook: \"\(hook.url)\" }\nbackups: { full: weekly }\n")
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        let taken = try Self.json(try stack.devstack(["backup", "now", "--profile", "staging", "--json"]))
        let label = try #require(taken["label"] as? String)
        let healthy = try stack.devstack(["backup", "verify", label, "--profile", "staging"])
        #expect(healthy.status == 0, "\(healthy.standardOutput) \(healthy.standardError)")

        // One byte changed in a file of the backup: pgBackRest's checksum no longer matches.
        let data = try #require(try? FileManager.default.destinationOfSymbolicLink(atPath: "\(stack.path)/.devstack/staging/data/db"))
        let backup = URL(fileURLWithPath: data).deletingLastPathComponent().path + "/db-backups/repo/backup/db/\(label)/pg_data"
        let files = try #require(FileManager.default.enumerator(atPath: backup)).compactMap { $0 as? String }.filter { $0.hasPrefix("base/") }
        let victim = try #require(
            files.first { file in
                let attributes = try? FileManager.default.attributesOfItem(atPath: "\(backup)/\(file)")
                return attributes?[.type] as? FileAttributeType == .typeRegular && (attributes?[.size] as? Int ?? 0) > 256
            })
        let handle = try #require(FileHandle(forUpdatingAtPath: "\(backup)/\(victim)"))
        try handle.seek(toOffset: 64)
        try handle.write(contentsOf: Data("corrupted".utf8))
        try handle.close()

        let damaged = try stack.devstack(["backup", "verify", label, "--profile", "staging"])
        #expect(damaged.status == 1)
        #expect(damaged.standardOutput.contains("checksum invalid"), "\(damaged.standardOutput)")
        let events = try await hook.waitFor(["backup_verification_failed"])
        #expect(events.contains { $0["event"] as? String == "backup_verification_failed" }, "\(events)")
        #expect(try await stack.stop() == 0)
    }

    @Test func theDiskGuardHoldsBackupsAndSaysSo() async throws {
        let hook = try await WebhookReceiver()
        defer { hook.stop() }
        let stack = try Self.start(
            profile: "ports: auto\nalerts: { webhook: \"\(hook.url)\" }\ndisk: { min_free: 100000GB }\nbackups: { full: weekly }\n")
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        let refused = try stack.devstack(["backup", "now", "--profile", "staging"])
        #expect(refused.status == 3)
        #expect(refused.standardError.contains("no backup was taken: the disk is low"), "\(refused.standardError)")
        // The schedule's first look wants a full backup and holds it.
        let events = try await hook.waitFor(["backups_paused"])
        #expect(events.contains { $0["event"] as? String == "backups_paused" }, "\(events)")
        let status = try Self.json(try stack.devstack(["status", "--json", "--profile", "staging"]))
        let backups = try #require(status["backups"] as? [String: Any])
        #expect((backups["paused"] as? String)?.contains("the disk is low") == true, "\(backups)")
        #expect(backups["count"] as? Int == 0)
        #expect(
            try stack.devstack(["status", "--metrics", "--profile", "staging"]).standardOutput.contains("devstack_backups_paused{service=\"db\"} 1"))
        #expect(try await stack.stop() == 0)
    }

    @Test func aProfileWithoutBackupsRefusesBeforeStartingAnything() throws {
        let directory = try TemporaryDirectory(prefix: "devstack-stack")
        defer { directory.remove() }
        try directory.write("stacks/default/stack.yaml", Self.stack)
        try directory.write("profiles/local.yaml", "ports: auto\n")
        let result = try DevstackBinary.run(["backup", "list"], in: directory.path)
        #expect(result.status == 3)
        #expect(result.standardError.contains("profile 'local' takes no backups"))
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/.devstack/local/state.json"))
    }
}
