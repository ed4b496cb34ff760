import DevstackCore
import DevstackProject
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

/// Staging on an always-on machine, and laptops as its clients, on one machine: a "host" project runs
/// staging on 127.0.0.2 (the stand-in for the LAN), a "laptop" project (the same files, its own
/// configuration folder) logs in with tokens the host made and uses the stack through the host's
/// control API over TLS.
@Suite(.serialized) struct HostedStagingTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
            migrations: migrations
          api:
            kind: process
            command: ["python3", "-m", "http.server", "${self.port}", "--bind", "127.0.0.1"]
            ports: [http]
            health: { http: / }
        smoke:
          api_up: { url: "${api.url}/" }
          notes_readable: { sql: "select count(*) from notes" }
        env:
          DATABASE_URL: ${db.url}
          API_URL: ${api.url}
          DB_PASSWORD: ${db.password}
        """

    static func profile(port: Int) -> String {
        """
        ports: auto
        protected: true
        host: { address: 127.0.0.2, port: \(port) }
        expose: { address: 127.0.0.2, services: [db, api] }

        """
    }

    /// Run by `devstack exec` on the laptop: the API over HTTPS and the database over TLS, both checked
    /// against the authority the login stored.
    static let laptopTests = #"""
        import os, subprocess, ssl, urllib.parse, urllib.request
        url = os.environ["DATABASE_URL"]
        authority = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["sslrootcert"][0]
        with urllib.request.urlopen(os.environ["API_URL"] + "/", context=ssl.create_default_context(cafile=authority), timeout=5) as answer:
            print("api", answer.status)
        rows = subprocess.run(["psql", url, "-Atc", "select count(*) || ' ' || ssl from notes, pg_stat_ssl where pid = pg_backend_pid() group by ssl"],
                              capture_output=True, text=True)
        print("db", rows.stdout.strip(), rows.stderr.strip())
        """#

    struct Created: Decodable {
        var token: String
        var caSHA256: String

        enum CodingKeys: String, CodingKey {
            case token
            case caSHA256 = "ca_sha256"
        }
    }

    func calls(of host: StackUnderTest) -> String { host.directory.read(".devstack/staging/remote-calls.log") ?? "" }

    @Test func aLaptopUsesStagingOnTheHostWithTokensAndItsAuthority() async throws {
        let hostConfig = try TemporaryDirectory(prefix: "devstack-host-config")
        let laptopConfig = try TemporaryDirectory(prefix: "devstack-laptop-config")
        let laptop = try TemporaryDirectory(prefix: "devstack-laptop")
        let otherAuthority = try TemporaryDirectory(prefix: "devstack-other-ca")
        let port = try #require(Ports.freePort(avoiding: []))
        let files = [
            "profiles/staging.yaml": Self.profile(port: port),
            "stacks/default/migrations/20260101000000_notes.sql":
                "create table notes (id serial primary key, body text);\ninsert into notes (body) values ('first');\n",
        ]
        let host = try StackUnderTest(
            stack: Self.stack, arguments: ["--profile", "staging"], environment: ["DEVSTACK_CONFIG_DIR": hostConfig.path], files: files)
        defer {
            host.cleanUp()
            otherAuthority.remove()
            laptop.remove()
            laptopConfig.remove()
            hostConfig.remove()
        }
        try laptop.write("stacks/default/stack.yaml", Self.stack)
        for (path, contents) in files { try laptop.write(path, contents) }
        _ = try await host.waitFor("every service up") { $0.services.allSatisfy(\.phase.isUp) }

        func onHost(_ arguments: [String]) throws -> DevstackBinary.Result {
            try host.devstack(arguments + ["--profile", "staging"], environment: ["DEVSTACK_CONFIG_DIR": hostConfig.path])
        }
        func onLaptop(_ arguments: [String]) throws -> DevstackBinary.Result {
            // The profile before a `--`: what follows it is the command's.
            let split = arguments.firstIndex(of: "--") ?? arguments.count
            return try DevstackBinary.run(
                Array(arguments[..<split]) + ["--profile", "staging"] + arguments[split...], in: laptop.path,
                environment: ["DEVSTACK_CONFIG_DIR": laptopConfig.path])
        }
        func create(_ name: String, _ role: String) throws -> Created {
            let result = try onHost(["token", "create", name, "--role", role, "--json"])
            return try JSONDecoder().decode(Created.self, from: Data(result.standardOutput.utf8))
        }
        let viewer = try create("viewer", "read")
        let tester = try create("laptop", "test")
        let boss = try create("boss", "admin")
        #expect(try onHost(["doctor"]).standardOutput.contains("tokens: 3 for 127.0.0.2:\(port)"))
        let listed = try onHost(["token", "list"]).standardOutput
        #expect(listed.contains("viewer") && listed.contains("laptop") && listed.contains("boss"), "\(listed)")
        #expect(!(try String(contentsOfFile: "\(host.path)/.devstack/staging/tokens.json", encoding: .utf8)).contains(tester.token))

        // A login whose fingerprint does not match the host's authority stores nothing.
        let forged = try DevstackBinary.run(
            ["login", "staging", "--token", tester.token, "--ca-sha256", String(repeating: "AB:", count: 31) + "AB"], in: laptop.path,
            environment: ["DEVSTACK_CONFIG_DIR": laptopConfig.path])
        #expect(forged.status == 3, "\(forged.standardError)")
        #expect(forged.standardError.contains("nothing was stored"), "\(forged.standardError)")
        #expect(!FileManager.default.fileExists(atPath: "\(laptopConfig.path)/logins.json"))

        // Role read: the status and what a browser may see, not the service key or the database.
        func login(_ created: Created) throws -> DevstackBinary.Result {
            try DevstackBinary.run(
                ["login", "staging", "--token", created.token, "--ca-sha256", created.caSHA256], in: laptop.path,
                environment: ["DEVSTACK_CONFIG_DIR": laptopConfig.path])
        }
        #expect(try login(viewer).standardOutput.contains("as 'viewer', role read"))
        let loginsMode = try FileManager.default.attributesOfItem(atPath: "\(laptopConfig.path)/logins.json")[.posixPermissions] as? Int
        #expect(loginsMode == 0o600)
        let doctor = try onLaptop(["doctor"]).standardOutput
        #expect(doctor.contains("ok   login: as 'viewer' (role read)") && doctor.contains("ok   host: answers over TLS"), "\(doctor)")
        let status = try onLaptop(["status"])
        #expect(status.status == 0 && status.standardOutput.contains("on 127.0.0.2:\(port)"), "\(status.standardError)")
        #expect(status.standardOutput.contains("api"))
        let refusedEnv = try onLaptop(["env"])
        #expect(refusedEnv.status == 3 && refusedEnv.standardError.contains("role read"), "\(refusedEnv.standardError)")
        let publicEnv = try onLaptop(["env", "--public"]).standardOutput
        #expect(publicEnv.contains("API_URL='https://127.0.0.2:"), "\(publicEnv)")
        #expect(!publicEnv.contains("DATABASE_URL") && !publicEnv.contains("DB_PASSWORD"), "\(publicEnv)")

        // Role test: the whole env, reaching the host over TLS; the local test suite runs against staging.
        #expect(try login(tester).status == 0)
        let env = try onLaptop(["env", "--format", "json"]).standardOutput
        #expect(env.contains("@127.0.0.2:") && env.contains("sslmode=verify-full"), "\(env)")
        let script = try laptop.write("laptop_tests.py", Self.laptopTests)
        let exec = try onLaptop(["exec", "--", "python3", script])
        #expect(exec.standardOutput.contains("api 200"), "\(exec.standardOutput) \(exec.standardError)")
        #expect(exec.standardOutput.contains("db 1 t"), "\(exec.standardOutput) \(exec.standardError)")
        // A dotenv file is written down: the database password is not in it.
        let dotenv = try onLaptop(["env", "--format", "dotenv"]).standardOutput
        #expect(!dotenv.contains("DATABASE_URL") && !dotenv.contains("DB_PASSWORD") && dotenv.contains("API_URL"), "\(dotenv)")
        let logs = try onLaptop(["logs", "db", "-n", "50"])
        #expect(logs.status == 0 && logs.standardOutput.contains("db"), "\(logs.standardError)")
        let smoke = try onLaptop(["smoke"])
        #expect(smoke.status == 0 && smoke.standardOutput.contains("2/2 smoke checks passed"), "\(smoke.standardOutput) \(smoke.standardError)")
        #expect(try onLaptop(["smoke", "api_up"]).standardOutput.contains("1/1 smoke checks passed"))
        let unknownCheck = try onLaptop(["smoke", "api_upp"])
        #expect(unknownCheck.status == 3 && unknownCheck.standardError.contains("no smoke check api_upp"), "\(unknownCheck.standardError)")
        // Snapshots are the test role's; restoring one is a reset.
        let saved = try onLaptop(["snapshot", "save", "one_note"])
        #expect(saved.status == 0, "\(saved.standardError)")
        #expect(try onLaptop(["snapshot", "list"]).standardOutput.contains("one_note"))
        // A reset needs an admin token, whatever --force says.
        let reset = try onLaptop(["reset", "--force"])
        #expect(reset.status == 3 && reset.standardError.contains("needs admin"), "\(reset.standardError)")
        let stopRefused = try onLaptop(["stop", "api"])
        #expect(stopRefused.status == 3 && stopRefused.standardError.contains("needs admin"), "\(stopRefused.standardError)")
        // A migration from the laptop needs admin too.
        try laptop.write("stacks/default/migrations/20260102000000_tags.sql", "alter table notes add column tag text;\n")
        let migrateRefused = try onLaptop(["migrate"])
        #expect(migrateRefused.status == 3, "\(migrateRefused.standardError)")
        // up and down here say where the stack runs instead of starting one.
        let up = try onLaptop(["up", "--detach"])
        #expect(up.status == 0 && up.standardOutput.contains("runs on 127.0.0.2:\(port)"), "\(up.standardOutput) \(up.standardError)")
        #expect(!FileManager.default.fileExists(atPath: "\(laptop.path)/.devstack/staging/supervisor.json"))

        // Role admin: the migration goes to the host, which applies and records it; a forced reset works.
        #expect(try login(boss).status == 0)
        let restored = try onLaptop(["snapshot", "restore", "one_note", "--force"])
        #expect(restored.status == 0, "\(restored.standardError)")
        let migrated = try onLaptop(["migrate"])
        #expect(migrated.standardOutput.contains("applied migration 20260102000000_tags.sql on 127.0.0.2:\(port)"), "\(migrated.standardError)")
        let status2 = try onLaptop(["migrations", "status"]).standardOutput
        #expect(status2.contains("staging (staging): 2 applied, 0 pending"), "\(status2)")
        let forced = try onLaptop(["reset", "--force"])
        #expect(forced.status == 0, "\(forced.standardError)")
        let restarted = try onLaptop(["restart", "api"])
        #expect(restarted.standardOutput.contains("restart api: done"), "\(restarted.standardError)")
        #expect(calls(of: host).contains("token=boss role=admin client=127.0.0.1 POST /v1/services/api/restart 200"))

        // Every call is logged on the host with the token's name.
        let calls = calls(of: host)
        #expect(calls.contains("token=viewer role=read") && calls.contains("GET /v1/connection 200"), "\(calls)")
        #expect(calls.contains("token=laptop role=test") && calls.contains("POST /v1/reset 403"), "\(calls)")
        #expect(calls.contains("token=boss role=admin") && calls.contains("POST /v1/migrations 200"), "\(calls)")

        // A revoked token is refused from its next call on.
        #expect(try onHost(["token", "revoke", "boss"]).status == 0)
        let revoked = try onLaptop(["status"])
        #expect(revoked.status == 3 && revoked.standardError.contains("not known here"), "\(revoked.standardError)")

        // A host whose certificate another authority signed is refused.
        #expect(try login(tester).status == 0)
        let other = PlannedExposure(address: "127.0.0.2", services: [], directory: otherAuthority.path)
        let pem = try ProfileCertificates.ensure(other, profile: "other")
        let stored = "\(laptopConfig.path)/hosts/127.0.0.2_\(port)/ca.pem"
        try pem.write(toFile: stored, atomically: true, encoding: .utf8)
        let wrongCA = try onLaptop(["status"])
        #expect(wrongCA.status != 0 && wrongCA.standardError.contains("did not sign"), "\(wrongCA.standardError)")
        #expect(try onLaptop(["doctor"]).standardOutput.contains("FAIL host:"))
        // Logged out, the laptop keeps nothing of the host.
        let logout = try DevstackBinary.run(
            ["logout", "staging"], in: laptop.path, environment: ["DEVSTACK_CONFIG_DIR": laptopConfig.path])
        #expect(logout.standardOutput.contains("logged out of 127.0.0.2:\(port)"), "\(logout.standardError)")
        #expect(!FileManager.default.fileExists(atPath: stored))

        #expect(try await host.stop() == 0)
    }

    @Test func aMachineThatIsNotTheHostIsItsClientAndNeedsALogin() async throws {
        let config = try TemporaryDirectory(prefix: "devstack-laptop-config")
        defer { config.remove() }
        try await withTemporaryDirectory { laptop in
            try laptop.write("stacks/default/stack.yaml", Self.stack)
            // 192.0.2.0/24 is for documentation: never an address of this machine.
            try laptop.write(
                "profiles/staging.yaml", "ports: auto\nhost: { address: 192.0.2.10 }\nexpose: { address: 192.0.2.10, services: [db] }\n")
            let environment = ["DEVSTACK_CONFIG_DIR": config.path]
            let up = try DevstackBinary.run(["up", "--profile", "staging"], in: laptop.path, environment: environment)
            #expect(up.status == 0 && up.standardOutput.contains("profile 'staging' runs on 192.0.2.10:55400"), "\(up.standardError)")
            #expect(!FileManager.default.fileExists(atPath: "\(laptop.path)/.devstack/staging/logs"))
            let status = try DevstackBinary.run(["status", "--profile", "staging"], in: laptop.path, environment: environment)
            #expect(status.status == 3 && status.standardError.contains("has not logged in"), "\(status.standardError)")
            let token = try DevstackBinary.run(["token", "create", "ci", "--profile", "staging"], in: laptop.path, environment: environment)
            #expect(token.status == 3 && token.standardError.contains("tokens are made there"), "\(token.standardError)")
        }
    }
}
