import DevstackDriverKit
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

/// `devstack reset` and snapshots against the real server.
@Suite(.serialized) struct ResetTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
            supabase: true
            migrations: migrations
            seed: seed.sql
        """
    static let migration = "create table public.items (id bigint generated always as identity primary key, label text not null);\n"
    static let seed = "insert into public.items (label) values ('seed one'), ('seed two');\n"

    func makeStack(local: String = "ports: auto\n", profiles: [String: String] = [:]) throws -> StackUnderTest {
        var files = ["stacks/default/seed.sql": Self.seed, "stacks/default/migrations/001_items.sql": Self.migration]
        for (name, text) in profiles { files["profiles/\(name).yaml"] = text }
        return try StackUnderTest(stack: Self.stack, profile: local, files: files)
    }

    func query(_ endpoint: PostgresSession.Endpoint, _ sql: String) async throws -> [String] {
        try await PostgresSession.with(endpoint) { try await $0.strings(sql) }
    }

    /// The server ends every session of the database it resets; a client (a pool) sees its
    /// connection closed. Waits for that, boundedly.
    func closedByTheServer(_ session: PostgresSession) async throws -> Bool {
        for _ in 0..<500 {
            if session.connection.isClosed { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func devstackDatabases(_ endpoint: PostgresSession.Endpoint) async throws -> [String] {
        try await query(endpoint.with(database: "postgres"), "select datname from pg_database where datname like 'app%' order by 1")
    }

    @Test func rowsAreGoneTheSeedIsBackAndSequencesRestart() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let client = try await PostgresSession.connect(endpoint)
        try await client.execute("insert into public.items (label) values ('mine'), ('also mine')")
        let reset = try stack.devstack(["reset"])
        #expect(reset.status == 0, "\(reset.standardError)")
        #expect(reset.standardOutput.contains("devstack: db: reset app to the migrated and seeded state in"))
        // The old connection was ended by the server; a new one sees the clean state.
        #expect(try await closedByTheServer(client))
        #expect(try await query(endpoint, "select label from public.items order by id") == ["seed one", "seed two"])
        #expect(try await query(endpoint, "insert into public.items (label) values ('next') returning id::text") == ["3"])
        #expect(try await query(endpoint, "select count(*)::text from auth.users") == ["0"])
        #expect(try await stack.stop() == 0)
    }

    /// Every shape of table the fast path must put back: identity and generated columns, a foreign
    /// key with cascade, a partitioned table, inheritance, a dropped column, a sequence of its own.
    static let shapes = """
        create table public.parents (id bigint generated always as identity primary key, name text not null,
            name_length int generated always as (length(name)) stored);
        create table public.children (id serial primary key, parent_id bigint references public.parents on delete cascade, note text);
        create table public.events (at date not null, what text) partition by range (at);
        create table public.events_2026 partition of public.events for values from ('2026-01-01') to ('2027-01-01');
        create table public.base (x int);
        create table public.derived (y int) inherits (public.base);
        create table public.trimmed (a int, b int, c text);
        alter table public.trimmed drop column b;
        create sequence public.tickets;
        create table public.bulk (id int primary key, filler text not null);
        """
    static let shapesSeed = """
        insert into public.parents (name) values ('ann'), ('bo');
        insert into public.children (parent_id, note) values (1, 'first'), (2, 'second');
        insert into public.events values ('2026-05-01', 'launch');
        insert into public.base values (1);
        insert into public.derived values (2, 3);
        insert into public.trimmed values (1, 'one');
        select nextval('public.tickets');
        insert into public.bulk select n, repeat('x', 100) from generate_series(1, 3000) n;
        """

    /// The whole database as pg_dump writes it, less the per-run key of its `\restrict` lines.
    func dump(_ endpoint: PostgresSession.Endpoint) throws -> String {
        let installation = try PostgresInstallation.find(binDirectory: nil, version: nil, environment: ProcessInfo.processInfo.environment)
        let url = "postgresql://\(endpoint.user):\(endpoint.password)@\(endpoint.host):\(endpoint.port)/\(endpoint.database)"
        let (status, output) = ToolOutput.run("\(installation.binDirectory)/pg_dump", ["--dbname=\(url)"])
        #expect(status == 0, "\(output)")
        return output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }.joined(separator: "\n")
    }

    @Test func theFastPathLeavesExactlyWhatTheSwapLeaves() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack, profile: "ports: auto\n",
            files: [
                "stacks/default/seed.sql": Self.seed + Self.shapesSeed, "stacks/default/migrations/001_items.sql": Self.migration,
                "stacks/default/migrations/002_shapes.sql": Self.shapes,
            ])
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        // The database `up` made was seeded on its own, not copied from the template: the first reset swaps.
        let first = try #require(try await control.reset(to: nil, force: false).first)
        #expect(first.details["path"] == "swapped")
        #expect(first.details["swap_reason"] == "the database was not made from the clean-state template yet")
        let client = try await PostgresSession.connect(endpoint)
        defer { client.closeInBackground() }
        for statement in [
            "insert into public.parents (name) values ('cy')", "update public.children set note = 'changed' where id = 1",
            "delete from public.parents where id = 2", "insert into public.events values ('2026-06-01', 'through the parent')",
            "update public.base set x = 10", "delete from public.trimmed", "select nextval('public.tickets')",
            "insert into public.items (label) values ('mine')", "begin", "insert into public.items (label) values ('rolled back')", "rollback",
            "insert into auth.users (id, email) values (gen_random_uuid(), 'someone@example.com')",
        ] {
            try await client.execute(statement)
        }
        let repaired = try #require(try await control.reset(to: nil, force: false).first)
        #expect(repaired.details["path"] == "repaired", "\(repaired.summary)")
        #expect(repaired.summary.contains("changed tables back in place"), "\(repaired.summary)")
        // Nobody was shown out: the client's session goes on, and sees the clean state.
        #expect(try await client.strings("select string_agg(name, ',' order by id) from public.parents") == ["ann,bo"])
        let afterRepair = try dump(endpoint)
        // A changed table over 256 kB: emptied by a truncate, of every table in the repair.
        try await client.execute("update public.bulk set filler = 'changed' where id < 100")
        try await client.execute("insert into public.children (parent_id, note) values (2, 'more')")
        let truncated = try #require(try await control.reset(to: nil, force: false).first)
        #expect(truncated.details["path"] == "repaired", "\(truncated.summary)")
        let afterTruncate = try dump(endpoint)
        // DDL sends the next reset to the swap, whose clean copy is the reference.
        try await client.execute("create table public.scratch (x int)")
        try await client.execute("insert into public.children (parent_id, note) values (1, 'more')")
        let swapped = try #require(try await control.reset(to: nil, force: false).first)
        #expect(swapped.details["path"] == "swapped")
        #expect(swapped.details["swap_reason"] == "the schema changed")
        let afterSwap = try dump(endpoint)
        #expect(afterRepair.contains("COPY public.parents"))
        #expect(afterRepair == afterSwap)
        #expect(afterTruncate == afterSwap)
        // Nothing changed: a repair that only puts the sequences back.
        let idle = try #require(try await control.reset(to: nil, force: false).first)
        #expect(idle.details["path"] == "repaired")
        #expect(idle.details["repaired_tables"] == "0")
        #expect(try dump(endpoint) == afterSwap)
        #expect(try await stack.stop() == 0)
    }

    @Test func aSessionMidTransactionIsShownOutByTheFastPath() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        _ = try await control.reset(to: nil, force: false)
        let idle = try await PostgresSession.connect(endpoint)
        defer { idle.closeInBackground() }
        let writer = try await PostgresSession.connect(endpoint)
        defer { writer.closeInBackground() }
        try await writer.execute("begin")
        try await writer.execute("insert into public.items (label) values ('uncommitted')")
        let outcome = try #require(try await control.reset(to: nil, force: false).first)
        #expect(outcome.details["path"] == "repaired", "\(outcome.summary)")
        // The writer held the table: ended, as a swap would; the idle session is left alone.
        #expect(try await closedByTheServer(writer))
        #expect(try await idle.strings("select count(*)::text from public.items") == ["2"])
        #expect(try await stack.stop() == 0)
    }

    @Test func largeChangesGoToTheSwap() async throws {
        let stack = try makeStack(local: "ports: auto\nservices:\n  db:\n    settings: { fast_reset_rows: 1 }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        _ = try await control.reset(to: nil, force: false)
        try await PostgresSession.with(endpoint) { try await $0.execute("insert into public.items (label) values ('mine')") }
        let outcome = try #require(try await control.reset(to: nil, force: false).first)
        #expect(outcome.details["path"] == "swapped")
        #expect(outcome.details["swap_reason"] == "2 clean rows to put back, more than fast_reset_rows (1)")
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        #expect(try await stack.stop() == 0)
    }

    @Test func anEditedMigrationRebuildsTheTemplateBeforeTheReset() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        #expect(try stack.devstack(["reset"]).status == 0)
        try stack.directory.write(
            "stacks/default/migrations/002_color.sql", "alter table public.items add column color text not null default 'blue';\n")
        let reset = try stack.devstack(["reset", "--json"])
        let outcomes = try StateStore.decoder.decode([ResetOutcome].self, from: Data(reset.standardOutput.utf8))
        #expect(outcomes.first?.details["template_rebuilt"] == "true")
        #expect(outcomes.first?.summary.contains("rebuilt the clean-state template first: the bootstrap, a migration or the seed changed") == true)
        #expect(try await query(endpoint, "select color from public.items order by id") == ["blue", "blue"])
        #expect(try await query(endpoint, "select version from devstack.schema_migrations order by 1") == ["001", "002"])
        #expect(try await stack.stop() == 0)
    }

    @Test func twoHundredRepairsWithAClientWritingBetween() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        _ = try await control.reset(to: nil, force: false)
        let client = try await PostgresSession.connect(endpoint)
        defer { client.closeInBackground() }
        var paths: [String: Int] = [:]
        for _ in 0..<200 {
            try await client.execute("insert into public.items (label) values ('mine')")
            let outcome = try #require(try await control.reset(to: nil, force: false).first)
            paths[outcome.details["path"] ?? "?", default: 0] += 1
        }
        #expect(paths == ["repaired": 200])
        // One session all along: the fast path shows nobody out.
        #expect(!client.connection.isClosed)
        #expect(try await client.strings("select string_agg(label, ',' order by id) from public.items") == ["seed one,seed two"])
        #expect(try await client.strings("insert into public.items (label) values ('next') returning id::text") == ["3"])
        #expect(try await stack.stop() == 0)
    }

    @Test func twoHundredSwapsWithAClientWritingBetween() async throws {
        let stack = try makeStack(local: "ports: auto\nservices:\n  db:\n    settings: { fast_reset_rows: 0 }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        _ = try await control.reset(to: nil, force: false)
        let baseline = try await query(endpoint.with(database: "postgres"), "select sum(pg_database_size(datname))::text from pg_database")
        var client = try await PostgresSession.connect(endpoint)
        var reconnects = 0
        for round in 0..<200 {
            // As a pool does: a connection the server closed is replaced; the write itself must never fail.
            if round > 0 {
                #expect(try await closedByTheServer(client), "round \(round): the reset left a session open")
                client = try await PostgresSession.connect(endpoint)
                reconnects += 1
            }
            try await client.execute("insert into public.items (label) values ('round \(round)')")
            let outcomes = try await control.reset(to: nil, force: false)
            #expect(outcomes.count == 1)
        }
        #expect(reconnects == 199)
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        // Give the last background clean-up its moment, then nothing may be left over.
        var databases: [String] = []
        for _ in 0..<200 {
            databases = try await devstackDatabases(endpoint)
            if databases == ["app", "app__devstack_spare", "app__devstack_spare_2", "app__devstack_template"] { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(databases == ["app", "app__devstack_spare", "app__devstack_spare_2", "app__devstack_template"])
        let size = try await query(endpoint.with(database: "postgres"), "select sum(pg_database_size(datname))::text from pg_database")
        #expect(Int(size.first ?? "") ?? .max <= (Int(baseline.first ?? "") ?? 0) * 5 / 4, "disk use must stay bounded: \(baseline) → \(size)")
        #expect(try await stack.stop() == 0)
    }

    @Test func aBurstOfSwapsUsesEverySpareReady() async throws {
        let stack = try makeStack(local: "ports: auto\nservices:\n  db:\n    settings: { spares: 3, fast_reset_rows: 0 }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let spares = ["app__devstack_spare", "app__devstack_spare_2", "app__devstack_spare_3"]
        let allReady =
            "select count(*)::text from pg_database where datname like 'app\\_\\_devstack\\_spare%' "
            + "and shobj_description(oid, 'pg_database') = (select shobj_description(oid, 'pg_database') from pg_database where datname = 'app__devstack_template')"
        for _ in 0..<600 {
            if try await query(endpoint.with(database: "postgres"), allReady) == ["3"] { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await devstackDatabases(endpoint) == ["app"] + spares + ["app__devstack_template"])
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        // Three resets with nothing between: each swaps in a spare made before the burst.
        for round in 0..<3 {
            let outcome = try #require(try await control.reset(to: nil, force: false).first)
            #expect(outcome.details["used_spare"] == "true", "reset \(round): \(outcome.summary)")
        }
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        #expect(try await stack.stop() == 0)
    }

    @Test func concurrentResetsTakeTurns() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<5 { group.addTask { try await control.reset(to: nil, force: false).count } }
            for try await count in group { #expect(count == 1) }
        }
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        #expect(try await stack.stop() == 0)
    }

    @Test func protectedNeedsForceAndRemoteNeverResets() async throws {
        let stack = try makeStack(profiles: [
            "staging": "ports: auto\nprotected: true\n",
            "production": "remote: true\nservices:\n  db: { url: 'postgresql://db.example.com:5432/app' }\n",
        ])
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let staging = try stack.devstack(["reset", "--profile", "staging"])
        #expect(staging.status == 3)
        #expect(staging.standardError.contains("profile 'staging' is protected: a reset would throw away its data"))
        #expect(staging.standardError.contains("--force"))
        let production = try stack.devstack(["reset", "--profile", "production", "--force"])
        #expect(production.status == 3)
        #expect(production.standardError.contains("profile 'production' is remote: devstack never resets it"))
        // Neither touched anything: the running local stack still has its own rows.
        try await PostgresSession.with(endpoint) { try await $0.execute("insert into public.items (label) values ('kept')") }
        _ = try stack.devstack(["reset", "--profile", "staging"])
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["3"])
        #expect(try await stack.stop() == 0)
    }

    @Test func aRunningProtectedStackRefusesWithoutForce() async throws {
        let stack = try makeStack(local: "ports: auto\nprotected: true\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { try await $0.execute("insert into public.items (label) values ('kept')") }
        // The running supervisor checks its own profile: the client does not plan again.
        let refused = try stack.devstack(["reset"])
        #expect(refused.status == 3)
        #expect(refused.standardError.contains("profile 'local' is protected: a reset would throw away its data"), "\(refused.standardError)")
        #expect(refused.standardError.contains("devstack reset --profile local --force"))
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["3"])
        let forced = try stack.devstack(["reset", "--force"])
        #expect(forced.status == 0, "\(forced.standardError)")
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        #expect(try await stack.stop() == 0)
    }

    @Test func aResetRacingAShutdownEndsCleanly() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { try await $0.execute("insert into public.items (label) values ('mine')") }
        let control = ControlClient(socket: try #require(stack.store.load()).controlSocket)
        let resets = Task {
            await withTaskGroup(of: String?.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        do {
                            _ = try await control.reset(to: nil, force: false)
                            return nil
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
            }
        }
        try await Task.sleep(for: .milliseconds(5))
        #expect(try await stack.stop() == 0)
        // Each reset finished before the stop, or was refused or cut off whole: never half done.
        for failure in await resets.value {
            #expect(failure.contains("the stack is stopping; nothing was reset") || failure.contains("does not answer"), "\(failure)")
        }
        #expect(await ProcessTree.remaining(whereArgumentsContain: stack.path).isEmpty)
        let again = try stack.restart()
        defer { again.cleanUp() }
        let rows = try await query(try await again.postgresEndpoint(), "select label from public.items order by id")
        #expect(rows == ["seed one", "seed two"] || rows == ["seed one", "seed two", "mine"], "\(rows)")
        #expect(try await again.stop() == 0)
    }

    @Test func snapshotRoundTripAndStaleFlag() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { try await $0.execute("insert into public.items (label) values ('onboarded')") }
        #expect(try stack.devstack(["snapshot", "save", "onboarded"]).status == 0)
        #expect(try stack.devstack(["reset"]).status == 0)
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        let restore = try stack.devstack(["snapshot", "restore", "onboarded"])
        #expect(restore.standardOutput.contains("restored snapshot onboarded into app in"))
        #expect(try await query(endpoint, "select label from public.items order by id") == ["seed one", "seed two", "onboarded"])
        let again = try stack.devstack(["reset", "--to", "onboarded"])
        #expect(again.status == 0)
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["3"])
        try stack.directory.write("stacks/default/migrations/002_more.sql", "create table public.more (x int);\n")
        #expect(try stack.devstack(["snapshot", "list"]).standardOutput.contains("onboarded"))
        #expect(try stack.devstack(["snapshot", "list"]).standardOutput.contains("stale"))
        #expect(
            try stack.devstack(["reset", "--to", "onboarded"]).standardOutput.contains(
                "warning: the snapshot was taken before the migrations or seed changed"))
        #expect(try stack.devstack(["snapshot", "rm", "onboarded"]).status == 0)
        #expect(try stack.devstack(["snapshot", "list"]).standardOutput == "no snapshots\n")
        let missing = try stack.devstack(["reset", "--to", "onboarded"])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("no snapshot 'onboarded' of db"))
        #expect(try await stack.stop() == 0)
    }

    @Test func resetOfAStoppedStackStartsItsDatabaseForTheResetOnly() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { try await $0.execute("insert into public.items (label) values ('left over')") }
        #expect(try await stack.stop() == 0)
        let reset = try stack.devstack(["reset"])
        #expect(reset.status == 0, "\(reset.standardError)")
        #expect(reset.standardOutput.contains("the stack was stopped: its databases were started for this"))
        #expect(stack.store.running() == nil)
        #expect(await ProcessTree.remaining(whereArgumentsContain: stack.path).isEmpty)
        let again = try stack.restart()
        defer { again.cleanUp() }
        #expect(try await query(try await again.postgresEndpoint(), "select count(*)::text from public.items") == ["2"])
        #expect(try await again.stop() == 0)
    }
}
