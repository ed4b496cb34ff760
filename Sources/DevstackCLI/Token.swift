import ArgumentParser
import DevstackCore
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import Foundation

extension AccessRole: ExpressibleByArgument {}

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Tokens for other machines to use the host's control API (on the machine that runs the profile).",
        discussion: """
            Roles: read (status, public env, applied migrations), test (the whole env with the service key, \
            logs, smoke checks), admin (reset, restore, migrate, services). Each includes the ones before it. \
            Only a SHA-256 of each token is kept (.devstack/<profile>/tokens.json); every call made with one \
            is logged with its name in .devstack/<profile>/remote-calls.log.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    /// The profile's tokens, on the machine that runs it.
    static func tokens(_ project: ProjectOptions) async throws -> (AccessTokens, Plan) {
        if let remote = try RemoteStack.of(project) {
            throw SupervisorError(
                .refused, "profile '\(remote.profile)' runs on \(remote.host.endpoint): tokens are made there",
                fix: "run devstack token … on that machine")
        }
        let workspace = try project.workspace()
        let plan = try await workspace.plan(environment: project.environment, persistSecrets: false)
        guard plan.profile.machine != nil, plan.profile.exposure != nil else {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' names no host: other machines have no control API to use",
                fix: "add host: { address: ADDRESS, port: \(HostSpec.defaultPort) } and expose: { address: ADDRESS, services: […] } to it")
        }
        return (AccessTokens(stateDirectory: workspace.stateDirectory), plan)
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token; it is printed once, with the line that logs in with it.")

        @OptionGroup var project: ProjectOptions

        @Argument(help: "Who or what holds it, e.g. ci or alice-laptop.")
        var name: String

        @Option(help: "read, test or admin.")
        var role: AccessRole = .test

        @Flag(help: "Print JSON.")
        var json = false

        struct Created: Codable {
            var name: String
            var role: AccessRole
            var token: String
            var host: String
            var caSHA256: String
            var login: String
        }

        func run() async throws {
            let (tokens, plan) = try await Token.tokens(project)
            guard let exposure = plan.profile.exposure, let host = plan.profile.machine else { return }
            let authority = try ProfileCertificates.ensure(exposure, profile: plan.profile.name)
            let token = try tokens.create(name: name, role: role)
            let fingerprint = RemoteTransport.fingerprint(ofPEM: authority) ?? ""
            let login = "devstack login \(plan.profile.name) --token \(token) --ca-sha256 \(fingerprint)"
            if json {
                let created = Created(name: name, role: role, token: token, host: host.endpoint, caSHA256: fingerprint, login: login)
                return try Console.standardOutput.writeJSON(created)
            }
            Console.standardOutput.write(
                """
                devstack: token '\(name)' (role \(role.rawValue)) for \(host.endpoint); it is shown only now.
                On the other machine, in a checkout of this project:
                  \(login)

                """)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tokens the host accepts: name, role, made when.")

        @OptionGroup var project: ProjectOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let entries = try await Token.tokens(project).0.entries
            if json {
                let shown = entries.map { ["name": $0.name, "role": $0.role.rawValue, "created_at": $0.createdAt.formatted(.iso8601)] }
                return try Console.standardOutput.writeJSON(shown)
            }
            guard !entries.isEmpty else { return Console.standardOutput.write("devstack: no tokens (devstack token create NAME --role test)\n") }
            let rows = [["NAME", "ROLE", "CREATED"]] + entries.map { [$0.name, $0.role.rawValue, $0.createdAt.formatted(.iso8601)] }
            Console.standardOutput.write(TextTable.render(rows))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop accepting a token, from its next call on.")

        @OptionGroup var project: ProjectOptions

        @Argument(help: "The token's name.")
        var name: String

        func run() async throws {
            try await Token.tokens(project).0.revoke(name: name)
            Console.standardOutput.write("devstack: token '\(name)' revoked\n")
        }
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "Forget the token and certificate authority kept for a profile's host.")

    @OptionGroup var project: ProjectOptions

    @Argument(help: "The profile, e.g. staging.")
    var profileName: String

    func run() async throws {
        guard let host = try project.workspace(profile: profileName).load().profile.machine?.value else {
            throw ValidationError("profile '\(profileName)' names no host: there is nothing to log out of")
        }
        let logins = RemoteLogins(folder: ConfigFolder.root(environment: project.environment))
        guard logins.login(for: host) != nil else { return Console.standardOutput.write("devstack: not logged in to \(host.endpoint)\n") }
        try logins.remove(host)
        Console.standardOutput.write("devstack: logged out of \(host.endpoint); the token itself stays valid until the host revokes it\n")
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Use a profile that runs on another machine (its host:), with a token made there.",
        discussion: """
            Fetches the host's certificate authority, checks it against --ca-sha256 (printed by `devstack token \
            create` on the host), and keeps it and the token in your configuration folder (mode 0600), never in \
            the project. Every later connection to the host is checked against that authority.
            """)

    @OptionGroup var project: ProjectOptions

    @Argument(help: "The profile, e.g. staging.")
    var profileName: String

    @Option(help: "The token from `devstack token create` on the host.")
    var token: String

    @Option(name: .customLong("ca-sha256"), help: "The SHA-256 of the host's certificate authority, as the host printed it.")
    var caSHA256: String

    func run() async throws {
        let workspace = try project.workspace(profile: profileName)
        guard let host = try workspace.load().profile.machine?.value else {
            throw ValidationError("profile '\(profileName)' names no host: it runs wherever devstack up starts it")
        }
        let (pem, fingerprint) = try await RemoteTransport.fetchAuthority(host)
        let wanted = caSHA256.uppercased().replacingOccurrences(of: ":", with: "")
        guard fingerprint.replacingOccurrences(of: ":", with: "") == wanted else {
            throw SupervisorError(
                .refused, "\(host.endpoint) presented a certificate authority with SHA-256 \(fingerprint), not the one given; nothing was stored",
                fix: "check the value devstack token create printed on the host; if it matches, something else answers at \(host.endpoint)")
        }
        let identity = try await ControlClient(transport: RemoteTransport(host: host, token: token, authorityPEM: pem, profile: profileName))
            .whoami()
        let logins = RemoteLogins(folder: ConfigFolder.root(environment: project.environment))
        try logins.save(
            RemoteLogins.Login(
                host: host.endpoint, token: token, name: identity.name, role: identity.role, project: identity.project, loggedInAt: Date()),
            authorityPEM: pem, for: host)
        Console.standardOutput.write(
            "devstack: logged in to \(host.endpoint) (project \(identity.project), profile \(identity.profile)) as '\(identity.name)', role \(identity.role.rawValue)\n"
        )
    }
}
