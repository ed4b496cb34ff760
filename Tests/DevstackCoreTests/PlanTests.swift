import DevstackCore
import DevstackTestSupport
import Foundation
import Testing

@Suite struct PlanTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
          auth:
            kind: auth
            depends_on: [db]
          worker:
            kind: process
            command: "echo hi"
          api:
            kind: process
            command: ["./api", "--port", "${self.port.http}", "--admin", "${self.port.admin}"]
            ports: [http, admin]
            depends_on: { db: healthy, auth: healthy, worker: started }
            health: { tcp: admin, interval: 2s }
            restart: { policy: always, backoff: 250ms }
            env:
              DATABASE_URL: ${db.url}
              AUTH: ${auth.url}
              KEY: ${auth.anon_key}
              LEVEL: ${profile.log_level}
              HOME_DIR: ${env:HOME_FOR_TEST:-/nowhere}
              PRICE: "$$5 and $HOME"
              DROPPED: gone-in-profile
        env:
          DATABASE_URL: ${db.url}
        """

    static let local = """
        ports: { base: 41000 }
        values: { log_level: debug }
        services:
          auth:
            ports: { http: 41001 }
          api:
            env:
              LEVEL: overridden
              DROPPED: null
        """

    static let ci = """
        ports: auto
        data: ephemeral
        values: { log_level: info }
        restart: "no"
        postgres: { fsync: "off" }
        logs: { max_size: 512KB, keep: 2 }
        services:
          api:
            ports: { admin: 47000 }
            restart: on-failure
        """

    func withProject(_ body: (TestProject) throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            try body(TestProject(directory: directory, stack: Self.stack, profiles: ["local": Self.local, "ci": Self.ci]))
        }
    }

    @Test func logRotationComesFromTheProfileOrTheDefaults() async throws {
        try await withProject { project in
            let local = try project.plan().profile.logRotation
            let ci = try project.plan(profile: "ci").profile.logRotation
            #expect(local == LogRotation(maxBytes: 10 << 20, keep: 5))
            #expect(ci == LogRotation(maxBytes: 512 << 10, keep: 2))
        }
        #expect(ByteSize.parse("10MB") == 10 << 20)
        #expect(ByteSize.parse("1 GiB") == 1 << 30)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("10 parsecs") == nil)
        #expect(ByteSize.parse("-1MB") == nil)
    }

    @Test func startsInDependencyLayers() async throws {
        try await withProject { project in
            let plan = try project.plan()
            #expect(plan.startLayers == [["db", "worker"], ["auth"], ["api"]])
            #expect(plan.services.map(\.name) == ["db", "worker", "auth", "api"])
            #expect(plan.closure(of: ["auth"]).map(\.name) == ["db", "auth"])
        }
    }

    @Test func basePortsAreSequentialAndSkipPinnedOnes() async throws {
        try await withProject { project in
            let plan = try project.plan()
            #expect(plan.service(named: "db")?.port(named: "postgres") == 41000)
            #expect(plan.service(named: "auth")?.port(named: "http") == 41001)
            #expect(plan.service(named: "api")?.port(named: "http") == 41002)
            #expect(plan.service(named: "api")?.port(named: "admin") == 41003)
            // Same files, same ports: stable across runs and machines.
            #expect(try project.plan().services.flatMap(\.ports) == plan.services.flatMap(\.ports))
        }
    }

    @Test func autoPortsComeFromTheAllocatorAndAvoidPinnedOnes() async throws {
        try await withProject { project in
            let plan = try project.plan(profile: "ci", firstAutoPort: 47000)
            let ports = plan.services.flatMap(\.ports).map(\.number)
            #expect(Set(ports).count == ports.count)
            #expect(plan.service(named: "api")?.port(named: "admin") == 47000)
            #expect(plan.service(named: "db")?.port(named: "postgres") == 47001)
        }
    }

    @Test func poolTrueAddsAPoolerOnTheDatabasesPoolPort() async throws {
        try await withTemporaryDirectory { directory in
            let project = try TestProject(
                directory: directory,
                stack: """
                    services:
                      db: { kind: postgres, database: app, pool: true, pool_mode: session }
                      web:
                        kind: process
                        command: "true"
                        env: { POOLED: "${db.pool_url}" }
                    """, profiles: ["local": "ports: { base: 41000 }\n"])
            let plan = try project.plan()
            let db = try #require(plan.service(named: "db"))
            let pooler = try #require(plan.service(named: "db-pool"))
            #expect(db.port(named: "pool") == 41001)
            #expect(pooler.kind == .pgbouncer && pooler.partOf == "db" && pooler.primaryPort == 41001)
            #expect(pooler.dependsOn.map(\.service) == ["db"])
            #expect(pooler.setting("pool_mode")?.description == "session")
            #expect(plan.service(named: "web")?.environment["POOLED"] == "postgresql://postgres:pg-password@127.0.0.1:41001/app")
            // Starting the database alone brings its pooler.
            #expect(plan.closure(of: ["db"]).map(\.name).sorted() == ["db", "db-pool"])
        }
    }

    @Test func aStackCannotNameThePoolersKind() async throws {
        try await withTemporaryDirectory { directory in
            let project = try TestProject(
                directory: directory, stack: "services:\n  pool: { kind: pgbouncer }\n", profiles: ["local": "ports: auto\n"])
            let error = try #require(throws: ConfigError.self) { try project.plan() }
            #expect(error.report.contains("kind pgbouncer is added by devstack, not written in a stack"))
            #expect(error.report.contains("set 'pool: true' on the postgres service"))
        }
    }

    @Test func postgresReferencesNameEveryPartOfTheConnection() async throws {
        try await withTemporaryDirectory { directory in
            let project = try TestProject(
                directory: directory,
                stack: """
                    services:
                      db: { kind: postgres, database: app }
                      web:
                        kind: process
                        command: "true"
                        env:
                          URL: ${db.url}
                          PARTS: "${db.host} ${db.port} ${db.user} ${db.password} ${db.database}"
                          SOCKET: ${db.socket}
                    """, profiles: ["local": "ports: { base: 41000 }\n"])
            let plan = try project.plan()
            let env = try #require(plan.service(named: "web")).environment
            #expect(env["URL"] == "postgresql://postgres:pg-password@127.0.0.1:41000/app")
            #expect(env["PARTS"] == "127.0.0.1 41000 postgres pg-password app")
            let socket = try #require(env["SOCKET"])
            #expect(socket == plan.service(named: "db")?.attributes["socket"])
            #expect(socket.hasSuffix("/db"))
        }
    }

    @Test func anInstanceHasItsOwnStateAndRuntimeFoldersAndOnlyFreePorts() async throws {
        try await withTemporaryDirectory { directory in
            let project = try TestProject(
                directory: directory,
                stack: "services:\n  db: { kind: postgres, database: app }\n  auth: { kind: auth }\n",
                profiles: ["local": "ports: { base: 41000 }\nservices:\n  auth:\n    ports: { http: 41500 }\n"])
            let own = try project.plan()
            let second = try project.plan(firstAutoPort: 47000, instance: "second")
            #expect(own.service(named: "db")?.ports.map(\.number) == [41000])
            #expect(own.service(named: "auth")?.ports.map(\.number) == [41500])
            #expect(second.service(named: "db")?.ports.map(\.number) == [47000], "base ports would clash with the profile's own stack")
            #expect(second.service(named: "auth")?.ports.map(\.number) == [47001], "pinned ones too")
            #expect(second.stateDirectory == own.stateDirectory + "@second" && second.instance == "second")
            #expect(second.runtimeDirectory != own.runtimeDirectory)
        }
    }

    @Test func interpolatesEveryKindOfReference() async throws {
        try await withProject { project in
            let api = try #require(try project.plan().service(named: "api"))
            let env = api.environment
            #expect(env["DATABASE_URL"] == "postgresql://postgres:pg-password@127.0.0.1:41000/app")
            #expect(env["AUTH"] == "http://127.0.0.1:41001")
            #expect(env["KEY"] == "anon.key.value")
            #expect(env["HOME_DIR"] == "/nowhere")
            #expect(env["PRICE"] == "$5 and $HOME")
            #expect(api.command == ["./api", "--port", "41002", "--admin", "41003"])
            let withHome = try #require(try project.plan(environment: ["HOME_FOR_TEST": "/home/x"]).service(named: "api"))
            #expect(withHome.environment["HOME_DIR"] == "/home/x")
        }
    }

    @Test func aClientReachesTheHostsStackOverTLSAtItsExposedAddress() async throws {
        try await withProject { project in
            let reach = RemoteReach(address: "192.168.1.20", authorityFile: "/home/me/.config/devstack/hosts/x/ca.pem")
            let plan = try project.plan(reach: reach)
            let api = try #require(plan.service(named: "api"))
            #expect(
                api.environment["DATABASE_URL"]
                    == "postgresql://postgres:pg-password@192.168.1.20:41000/app?sslmode=verify-full&sslrootcert=%2Fhome%2Fme%2F.config%2Fdevstack%2Fhosts%2Fx%2Fca.pem"
            )
            #expect(api.environment["AUTH"] == "https://192.168.1.20:41001")
            #expect(plan.profile.reach == reach)
        }
    }

    @Test func profileOverridesEnvAndRemovesWithNull() async throws {
        try await withProject { project in
            let api = try #require(try project.plan().service(named: "api"))
            #expect(api.environment["LEVEL"] == "overridden")
            #expect(api.environment["DROPPED"] == nil)
            let origin = try #require(api.env.first { $0.name == "LEVEL" }?.origin)
            #expect(origin.source == .profile)
            #expect(origin.location?.file == "profiles/local.yaml")
        }
    }

    @Test func restartPrecedenceIsProfileDefaultThenStackThenProfileService() async throws {
        try await withProject { project in
            let ci = try project.plan(profile: "ci")
            // Profile-wide "no" is the default where the stack says nothing…
            #expect(ci.service(named: "worker")?.restart.policy == .no)
            // …the service's own profile override beats the stack's "always".
            #expect(ci.service(named: "api")?.restart.policy == .onFailure)
            #expect(ci.service(named: "api")?.restart.initialBackoffMs == 250)
            let local = try project.plan()
            #expect(local.service(named: "api")?.restart.policy == .always)
            #expect(local.service(named: "worker")?.restart.policy == .onFailure)
        }
    }

    @Test func commandsHealthAndDefaults() async throws {
        try await withProject { project in
            let plan = try project.plan(profile: "ci")
            #expect(plan.service(named: "worker")?.command == ["/bin/sh", "-c", "echo hi"])
            let api = try #require(plan.service(named: "api"))
            #expect(api.health?.probe == .tcp(port: 47000))
            #expect(api.health?.intervalMs == 2000)
            #expect(api.dependsOn.map(\.condition) == [.healthy, .healthy, .started])
            #expect(plan.service(named: "db")?.stop.signal == .interrupt)
            #expect(plan.service(named: "db")?.health?.probe == .builtIn(kind: .postgres, port: 47001))
            #expect(plan.postgresSettings.map { "\($0.name)=\($0.value)" } == ["fsync=off"])
            #expect(plan.profile.data == .ephemeral)
            #expect(plan.environment["DATABASE_URL"]?.hasPrefix("postgresql://postgres:pg-password@127.0.0.1:47001/") == true)
        }
    }

    /// Tool-call arguments written as YAML become JSON with YAML 1.1's plain-scalar types; quoted scalars stay strings.
    @Test func toolCallArgumentsKeepTheirYAMLTypes() async throws {
        try await withTemporaryDirectory { directory in
            let project = try TestProject(
                directory: directory, stack: "services:\n  llm:\n    kind: inference\n    model: instant\n    fixtures: fixtures\n",
                profiles: ["local": "ports: { base: 41000 }\n"])
            try directory.write(
                "stacks/default/fixtures/tools.yaml",
                """
                - match: { last_user_message: { contains: weather } }
                  tool_calls:
                    - name: lookup
                      arguments: { n: 3, hex: 0x1F, ratio: 1.5, ok: yes, off: Off, quoted: 'yes', nothing: ~, list: [on, 'off', TRUE] }
                """)
            let call = try #require(try project.plan().service(named: "llm")?.fixtures.first?.toolCalls.first)
            #expect(call.arguments == #"{"hex":31,"list":[true,"off",true],"n":3,"nothing":null,"off":false,"ok":true,"quoted":"yes","ratio":1.5}"#)
        }
    }
}

@Suite struct TemplateTests {
    let location = SourceLocation(file: "f", line: 1, column: 1)

    func segments(_ text: String) throws -> [Template.Segment] {
        try Template(text, location: location, keyPath: "k").segments().get()
    }

    @Test func splitsLiteralsAndReferences() throws {
        #expect(
            try segments("a ${db.url} b") == [.literal("a "), .reference(.service(name: "db", attribute: "url")), .literal(" b")])
        #expect(try segments("${db.port.http}") == [.reference(.service(name: "db", attribute: "port.http"))])
        #expect(try segments("${env:X:-a b:c}") == [.reference(.environment(name: "X", defaultValue: "a b:c"))])
        #expect(try segments("${env:X:-}") == [.reference(.environment(name: "X", defaultValue: ""))])
        #expect(try segments("${profile.rate_limit}") == [.reference(.profileValue("rate_limit"))])
        #expect(try segments("${secret.jwt_secret}") == [.reference(.secret("jwt_secret"))])
    }

    @Test func dollarsStayLiteralUnlessTheyOpenAReference() throws {
        #expect(try segments("$$") == [.literal("$")])
        #expect(try segments("$$${db.url}") == [.literal("$"), .reference(.service(name: "db", attribute: "url"))])
        #expect(try segments("cost $5 $HOME $") == [.literal("cost $5 $HOME $")])
    }

    @Test func rejectsMalformedReferences() {
        for bad in ["${db.url", "${}", "${db}", "${env:}", "${1a.url}", "${env:A B}"] {
            #expect(throws: Template.SyntaxError.self, "\(bad)") { try segments(bad) }
        }
    }
}

@Suite struct DurationTests {
    @Test func parsesUnits() {
        #expect(DurationParser.parse("250ms") == .milliseconds(250))
        #expect(DurationParser.parse("5s") == .seconds(5))
        #expect(DurationParser.parse("1.5s") == .milliseconds(1500))
        #expect(DurationParser.parse("2m") == .seconds(120))
        #expect(DurationParser.parse("1h") == .seconds(3600))
        #expect(DurationParser.parse("3") == .seconds(3))
        #expect(DurationParser.parse("five") == nil)
        #expect(DurationParser.parse("-1s") == nil)
        #expect(DurationParser.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationParser.format(.seconds(120)) == "2m")
    }

    @Test func secondsAreRoundedHalfUpToTheirDecimals() {
        #expect(DurationParser.seconds(.milliseconds(52), fractionDigits: 2) == "0.05s")
        #expect(DurationParser.seconds(.milliseconds(55), fractionDigits: 2) == "0.06s")
        #expect(DurationParser.seconds(.milliseconds(1_994), fractionDigits: 2) == "1.99s")
        #expect(DurationParser.seconds(.milliseconds(1_995), fractionDigits: 2) == "2.00s")
        #expect(DurationParser.seconds(.milliseconds(0), fractionDigits: 1) == "0.0s")
        #expect(DurationParser.seconds(.seconds(59.96), fractionDigits: 1) == "60.0s")
        #expect(DurationParser.seconds(.milliseconds(1_234), fractionDigits: 3) == "1.234s")
        #expect(DurationParser.seconds(.milliseconds(1_500), fractionDigits: 0) == "2s")
        #expect(DurationParser.seconds(.milliseconds(-250), fractionDigits: 1) == "-0.3s")
        #expect(DurationParser.seconds(.milliseconds(-4), fractionDigits: 2) == "0.00s")
        // As printf writes them, but for ties (x.xx5 s), which printf rounds as the nearest double falls.
        for milliseconds in stride(from: 0, through: 120_000, by: 7) where milliseconds % 10 != 5 {
            #expect(DurationParser.seconds(.milliseconds(milliseconds), fractionDigits: 2) == String(format: "%.2fs", Double(milliseconds) / 1000))
        }
    }
}

@Suite struct HexEncodingTests {
    @Test func hexEncodingMatchesPrintf() {
        let bytes = (0...255).map(UInt8.init)
        #expect(bytes.hexEncoded == bytes.map { String(format: "%02x", $0) }.joined())
        #expect([UInt8]().hexEncoded.isEmpty)
    }
}
