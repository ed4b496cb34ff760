import DevstackCore
import Foundation

/// What one check found: `fail` on a required check makes `devstack audit` exit 1.
public enum AuditStatus: String, Codable, Sendable, CaseIterable {
    case pass, warn, fail
    case notChecked = "not_checked"
    case manual
}

/// One thing a check looked at, and what it found there.
public struct AuditFinding: Codable, Sendable, Equatable {
    public var subject: String
    public var status: AuditStatus
    public var detail: String

    public init(_ subject: String, _ status: AuditStatus, _ detail: String) {
        self.subject = subject
        self.status = status
        self.detail = detail
    }
}

/// One line of the report: the check, its verdict, what it looked at, the evidence and the fix.
public struct AuditCheckResult: Codable, Sendable {
    public var id: String
    public var title: String
    public var required: Bool
    public var status: AuditStatus
    public var lookedAt: String
    public var summary: String
    public var findings: [AuditFinding]
    public var fix: String?

    /// The verdict its findings add up to: the worst of them, `pass` when none is a problem.
    init(id: String, title: String, required: Bool, lookedAt: String, summary: String, findings: [AuditFinding], fix: String?) {
        self.id = id
        self.title = title
        self.required = required
        self.lookedAt = lookedAt
        self.summary = summary
        self.findings = findings
        self.fix = fix
        let statuses = Set(findings.map(\.status))
        status = statuses.contains(.fail) ? .fail : statuses.contains(.warn) ? .warn : .pass
        if !required && status == .fail { status = .warn }
        if status == .pass { self.fix = nil }
    }

    static func notChecked(_ check: AuditCheck, lookedAt: String, because reason: String) -> AuditCheckResult {
        var result = AuditCheckResult(
            id: check.id, title: check.title, required: check.required, lookedAt: lookedAt, summary: "not checked: \(reason)", findings: [],
            fix: nil)
        result.status = .notChecked
        return result
    }
}

public struct AuditReport: Codable, Sendable {
    public var stack: String
    public var profile: String
    /// `full`, or `read-only` for a remote profile (production): no probes, no writes, no forged tokens.
    public var mode: String
    public var generatedAt: Date
    public var checks: [AuditCheckResult]
    public var counts: [String: Int]

    init(stack: String, profile: String, mode: String, checks: [AuditCheckResult]) {
        self.stack = stack
        self.profile = profile
        self.mode = mode
        generatedAt = Date()
        self.checks = checks
        counts = Dictionary(
            uniqueKeysWithValues: AuditStatus.allCases.map { status in (status.rawValue, checks.filter { $0.status == status }.count) })
    }

    /// A required check failed: `devstack audit` exits 1.
    public var failed: Bool { checks.contains { $0.required && $0.status == .fail } }
}

/// One check of the list. Each says what it looked at and, when it finds a problem, how to fix it.
protocol AuditCheck: Sendable {
    var id: String { get }
    var title: String { get }
    var required: Bool { get }
    func run(_ context: AuditContext) async -> AuditCheckResult
}

extension AuditCheck {
    var required: Bool { true }

    func result(lookedAt: String, summary: String, findings: [AuditFinding], fix: String?) -> AuditCheckResult {
        AuditCheckResult(id: id, title: title, required: required, lookedAt: lookedAt, summary: summary, findings: findings, fix: fix)
    }
}
