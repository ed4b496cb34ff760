import ArgumentParser
import DevstackCore
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import Foundation

/// A profile whose `host:` is another machine: this machine is its client, and commands go to the
/// host's control API. The machine named by `host:` runs the stack itself, unless someone logged in
/// to it from there (a second project on the host standing in for a laptop, or a tunnel).
struct RemoteStack {
    let host: HostSpec
    let profile: String
    /// The project's files as loaded to find `host:`, planned again from here, not read twice.
    let workspace: Workspace
    let project: LoadedProject
    let logins: RemoteLogins
    let login: RemoteLogins.Login?

    /// nil when the profile runs here: it has no `host:`, or names this machine.
    static func of(_ project: ProjectOptions, profile override: String? = nil) throws -> RemoteStack? {
        let workspace = try project.workspace(profile: override)
        // Most profiles have no `host:`; commands that never plan must not pay for parsing to find out.
        let file = "\(workspace.projectDirectory)/profiles/\(workspace.profile).yaml"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            text.range(of: #"(?m)^host:\s*(\{|$|#)"#, options: .regularExpression) != nil
        else { return nil }
        // The stack of this profile runs here: this is its machine (and the project need not be parsed to tell).
        if StateStore(directory: workspace.stateDirectory).running() != nil { return nil }
        let loaded = try workspace.load()
        guard let host = loaded.profile.machine?.value else { return nil }
        let logins = RemoteLogins(folder: ConfigFolder.root(environment: project.environment))
        let login = logins.login(for: host)
        if login == nil && Ports.isOwnAddress(host.address) { return nil }
        return RemoteStack(host: host, profile: workspace.profile, workspace: workspace, project: loaded, logins: logins, login: login)
    }

    /// The client, once logged in.
    func client() throws -> ControlClient {
        guard let login else {
            throw SupervisorError(
                .refused, "profile '\(profile)' runs on \(host.endpoint), and this machine has not logged in to it",
                fix: "ask for a token on the host (devstack token create NAME --role test), then: devstack login \(profile) --token … --ca-sha256 …")
        }
        let authority = try? String(contentsOfFile: logins.authorityFile(for: host), encoding: .utf8)
        return ControlClient(transport: try RemoteTransport(host: host, token: login.token, authorityPEM: authority, profile: profile))
    }

    /// `devstack doctor` on a client: the login, the host answering over TLS with it, the stack there.
    func doctorFindings() async -> [DoctorFinding] {
        guard let login else {
            return [
                DoctorFinding(
                    check: "login", status: .fail, detail: "profile '\(profile)' runs on \(host.endpoint); this machine has not logged in to it",
                    fix: "devstack login \(profile) --token … --ca-sha256 … (devstack token create on the host prints the line)")
            ]
        }
        var findings = [
            DoctorFinding(
                check: "login", status: .ok,
                detail: "as '\(login.name)' (role \(login.role.rawValue)) on \(host.endpoint) since \(login.loggedInAt.formatted(.iso8601))")
        ]
        do {
            let client = try client()
            let identity = try await client.whoami()
            findings.append(
                DoctorFinding(
                    check: "host", status: .ok,
                    detail: "answers over TLS checked against the stored authority; token '\(identity.name)' has role \(identity.role.rawValue)"))
            let report = try await client.status()
            let down = report.services.filter { !$0.phase.isUp }
            findings.append(
                down.isEmpty
                    ? DoctorFinding(check: "stack", status: .ok, detail: "\(report.services.count) services up on \(host.endpoint)")
                    : DoctorFinding(
                        check: "stack", status: .warn, detail: down.map { "\($0.name) is \($0.phase.rawValue)" }.joined(separator: ", "),
                        fix: "devstack logs --profile \(profile) \(down.map(\.name).joined(separator: " "))"))
        } catch let error as any DevstackError {
            findings.append(DoctorFinding(check: "host", status: .fail, detail: error.message, fix: error.fix))
        } catch {
            findings.append(DoctorFinding(check: "host", status: .fail, detail: "\(error)"))
        }
        return findings
    }

    /// What `up` and `down` say instead of starting or stopping anything here.
    var elsewhere: String {
        "devstack: profile '\(profile)' runs on \(host.endpoint); this machine is its client (devstack status --profile \(profile))"
    }

    /// This machine's plan of the host's stack: the project's files here, the secrets the login's role
    /// may see and the ports the host listens on from there, every service reached over TLS at the
    /// exposed address and checked against the host's authority.
    func plan(environment: [String: String]) async throws -> (Plan, RemoteConnection) {
        let connection = try await client().connection()
        guard let exposedAddress = project.profile.expose?.value.address else {
            throw SupervisorError(.refused, "profile '\(profile)' exposes nothing", fix: "add expose: { address, services } to it")
        }
        // What the role does not see is planned as a placeholder, and only public values are used then.
        var secrets = connection.secrets
        for name in try Planner.requestedSecrets(project: project, environment: environment).keys where secrets[name] == nil {
            secrets[name] = "withheld"
        }
        let inputs = PlanInputs(
            project: project, environment: environment, secrets: ResolvedSecrets(values: secrets), paths: workspace.paths,
            runningPorts: connection.runningPorts, reach: RemoteReach(address: exposedAddress, authorityFile: logins.authorityFile(for: host)))
        return (try Planner(inputs: inputs).plan(), connection)
    }

    /// The stack's env as this machine reaches it; the whole of it needs a `test` token.
    func wiredEnv(_ options: ProjectOptions, service: String?, publicOnly: Bool) async throws -> (Plan, [PlannedValue]) {
        let (plan, connection) = try await plan(environment: options.environment)
        if !publicOnly && connection.role < .test {
            throw SupervisorError(
                .refused, "the token for \(host.endpoint) has role \(connection.role.rawValue): it sees only what a browser may (--public)",
                fix: "ask the host's owner for a test token (devstack token create NAME --role test) and log in with it")
        }
        return (plan, try plan.wiredEnv(service: service))
    }

    /// `devstack migrate` against a host: the pending files (by what the host has applied) are sent,
    /// and the host applies them in order, each in its own transaction.
    func migrate(_ options: ProjectOptions, service: String?) async throws -> [String] {
        let client = try client()
        let plan = try await workspace.plan(environment: options.environment, persistSecrets: false)
        let files = try MigrationRules.files(plan, service: PostgresTools.service(in: plan, named: service))
        let pending = try MigrationRules.pending(files, applied: try await client.appliedMigrations(), on: host.endpoint)
        guard !pending.isEmpty else { return [] }
        return try await client.migrate(pending.map { MigrationUpload(name: $0.name, contents: $0.contents) })
    }
}
