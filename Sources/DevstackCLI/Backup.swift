import ArgumentParser
import DevstackCore
import DevstackDriverKit
import DevstackDrivers
import DevstackProject
import DevstackSupervisor
import Foundation

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the database with pgBackRest, list and verify backups, restore one or a point in time.",
        discussion: """
            The profile's `backups:` turns on WAL archiving and scheduled backups. Every backup is restored \
            into a scratch folder, started and compared with the live database at the backup's point; \
            `backup list` shows the result. Works on a running stack, or starts its database for the command.
            """,
        subcommands: [Now.self, List.self, Verify.self, Restore.self])

    /// Runs `body` on the stack's supervisor, refusing at once (nothing started) when the profile takes
    /// no backups; for a profile that runs on another machine, on that machine's (the host checks).
    static func withBackups<T: Sendable>(_ project: ProjectOptions, _ body: @escaping @Sendable (ControlClient) async throws -> T) async throws -> T {
        if let remote = try RemoteStack.of(project) { return try await body(remote.client()) }
        return try await StackRunner.withSupervisor(
            workspace: try project.workspace(), environment: project.environment, drivers: DriverSet.standard,
            check: { plan in
                guard plan.profile.backups == nil else { return }
                throw SupervisorError(
                    .refused, "profile '\(plan.profile.name)' takes no backups",
                    fix: "add 'backups: { full: weekly, diff: daily }' to profiles/\(plan.profile.name).yaml (see the README's Backups section)")
            }, body
        ).0
    }

    static func line(_ record: BackupRecord) -> String {
        let verification =
            record.verification.map { ($0.ok ? "verified " : "FAILED verification ") + BackupTime.display($0.at) + ": " + $0.detail } ?? "unverified"
        return
            "\(record.label)  \(record.kind.rawValue)  \(BackupTime.display(record.stopped))  \(Self.size(record.repositoryBytes))  \(record.reason)  \(verification)"
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) : String(format: "%.0f KiB", Double(bytes) / 1024)
    }

    struct Now: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a backup now, and verify it by restoring it.", discussion: "Refused while the disk guard holds backups.")

        @OptionGroup var project: ProjectOptions

        @Option(help: "full, diff (changes since the last full) or incr (since the last backup).")
        var kind: BackupRecord.Kind = .full

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let kind = kind
            let record = try await Backup.withBackups(project) { try await $0.backup(kind) }
            if json { return try Console.standardOutput.writeJSON(record) }
            Console.standardOutput.write("devstack: backup \(Backup.line(record))\n")
            if record.verification?.ok != true { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The backups in the repository, each with its verification.")

        @OptionGroup var project: ProjectOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let listing = try await Backup.withBackups(project) { try await $0.backups() }
            if json { return try Console.standardOutput.writeJSON(listing) }
            var lines = ["LABEL  KIND  ENDED  SIZE  REASON  VERIFICATION"] + listing.backups.map(Backup.line)
            if listing.backups.isEmpty { lines.append("(no backup yet)") }
            lines.append("")
            lines.append(listing.status.summary())
            if let next = listing.status.nextDue { lines.append("next scheduled backup: \(BackupTime.display(next))") }
            Console.standardOutput.write(lines.joined(separator: "\n") + "\n")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the repository's checksums and restore a backup (the newest by default) to prove it.",
            discussion: "Exit status 1 when a check fails.")

        @OptionGroup var project: ProjectOptions

        @Argument(help: "The backup's label (see `backup list`).")
        var label: String?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let label = label
            let check = try await Backup.withBackups(project) { try await $0.verifyBackup(label) }
            if json {
                try Console.standardOutput.writeJSON(check)
            } else {
                var lines =
                    check.problems.isEmpty
                    ? ["repository: every backup and WAL file matches its checksum"] : check.problems.map { "repository: \($0)" }
                if let restore = check.restore {
                    lines.append(
                        "restore of \(check.label ?? "-"): " + (restore.ok ? "ok" : "FAILED") + " in \(restore.milliseconds) ms: \(restore.detail)")
                }
                Console.standardOutput.write(lines.map { "devstack: \($0)" }.joined(separator: "\n") + "\n")
            }
            if !check.ok { throw ExitCode(1) }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put the database back to a backup, or to a point in time.",
            discussion: """
                Stops what depends on the database, takes a safety backup first (protected profiles), \
                restores and replays, and starts everything again. A protected profile needs --force. \
                Migrations newer than the restored state are applied again at start, as at every start.
                """)

        @OptionGroup var project: ProjectOptions

        @Argument(help: "The backup's label (see `backup list`).")
        var label: String?

        @Option(help: "A point in time, e.g. 2026-12-06T14:05:00Z (UTC unless an offset is given).")
        var to: String?

        @Flag(help: "Restore a protected profile.")
        var force = false

        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            if label != nil && to != nil { throw ValidationError("give a backup's label or --to TIME, not both") }
            if let to, BackupTime.parse(to) == nil {
                throw ValidationError("'\(to)' is not a time; write e.g. 2026-12-06T14:05:00Z or '2026-12-06 14:05:00' (UTC)")
            }
        }

        func run() async throws {
            let target: RestoreTarget = label.map { .backup($0) } ?? to.flatMap(BackupTime.parse).map { .time($0) } ?? .latest
            let force = force
            let outcome = try await Backup.withBackups(project) { try await $0.restoreBackup(to: target, force: force) }
            if json { return try Console.standardOutput.writeJSON(outcome) }
            var line = "devstack: \(outcome.service): restored \(outcome.target) in \(outcome.milliseconds) ms"
            if let safety = outcome.safetyBackup { line += "; safety backup \(safety) taken first" }
            if !outcome.restarted.isEmpty { line += "; restarted \(outcome.restarted.joined(separator: ", "))" }
            Console.standardOutput.write(line + "\n")
        }
    }
}

extension BackupRecord.Kind: ExpressibleByArgument {}
