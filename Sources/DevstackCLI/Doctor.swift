import ArgumentParser
import DevstackCore
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import Foundation

/// One thing that would stop this machine serving the stack, checked.
struct DoctorFinding: Codable, Sendable {
    enum Status: String, Codable, Sendable {
        case ok, warn, fail
        case notChecked = "not_checked"
    }

    var check: String
    var status: Status
    var detail: String
    var fix: String?
}

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what would stop this machine serving the stack: sleep, disk, clock, the service unit, the stack.",
        discussion: "Exit status 1 when a check fails. Platform checks: systemd and logind on Linux, pmset and launchd on macOS.")

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Argument(help: "secrets: look for production secrets in the project's files instead (see --staged).")
    var topic: String?

    @Flag(help: "With secrets: look in what is staged for the next commit (the pre-commit hook).")
    var staged = false

    func validate() throws {
        if let topic, topic != "secrets" { throw ValidationError("unknown check '\(topic)': the one there is, is 'secrets'") }
        if staged && topic == nil { throw ValidationError("--staged goes with `devstack doctor secrets`") }
    }

    func run() async throws {
        if topic == "secrets" { return try scanSecrets() }
        if let remote = try RemoteStack.of(project) { return try report(await remote.doctorFindings()) }
        let workspace = try project.workspace()
        let (plan, running) = try await workspace.planMatchingRunningStack(environment: project.environment)
        let alwaysOn = plan.profile.protected && !plan.profile.remote
        let manager = ServiceManager(home: ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory())
        let unit = ServiceUnit(
            executable: BinaryDiscovery.runningExecutable, projectDirectory: workspace.projectDirectory, stack: workspace.stack,
            profile: workspace.profile, scope: .system, user: nil)
        let findings =
            [
                manager.sleepFinding(keepAwake: plan.profile.keepAwake), Self.disk(at: plan.stateDirectory), manager.clockFinding(),
                manager.unitFinding(unit, alwaysOn: alwaysOn), await Self.stack(running, alwaysOn: alwaysOn, profile: plan.profile.name),
                await Self.backups(plan, running: running, alwaysOn: alwaysOn, environment: project.environment),
            ] + (plan.profile.machine.map { [Self.tokens($0, stateDirectory: workspace.stateDirectory)] } ?? [])
        try report(findings)
    }

    private func report(_ findings: [DoctorFinding]) throws {
        if json {
            try Console.standardOutput.writeJSON(findings)
        } else {
            var lines: [String] = []
            for finding in findings {
                let label = ["ok": "ok  ", "warn": "WARN", "fail": "FAIL", "not_checked": "----"][finding.status.rawValue] ?? ""
                lines.append("\(label) \(finding.check): \(finding.detail)")
                if let fix = finding.fix, finding.status != .ok { lines.append("     fix: \(fix)") }
            }
            Console.standardOutput.write(lines.joined(separator: "\n") + "\n")
        }
        if findings.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
    }

    /// Free space where the state and persistent data are: under 1 GiB fails, under 5 GiB warns.
    static func disk(at path: String) -> DoctorFinding {
        var folder = path
        while !FileManager.default.fileExists(atPath: folder) && folder != "/" {
            folder = URL(fileURLWithPath: folder).deletingLastPathComponent().path
        }
        guard let free = ProcessResources.freeBytes(at: folder) else {
            return DoctorFinding(check: "disk", status: .notChecked, detail: "cannot read the free space of \(folder)")
        }
        let gigabytes = String(format: "%.1f GiB", Double(free) / Double(1 << 30))
        let fix = "free space on that disk, or move the project to one with room: Postgres stops writing when the disk is full"
        if free < 1 << 30 { return DoctorFinding(check: "disk", status: .fail, detail: "\(gigabytes) free where the data is (\(folder))", fix: fix) }
        if free < 5 << 30 { return DoctorFinding(check: "disk", status: .warn, detail: "\(gigabytes) free where the data is (\(folder))", fix: fix) }
        return DoctorFinding(check: "disk", status: .ok, detail: "\(gigabytes) free where the data is (\(folder))")
    }

    /// Rule 2: no production secret devstack has fingerprinted in the project's files (or the staged ones).
    private func scanSecrets() throws {
        let directory = try project.workspace().projectDirectory
        let findings = SecretsScan.findings(in: directory, staged: staged)
        if json {
            try Console.standardOutput.writeJSON(findings)
        } else if findings.isEmpty {
            let known = SecretFingerprints().entries.count
            Console.standardOutput.write(
                "ok   secrets: none of the \(known) production secret\(known == 1 ? "" : "s") devstack has fingerprinted is in "
                    + (staged ? "what is staged" : "the project's .env files, profiles, stacks or secrets files") + "\n")
        } else {
            let lines = findings.map { "FAIL secrets: \(SecretsScan.line($0))" }
            Console.standardOutput.write(
                (lines + ["     fix: take the value out (and rotate it if it was ever committed); production secrets come from the environment"])
                    .joined(separator: "\n") + "\n")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }

    /// Backups: asked for on an always-on profile, pgBackRest installed, the newest one recent and verified.
    static func backups(_ plan: Plan, running: SupervisorRecord?, alwaysOn: Bool, environment: [String: String]) async -> DoctorFinding {
        guard plan.profile.backups != nil else {
            return DoctorFinding(
                check: "backups", status: alwaysOn ? .warn : .notChecked, detail: "the profile takes no backups",
                fix: "add 'backups: { full: weekly, diff: daily }' to profiles/\(plan.profile.name).yaml")
        }
        if (try? PgBackRest.find(environment: environment)) == nil {
            return DoctorFinding(
                check: "backups", status: .fail, detail: "the profile takes backups and pgbackrest is not installed",
                fix: "apt-get install pgbackrest (macOS: brew install pgbackrest)")
        }
        guard let running, let status = try? await ControlClient(socket: running.controlSocket).status().backups else {
            return DoctorFinding(check: "backups", status: .notChecked, detail: "pgBackRest is installed; the stack is not running")
        }
        let detail = status.summary()
        let fix = "devstack backup list --profile \(plan.profile.name); devstack logs \(status.service)"
        if status.overdue || status.last?.verification?.ok == false {
            return DoctorFinding(check: "backups", status: .fail, detail: detail, fix: fix)
        }
        if status.last == nil || status.last?.verification == nil || status.paused != nil {
            return DoctorFinding(check: "backups", status: .warn, detail: detail, fix: fix)
        }
        return DoctorFinding(check: "backups", status: .ok, detail: detail)
    }

    /// The stack itself: running, and every service up.
    /// On the machine a profile's `host:` names: who may use its control API.
    static func tokens(_ host: HostSpec, stateDirectory: String) -> DoctorFinding {
        let entries = AccessTokens(stateDirectory: stateDirectory).entries
        guard !entries.isEmpty else {
            return DoctorFinding(
                check: "tokens", status: .warn, detail: "the control API on \(host.endpoint) has no tokens: no other machine can use it",
                fix: "devstack token create NAME --role test, and give its login line to the laptop or CI")
        }
        return DoctorFinding(
            check: "tokens", status: .ok,
            detail: "\(entries.count) for \(host.endpoint): " + entries.map { "\($0.name) (\($0.role.rawValue))" }.joined(separator: ", "))
    }

    static func stack(_ running: SupervisorRecord?, alwaysOn: Bool, profile: String) async -> DoctorFinding {
        guard let running else {
            return DoctorFinding(
                check: "stack", status: alwaysOn ? .fail : .notChecked, detail: "not running",
                fix: "devstack up --profile \(profile) --detach, or devstack service install --profile \(profile)")
        }
        guard let report = try? await ControlClient(socket: running.controlSocket).status() else {
            return DoctorFinding(
                check: "stack", status: .fail, detail: "the supervisor (pid \(running.pid)) does not answer", fix: "devstack down, then up")
        }
        let down = report.services.filter { !$0.phase.isUp }
        if down.isEmpty { return DoctorFinding(check: "stack", status: .ok, detail: "\(report.services.count) services up") }
        return DoctorFinding(
            check: "stack", status: .warn, detail: down.map { "\($0.name) is \($0.phase.rawValue)" }.joined(separator: ", "),
            fix: "devstack logs \(down.map(\.name).joined(separator: " "))")
    }
}
