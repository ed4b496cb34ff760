import ArgumentParser
import DevstackCore
import DevstackProject
import Foundation

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the stack and profile; print every error, or a one-line summary.",
        discussion: "Exit status 2 when anything is wrong; nothing is started either way.")

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Check the stack under every profile in profiles/.")
    var allProfiles = false

    func run() async throws {
        let workspace = try project.workspace()
        let profiles = allProfiles ? ProjectLoader.availableProfiles(in: workspace.projectDirectory) : [workspace.profile]
        let report = try await Validation.run(project: { try project.workspace(profile: $0) }, profiles: profiles, environment: project.environment)
        Console.standardOutput.write(report.summary)
        if let error = report.error { throw error }
        // Rule 2: a production secret devstack has fingerprinted must not sit in the project's files.
        let findings = SecretsScan.findings(in: workspace.projectDirectory, staged: false)
        guard findings.isEmpty else {
            Console.standardError.write(
                findings.map { "error: \(SecretsScan.line($0))\n    fix: take it out; production secrets come from the environment" }
                    .joined(separator: "\n") + "\n")
            throw ExitCode(2)
        }
    }
}
