import ArgumentParser
import DevstackProject
import Foundation

struct CertificateAuthority: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Print the profile's certificate authority: what other machines trust to reach its exposed services.",
        discussion: """
            Made once per profile (in .devstack/<profile>/tls/) when the profile has `expose:`. Give it to \
            clients: `devstack ca --profile staging > staging-ca.pem`, then psql \
            "sslmode=verify-full sslrootcert=staging-ca.pem host=ADDRESS ..." or curl --cacert staging-ca.pem.
            """)

    @OptionGroup var project: ProjectOptions

    @Flag(help: "Print the file's path instead of the certificate.")
    var path = false

    func run() async throws {
        let workspace = try project.workspace()
        let plan = try await workspace.plan(environment: project.environment)
        guard let exposure = plan.profile.exposure else {
            throw ProjectError(
                .secrets, "profile '\(plan.profile.name)' exposes nothing, so it has no certificate authority",
                fix: "add expose: { address: ADDRESS, services: [db, ...] } to profiles/\(plan.profile.name).yaml")
        }
        let pem = try ProfileCertificates.ensure(exposure, profile: plan.profile.name)
        Console.standardOutput.write(path ? exposure.authorityFile + "\n" : pem)
    }
}
