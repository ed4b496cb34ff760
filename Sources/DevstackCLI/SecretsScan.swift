import DevstackProject
import DevstackSystem
import Foundation

/// Where the production secrets devstack has fingerprinted turn up in the project: its files, or what
/// is staged for the next commit (the pre-commit hook's question).
enum SecretsScan {
    static func findings(in project: String, staged: Bool) -> [SecretFingerprints.Finding] {
        let fingerprints = SecretFingerprints()
        guard !fingerprints.entries.isEmpty else { return [] }
        if staged {
            let listed = ToolOutput.read("/usr/bin/env", ["git", "-C", project, "diff", "--cached", "--name-only", "--diff-filter=ACMR"]) ?? ""
            return listed.split(separator: "\n").flatMap { path in
                // The staged content, which is what the commit would carry.
                fingerprints.scan(ToolOutput.read("/usr/bin/env", ["git", "-C", project, "show", ":\(path)"]) ?? "", file: String(path))
            }
        }
        return SecretFingerprints.filesToScan(in: project).flatMap { path in
            fingerprints.scan((try? String(contentsOfFile: "\(project)/\(path)", encoding: .utf8)) ?? "", file: path)
        }
    }

    static func line(_ finding: SecretFingerprints.Finding) -> String {
        "\(finding.file):\(finding.line): holds \(finding.secret), a secret of production profile '\(finding.profile)'"
    }
}
