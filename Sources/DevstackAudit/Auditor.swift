import DevstackCore
import DevstackProject
import DevstackSupervisor
import Foundation

/// Monitoring, alerting and backups on an always-on profile: alerts must go somewhere (the profile's
/// `alerts.webhook`), and the data must be backed up (`backups:`) with the newest backup verified.
struct OperationsCheck: AuditCheck {
    let id = "operations"
    let title = "Monitoring, alerting and backups"

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let lookedAt = "the profile's alerts.webhook; a backup schedule and the last verified backup"
        guard context.alwaysOn, !context.readOnly else {
            let why =
                context.readOnly
                ? "profile '\(context.plan.profile.name)' is remote: its monitoring is not devstack's"
                : "profile '\(context.plan.profile.name)' is not always-on (neither protected nor remote)"
            return .notChecked(self, lookedAt: lookedAt, because: why)
        }
        let alerts =
            context.plan.profile.alertWebhook.map { webhook in
                AuditFinding("alerts", .pass, "crash loops, failed services and low disk go to \(URL(string: webhook)?.host ?? webhook)")
            }
            ?? AuditFinding("alerts", .fail, "no alerts.webhook: a crash loop or a full disk on this machine goes unnoticed")
        let backups = await backupFinding(context)
        return result(
            lookedAt: lookedAt, summary: "\(alerts.detail); \(backups.detail)", findings: [alerts, backups],
            fix: "add alerts: { webhook: URL } and backups: { full: weekly, diff: daily } to \(context.profileFile); "
                + "/healthz and /metrics serve monitoring (`devstack status --metrics`)")
    }

    private func backupFinding(_ context: AuditContext) async -> AuditFinding {
        guard let policy = context.plan.profile.backups else {
            return AuditFinding("backups", .fail, "no backups: the profile has no 'backups:', so a lost disk loses the data")
        }
        let schedule =
            "pgBackRest backups of \(policy.service ?? "the database"), full every \(DurationParser.format(policy.full))"
            + (policy.differential.map { ", differential every \(DurationParser.format($0))" } ?? "") + ", \(policy.retention) full kept"
            + (policy.encrypt ? ", encrypted" : "")
        guard let running = context.running, let status = try? await ControlClient(socket: running.controlSocket).status().backups else {
            return AuditFinding("backups", .pass, schedule + " (the stack is not running: the newest backup was not looked at)")
        }
        guard let last = status.last else { return AuditFinding("backups", .fail, schedule + "; no backup taken yet") }
        guard let verification = last.verification else {
            return AuditFinding("backups", .fail, schedule + "; the newest backup (\(last.label)) was never restored")
        }
        guard verification.ok else {
            return AuditFinding("backups", .fail, schedule + "; the newest backup (\(last.label)) failed its restore: \(verification.detail)")
        }
        if status.overdue { return AuditFinding("backups", .fail, schedule + "; a scheduled backup is overdue") }
        return AuditFinding("backups", .pass, schedule + "; the newest (\(last.label)) restored and matched the live data")
    }
}

/// The checklist lines no tool can check: listed, with who recorded them as done, when and where.
struct ManualChecks {
    static func results(_ context: AuditContext) -> [AuditCheckResult] {
        ManualCheck.allCases.map { check in
            let record = context.project.profile.manualChecks.first { $0.check == check }
            var result = AuditCheckResult(
                id: "manual.\(check.rawValue)", title: check.title, required: false, lookedAt: "audit.\(check.rawValue) in \(context.profileFile)",
                summary: record.map { "done by \($0.by ?? "?") on \($0.on ?? "?")" + ($0.link.map { " (\($0))" } ?? "") }
                    ?? "not recorded: add audit: { \(check.rawValue): { by: NAME, on: YYYY-MM-DD, link: URL } } to \(context.profileFile) once done",
                findings: [], fix: nil)
            result.status = .manual
            return result
        }
    }
}

/// Runs the checks in the order of the checklist and collects the report.
public enum Auditor {
    public static func audit(workspace: Workspace, environment: [String: String]) async throws -> AuditReport {
        let project = try workspace.load()
        let modes = SecretsCheck.secretFileModes(in: workspace.stateDirectory)
        let (plan, running) = try await workspace.planMatchingRunningStack(environment: environment)
        let context = AuditContext(
            plan: plan, project: project, running: running, stateDirectory: workspace.stateDirectory, secretFileModes: modes)
        let checks: [any AuditCheck] = [
            RowLevelSecurityCheck(), RowLevelSecurityProbe(), StorageCheck(), ServiceKeyExposureCheck(), JWTBypassCheck(), RateLimitCheck(),
            OperationsCheck(), SecretsCheck(),
        ]
        var results: [AuditCheckResult] = []
        for check in checks { results.append(await check.run(context)) }
        return AuditReport(
            stack: plan.stack, profile: plan.profile.name, mode: context.readOnly ? "read-only" : "full",
            checks: results + ManualChecks.results(context))
    }
}
