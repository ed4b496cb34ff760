import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

/// The real Postgres server under the supervisor.
@Suite(.serialized) struct PostgresTests {
    static let alice = "00000000-0000-4000-8000-00000000000a"
    static let bob = "00000000-0000-4000-8000-00000000000b"
    static let carol = "00000000-0000-4000-8000-00000000000c"

    static let stack = """
        services:
          db:
            kind: postgres
            database: app
            supabase: true
            migrations: migrations
            seed: seed.sql
        """

    static let notesMigration = """
        create table public.notes (
            id bigint generated always as identity primary key,
            user_id uuid not null default auth.uid(),
            body text not null
        );
        alter table public.notes enable row level security;
        create policy "own notes" on public.notes for all to authenticated
            using (user_id = auth.uid()) with check (user_id = auth.uid());
        grant select, insert on public.notes to authenticated;
        """

    static let seed = """
        insert into auth.users (id, aud, role, email, encrypted_password, email_confirmed_at, created_at, updated_at)
        values ('\(alice)', 'authenticated', 'authenticated', 'alice@example.com', extensions.crypt('pw', extensions.gen_salt('bf', 4)), now(), now(), now()),
               ('\(bob)', 'authenticated', 'authenticated', 'bob@example.com', null, null, null, null),
               ('\(carol)', 'authenticated', 'authenticated', 'carol@example.com', null, null, null, null);
        insert into public.notes (user_id, body) values ('\(alice)', 'a1'), ('\(alice)', 'a2'), ('\(bob)', 'b1');
        """

    func makeStack(
        stack: String = Self.stack, profile: String = "ports: auto\n", migrations: [String: String] = ["001_notes.sql": notesMigration],
        arguments: [String] = []
    ) throws -> StackUnderTest {
        try StackUnderTest(
            stack: stack, profile: profile, arguments: arguments,
            files: ["stacks/default/seed.sql": Self.seed].merging(
                Dictionary(uniqueKeysWithValues: migrations.map { ("stacks/default/migrations/\($0.key)", $0.value) })
            ) { $1 })
    }

    /// Counts the notes a session sees, acting as `role` with these claims.
    func visibleNotes(_ session: PostgresSession, role: String, claims: String?, legacySub: String? = nil) async throws -> Int {
        try await session.execute("begin")
        try await session.execute("set local role \(role)")
        if let claims { try await session.execute("select set_config('request.jwt.claims', '\(claims)', true)") }
        if let legacySub { try await session.execute("select set_config('request.jwt.claim.sub', '\(legacySub)', true)") }
        let count = try await session.strings("select count(*)::text from public.notes").first.flatMap(Int.init) ?? -1
        try await session.execute("rollback")
        return count
    }

    @Test func rowLevelSecurityFollowsTheJWTClaims() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { (session: PostgresSession) async throws in
            #expect(try await visibleNotes(session, role: "authenticated", claims: #"{"sub":"\#(Self.alice)","role":"authenticated"}"#) == 2)
            #expect(try await visibleNotes(session, role: "authenticated", claims: #"{"sub":"\#(Self.bob)","role":"authenticated"}"#) == 1)
            #expect(try await visibleNotes(session, role: "authenticated", claims: #"{"sub":"\#(Self.carol)","role":"authenticated"}"#) == 0)
            #expect(try await visibleNotes(session, role: "authenticated", claims: nil, legacySub: Self.bob) == 1)
            #expect(try await visibleNotes(session, role: "service_role", claims: nil) == 3)
            // Writing as a user stamps the row with auth.uid(), and RLS refuses another user's id.
            try await session.execute("begin")
            try await session.execute("set local role authenticated")
            try await session.execute(#"select set_config('request.jwt.claims', '{"sub":"\#(Self.carol)"}', true)"#)
            try await session.execute("insert into public.notes (body) values ('c1')")
            await #expect(throws: (any Error).self) {
                try await session.execute("insert into public.notes (user_id, body) values ('\(Self.alice)', 'forged')")
            }
            try await session.execute("rollback")
            #expect(try await session.strings("select (auth.role() is null)::text").first == "true")
            let roles = try await session.strings(
                "select rolname from pg_roles where rolname in ('anon','authenticated','service_role','authenticator') order by 1")
            #expect(roles == ["anon", "authenticated", "authenticator", "service_role"])
            #expect(try await session.strings("select rolbypassrls::text from pg_roles where rolname = 'service_role'") == ["true"])
            // Seeded users with NULL tokens and the generated confirmed_at column.
            #expect(try await session.strings("select count(*)::text from auth.users where confirmation_token is null") == ["3"])
            #expect(try await session.strings("select (confirmed_at is not null)::text from auth.users where id = '\(Self.alice)'") == ["true"])
        }
        #expect(try await stack.stop() == 0)
    }

    @Test func aFirstStartAndAWarmOnePutNoErrorIntoTheLog() async throws {
        // devstack's own probing asks the catalog first: the user's log shows the user's problems only.
        let stack = try makeStack()
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        #expect(try await stack.stop() == 0)
        let again = try stack.restart()
        _ = try await again.postgresEndpoint()
        #expect(try await again.stop() == 0)
        let log = stack.log("db")
        #expect(log.contains("created database app"))
        // (Postgres's own "terminating connection due to administrator command" at a stop is its word, not devstack's.)
        for marker in ["FATAL:  database", "ERROR"] {
            #expect(!log.contains(marker), "\(log.split(separator: "\n").filter { $0.contains(marker) })")
        }
    }

    @Test func aFailingMigrationNamesFileLineAndMessageAndKeepsTheLastGoodOne() async throws {
        let bad = "create table public.half (x int);\n\ninsert into missing_table values (1);\n"
        let stack = try makeStack(migrations: ["001_notes.sql": Self.notesMigration, "002_bad.sql": bad], arguments: ["--exit-on-failure"])
        defer { stack.cleanUp() }
        #expect(try await stack.waitForExit() == 1)
        let log = stack.log("db")
        #expect(log.contains(#"migration failed: stacks/default/migrations/002_bad.sql:3: ERROR: relation "missing_table" does not exist"#))
        // Without the bad file the database is at 001, and 002's first statement was rolled back.
        try FileManager.default.removeItem(atPath: "\(stack.path)/stacks/default/migrations/002_bad.sql")
        let again = try stack.restart()
        defer { again.cleanUp() }
        try await PostgresSession.with(try await again.postgresEndpoint()) { (session: PostgresSession) async throws in
            #expect(try await session.strings("select version from devstack.schema_migrations") == ["001"])
            #expect(try await session.strings("select to_regclass('public.half')::text").first == "")
        }
        #expect(try await again.stop() == 0)
    }

    @Test func changedAppliedMigrationIsRefused() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        #expect(try await stack.stop() == 0)
        try stack.directory.write("stacks/default/migrations/001_notes.sql", Self.notesMigration + "\n-- edited\n")
        let again = try stack.restart(arguments: ["--exit-on-failure"])
        defer { again.cleanUp() }
        #expect(try await again.waitForExit() == 1)
        #expect(again.log("db").contains("migration stacks/default/migrations/001_notes.sql was changed after it was applied"))
    }

    @Test func killedPostmasterIsRestartedWithCommittedRowsIntactAndCleanStopNeedsNoRecovery() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) {
            try await $0.execute("insert into public.notes (user_id, body) values ('\(Self.carol)', 'committed')")
        }
        let before = try #require(await stack.status()?.services.first)
        let postmaster = try #require(before.pid)
        #if os(Linux)
            if getuid() == 0 {
                let owner = try FileManager.default.attributesOfItem(atPath: "/proc/\(postmaster)")[.ownerAccountName] as? String
                #expect(owner == "postgres", "as root, Postgres runs as the postgres user")
            }
        #endif
        kill(postmaster, SIGKILL)
        try await stack.waitFor("restarted") { $0.services.first?.restarts == 1 && $0.services.first?.phase == .healthy }
        try await PostgresSession.with(endpoint) { (session: PostgresSession) async throws in
            #expect(try await session.strings("select body from public.notes where user_id = '\(Self.carol)'") == ["committed"])
            #expect(try await session.strings("select count(*)::text from public.notes") == ["4"])
        }
        #expect(try await stack.stop() == 0)
        // After a clean stop, the next start does no crash recovery.
        let again = try stack.restart()
        defer { again.cleanUp() }
        _ = try await again.postgresEndpoint()
        let log = again.log("db")
        let lastStart = String(log[(log.range(of: "received fast shutdown request", options: .backwards)?.upperBound ?? log.startIndex)...])
        #expect(lastStart.contains("database system was shut down at"))
        #expect(!lastStart.contains("not properly shut down"))
        #expect(!lastStart.contains("redo starts"))
        #expect(try await again.stop() == 0)
    }

    /// devstack killed once initdb has made a whole data folder, before it is on disk and in place: the
    /// next start does not take the folder for data and makes the database anew.
    @Test func anInitdbCutShortLeavesNoDataBehind() async throws {
        let postgres = try PostgresInstallation.find(binDirectory: nil, version: nil, environment: ProcessInfo.processInfo.environment)
        try await withTemporaryDirectory(prefix: "devstack-stalled-initdb") { bin in
            // initdb that finishes, says so with its pid, then stalls: the moment to kill devstack.
            try bin.write("initdb", "#!/bin/sh\n\"\(postgres.initdb)\" \"$@\" || exit 1\necho $$ > \"\(bin.path)/finished\"\nexec sleep 600\n")
            try bin.write("postgres", "#!/bin/sh\nexec \"\(postgres.postgres)\" \"$@\"\n")
            chmod(bin.path, 0o777)
            for tool in ["initdb", "postgres"] { chmod("\(bin.path)/\(tool)", 0o755) }
            let stack = try makeStack(stack: Self.stack + "\n    bin_dir: \(bin.path)\n")
            defer { stack.cleanUp() }
            let deadline = ContinuousClock.now + .seconds(60)
            while bin.read("finished") == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let stalled = try #require(bin.read("finished").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            kill(stack.process.processIdentifier, SIGKILL)
            _ = try await stack.waitForExit()
            let gone = ContinuousClock.now + .seconds(10)
            while ProcessTable.isAlive(stalled) && ContinuousClock.now < gone { try await Task.sleep(for: .milliseconds(20)) }
            #expect(!ProcessTable.isAlive(stalled), "initdb outlived devstack")

            let usual = "\(stack.path)/.devstack/local/data/db"
            let data = (try? FileManager.default.destinationOfSymbolicLink(atPath: usual)) ?? usual
            #expect(FileManager.default.fileExists(atPath: "\(data).initdb/PG_VERSION"), "the test needs initdb's finished folder")
            #expect(!FileManager.default.fileExists(atPath: "\(data)/PG_VERSION"))

            try stack.directory.write("stacks/default/stack.yaml", Self.stack)
            let again = try stack.restart()
            defer { again.cleanUp() }
            try await PostgresSession.with(try await again.postgresEndpoint()) { (session: PostgresSession) async throws in
                #expect(try await session.strings("select count(*)::text from public.notes") == ["3"])
            }
            #expect(!FileManager.default.fileExists(atPath: "\(data).initdb"))
            #expect(try await again.stop() == 0)
        }
    }

    @Test func migrationNewMigrateAndPsqlWorkOnTheRunningStack() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        let created = try stack.devstack(["migration", "new", "Add tags!"])
        #expect(created.status == 0, "\(created.standardError)")
        let folder = "\(stack.path)/stacks/default/migrations"
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix("_add_tags.sql") })
        #expect(name.count == "yyyyMMddHHmmss_add_tags.sql".count && name.prefix(14).allSatisfy(\.isNumber))
        #expect(created.standardOutput == "created \(folder)/\(name)\n")
        try stack.directory.write("stacks/default/migrations/\(name)", "create table public.tags (name text primary key);\n")

        let migrate = try stack.devstack(["migrate"])
        #expect(migrate.status == 0, "\(migrate.standardError)")
        #expect(migrate.standardOutput == "devstack: applied migration \(name)\n")
        #expect(try stack.devstack(["migrate"]).standardOutput == "devstack: no pending migrations\n")
        let psql = try stack.devstack(["psql", "--", "-tAc", "select count(*) from public.tags"])
        #expect(psql.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(psql.standardError)")
        #expect(try await stack.stop() == 0)

        let stopped = try stack.devstack(["migrate"])
        #expect(stopped.status != 0)
        #expect(stopped.standardError.contains("devstack up"), "\(stopped.standardError)")
    }

    @Test(.enabled(if: getuid() == 0, "the user is looked up only as root"))
    func aMissingUnprivilegedUserSaysHowToCreateOne() async throws {
        let stack = try StackUnderTest(
            stack: "services:\n  db:\n    kind: postgres\n    user: devstack-no-such-user\n", arguments: ["--exit-on-failure"])
        defer { stack.cleanUp() }
        #expect(try await stack.waitForExit() == 1)
        #expect(stack.log("db").contains("there is no user 'devstack-no-such-user' to run it as"))
        #expect(stack.log("db").contains("useradd --system --no-create-home devstack-no-such-user"))
    }

    /// Starts a Postgres-only stack with `file` already where its data goes: the start must fail, leave the
    /// file as it was, and say each of `messages` (which may name the project folder) in the log.
    func expectRefusedStart(withDataFile file: String, _ contents: String, saying messages: (_ project: String) -> [String]) async throws {
        let path = ".devstack/local/data/db/\(file)"
        let stack = try StackUnderTest(stack: "services:\n  db:\n    kind: postgres\n", arguments: ["--exit-on-failure"], files: [path: contents])
        defer { stack.cleanUp() }
        #expect(try await stack.waitForExit() == 1)
        for message in messages(stack.path) { #expect(stack.log("db").contains(message)) }
        #expect(stack.directory.read(path) == contents)
    }

    @Test func otherFilesWhereTheDataGoesAreLeftAloneWithTheWayOut() async throws {
        try await expectRefusedStart(withDataFile: "notes.txt", "mine\n") { project in
            ["\(project)/.devstack/local/data/db holds files but no Postgres data (no PG_VERSION)", "move it aside or remove it"]
        }
    }

    /// Data made by a run as an ordinary user, in a folder the `postgres` user cannot reach, met by a run as root.
    @Test(.enabled(if: getuid() == 0, "the postgres user is switched to as root"))
    func dataThePostgresUserCannotReachGetsTheWayOut() async throws {
        try await expectRefusedStart(withDataFile: "PG_VERSION", "15\n") { project in
            ["the data of db is in \(project)/.devstack/local/data/db, and the user postgres Postgres runs as cannot", "chmod o+x"]
        }
    }

    @Test func dataOfAnotherMajorVersionGetsTheWayOut() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        #expect(try await stack.stop() == 0)
        let usual = "\(stack.path)/.devstack/local/data/db"
        let data = (try? FileManager.default.destinationOfSymbolicLink(atPath: usual)) ?? usual
        try Data("9\n".utf8).write(to: URL(fileURLWithPath: "\(data)/PG_VERSION"))
        let again = try stack.restart(arguments: ["--exit-on-failure"])
        defer { again.cleanUp() }
        #expect(try await again.waitForExit() == 1)
        #expect(again.log("db").contains("was made by Postgres 9, but the binaries found are Postgres"))
        #expect(again.log("db").contains("pg_upgrade"))
    }

    @Test func secretsThatNoLongerMatchTheDataFailAtOnceWithTheWayOut() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        #expect(try await stack.stop() == 0)
        let path = ".devstack/local/secrets"
        var secrets = try JSONDecoder().decode([String: String].self, from: Data((stack.directory.read(path) ?? "").utf8))
        secrets["postgres_password"] = "not-the-one-initdb-got"
        try stack.directory.write(path, String(decoding: try JSONEncoder().encode(secrets), as: UTF8.self))
        let again = try stack.restart(arguments: ["--exit-on-failure"])
        defer { again.cleanUp() }
        #expect(try await again.waitForExit() == 1)
        #expect(again.log("db").contains("Postgres refused the password in .devstack/local/secrets"))
        #expect(!again.log("db").contains("not healthy within its start period"))
    }

    @Test func missingBinariesSayHowToInstall() async throws {
        let stack = try StackUnderTest(
            stack: "services:\n  db:\n    kind: postgres\n    bin_dir: /nonexistent/bin\n", arguments: ["--exit-on-failure"])
        defer { stack.cleanUp() }
        #expect(try await stack.waitForExit() == 1)
        #expect(stack.log("db").contains("no postgres and initdb in /nonexistent/bin"))
        #expect(stack.log("db").contains("apt-get install postgresql") || stack.log("db").contains("brew install"))
    }

    @Test func ephemeralDataIsGoneAfterDown() async throws {
        let stack = try makeStack(
            profile: "ports: auto\ndata: ephemeral\npostgres: { fsync: \"off\", synchronous_commit: \"off\", full_page_writes: \"off\" }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { (session: PostgresSession) async throws in
            #expect(try await session.strings("show fsync") == ["off"])
            #expect(try await session.strings("show data_directory").first?.hasPrefix(RuntimeFolder.root()) == true)
        }
        let data = try await PostgresSession.with(endpoint) { try await $0.strings("show data_directory").first ?? "" }
        #expect(FileManager.default.fileExists(atPath: data))
        #expect(try await stack.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: data))
        #expect(!FileManager.default.fileExists(atPath: URL(fileURLWithPath: data).deletingLastPathComponent().path))
    }

    @Test func listensOnLoopbackWithScramPasswordsUnlessTheProfileSaysOtherwise() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { (session: PostgresSession) async throws in
            #expect(try await session.strings("show listen_addresses") == ["127.0.0.1"])
            #expect(try await session.strings("select left(rolpassword, 14) from pg_authid where rolname = 'postgres'") == ["SCRAM-SHA-256$"])
        }
        var tcp = endpoint
        tcp.socketDirectory = nil
        try await PostgresSession.with(tcp) { try await $0.execute("select 1") }
        tcp.password = "not-the-password"
        let refused = await #expect(throws: (any Error).self) { try await PostgresSession.with(tcp) { try await $0.execute("select 1") } }
        #expect(refused.flatMap(PostgresSession.sqlState(of:)) == "28P01")
        #expect(try await stack.stop() == 0)

        try stack.directory.write("profiles/local.yaml", "ports: auto\nhost: 0.0.0.0\n")
        let again = try stack.restart()
        defer { again.cleanUp() }
        try await PostgresSession.with(try await again.postgresEndpoint()) { (session: PostgresSession) async throws in
            #expect(try await session.strings("show listen_addresses") == ["0.0.0.0"])
        }
        #expect(try await again.stop() == 0)
    }

    @Test func theRunsSocketFolderIsGoneAfterAStopAndTheDataStays() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let socket = try await PostgresSession.with(endpoint) { try await $0.strings("show unix_socket_directories").first ?? "" }
        #expect(socket.hasPrefix(RuntimeFolder.root()))
        #expect(FileManager.default.fileExists(atPath: socket))
        #expect(try await stack.stop() == 0)
        // Stopped while the reset template may still be in the making: that is no failure to report.
        #expect(!stack.log("db").contains("failed"))
        #expect(!FileManager.default.fileExists(atPath: socket))
        #expect(!FileManager.default.fileExists(atPath: URL(fileURLWithPath: socket).deletingLastPathComponent().path))
        #expect(FileManager.default.fileExists(atPath: "\(stack.path)/.devstack/local/data/db/PG_VERSION"))
    }

    /// devstack run by an ordinary user: Postgres runs as that user, data inside the project.
    @Test(.enabled(if: getuid() == 0, "switching to an unprivileged user needs root"))
    func runsAsAnUnprivilegedUserToo() async throws {
        try await withTemporaryDirectory(prefix: "devstack-nonroot") { directory in
            chmod(directory.path, 0o755)
            try directory.write("bin/devstack", "")
            try FileManager.default.removeItem(atPath: "\(directory.path)/bin/devstack")
            try FileManager.default.copyItem(atPath: DevstackBinary.path, toPath: "\(directory.path)/bin/devstack")
            try directory.write("project/stacks/default/stack.yaml", Self.stack)
            try directory.write("project/stacks/default/seed.sql", Self.seed)
            try directory.write("project/stacks/default/migrations/001_notes.sql", Self.notesMigration)
            try directory.write("project/profiles/local.yaml", "ports: auto\n")
            _ = try DevstackBinary.runProcess("/bin/chown", ["-R", "postgres:postgres", directory.path], in: "/")
            let asPostgres = ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", "\(directory.path)/bin/devstack"]
            let project = "\(directory.path)/project"
            defer { _ = try? DevstackBinary.runProcess("/usr/bin/setpriv", asPostgres + ["down"], in: project) }
            let up = try DevstackBinary.runProcess("/usr/bin/setpriv", asPostgres + ["up", "--detach"], in: project)
            #expect(up.status == 0, "\(up.standardError)")
            let psql = try DevstackBinary.runProcess(
                "/usr/bin/setpriv", asPostgres + ["psql", "--", "-tAc", "select current_user || ' ' || count(*) from public.notes"], in: project)
            #expect(psql.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "postgres 3")
            var isLink: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: "\(project)/.devstack/local/data/db/PG_VERSION", isDirectory: &isLink))
            let down = try DevstackBinary.runProcess("/usr/bin/setpriv", asPostgres + ["down"], in: project)
            #expect(down.standardOutput.contains("devstack: stopped"))
        }
    }
}
