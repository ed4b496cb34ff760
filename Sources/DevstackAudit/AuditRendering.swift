import DevstackCore
import Foundation

extension AuditReport {
    /// One line per check, its findings that need a look under it, then the fix.
    public func text(colored: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { colored ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        var lines = ["devstack audit: stack \(stack), profile \(profile) (\(mode == "full" ? "every check" : "read-only checks only"))", ""]
        for check in checks {
            let label: String
            switch check.status {
            case .pass: label = paint("PASS ", "32")
            case .warn: label = paint("WARN ", "33")
            case .fail: label = paint("FAIL ", "31")
            case .notChecked: label = paint("---- ", "2")
            case .manual: label = paint("TODO ", "36")
            }
            lines.append("\(label) \(check.title) [\(check.id)]: \(check.summary)")
            lines.append("      looked at: \(check.lookedAt)")
            for finding in check.findings where finding.status != .pass || check.status == .pass && check.findings.count <= 3 {
                lines.append("      \(finding.status == .pass ? "ok" : finding.status.rawValue): \(finding.subject): \(finding.detail)")
            }
            if let fix = check.fix, check.status == .fail || check.status == .warn { lines.append("      fix: \(fix)") }
        }
        let failedRequired = checks.filter { $0.required && $0.status == .fail }.count
        lines.append("")
        lines.append(
            "\(counts["pass"] ?? 0) passed, \(counts["fail"] ?? 0) failed, \(counts["warn"] ?? 0) warnings, \(counts["not_checked"] ?? 0) not checked, "
                + "\(counts["manual"] ?? 0) manual"
                + (failedRequired > 0 ? ": \(failedRequired) required check\(failedRequired == 1 ? "" : "s") failed" : ""))
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same as a Markdown document, for a pull request or a release checklist.
    public func markdown() -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var lines = [
            "# devstack audit: stack `\(stack)`, profile `\(profile)`", "",
            "Generated \(ISO8601DateFormatter().string(from: generatedAt)); \(mode == "full" ? "every check" : "read-only checks only").", "",
            "| Check | Status | Evidence |", "|---|---|---|",
        ]
        for check in checks {
            lines.append("| \(cell(check.title)) (`\(check.id)`) | \(check.status.rawValue) | \(cell(check.summary)) |")
        }
        for check in checks where !check.findings.isEmpty || check.fix != nil {
            lines += ["", "## \(check.title)", "", "Looked at: \(check.lookedAt).", ""]
            for finding in check.findings { lines.append("- **\(finding.status.rawValue)** `\(cell(finding.subject))`: \(cell(finding.detail))") }
            if let fix = check.fix { lines += ["", "Fix: \(fix)"] }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The JSON Schema `devstack audit --json` follows.
    public static let jsonSchema: JSONValue = {
        let status = JSONValue.object(["enum": .array(AuditStatus.allCases.map { .string($0.rawValue) })])
        let string = JSONValue.object(["type": .string("string")])
        func object(_ properties: [String: JSONValue]) -> JSONValue {
            .object([
                "type": .string("object"), "additionalProperties": .bool(false), "properties": .object(properties),
                "required": .array(properties.keys.sorted().filter { $0 != "fix" }.map(JSONValue.string)),
            ])
        }
        let finding = object(["subject": string, "status": status, "detail": string])
        let check = object([
            "id": string, "title": string, "required": .object(["type": .string("boolean")]), "status": status, "looked_at": string,
            "summary": string, "findings": .object(["type": .string("array"), "items": finding]),
            "fix": .object(["type": .array([.string("string"), .string("null")])]),
        ])
        guard
            case .object(var root) = object([
                "stack": string, "profile": string, "mode": .object(["enum": .array([.string("full"), .string("read-only")])]),
                "generated_at": .object(["type": .string("string"), "format": .string("date-time")]),
                "checks": .object(["type": .string("array"), "items": check]),
                "counts": object(
                    Dictionary(uniqueKeysWithValues: AuditStatus.allCases.map { ($0.rawValue, JSONValue.object(["type": .string("integer")])) })),
            ])
        else { return .object([:]) }
        root["$schema"] = .string("https://json-schema.org/draft/2020-12/schema")
        root["title"] = .string("devstack audit --json")
        return .object(root)
    }()
}
