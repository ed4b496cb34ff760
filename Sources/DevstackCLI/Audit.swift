import ArgumentParser
import DevstackAudit
import DevstackCore
import DevstackProject
import Foundation

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the before-production list: RLS, storage, exposed keys, JWT validation, rate limits, secrets.",
        discussion: """
            One line per check with what it looked at and its evidence. Exits 1 when a required check \
            fails, 0 otherwise (warnings listed). Against a remote profile (production) only read-only \
            checks run: no lease, no probe, no forged token. The probing checks need the stack running.
            """)

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Print the report as JSON (see --schema).")
    var json = false

    @Option(help: "Also write the report as Markdown to this file.")
    var markdown: String?

    @Flag(help: "Print the JSON Schema of the --json report and exit.")
    var schema = false

    func run() async throws {
        if schema {
            let data = try StateStore.encoder.encode(AuditReport.jsonSchema)
            Console.standardOutput.write(String(decoding: data, as: UTF8.self) + "\n")
            return
        }
        let report = try await Auditor.audit(workspace: try project.workspace(), environment: project.environment)
        if let markdown { try report.markdown().write(toFile: markdown, atomically: true, encoding: .utf8) }
        if json {
            try Console.standardOutput.writeJSON(report)
        } else {
            let environment = ProcessInfo.processInfo.environment
            let colored = isatty(STDOUT_FILENO) == 1 && environment["TERM"] != "dumb" && environment["NO_COLOR"].map(\.isEmpty) ?? true
            Console.standardOutput.write(report.text(colored: colored))
        }
        if report.failed { throw ExitCode(1) }
    }
}
