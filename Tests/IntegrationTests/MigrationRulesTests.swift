import DevstackPostgres
import DevstackTestSupport
import Foundation
import Testing

/// Migrations staging first, production only with approval: a project whose staging runs here, and a
/// Postgres of the test's own (with the Supabase CLI's migration table) standing in for production.
@Suite(.serialized) struct MigrationRulesTests {
    static func versions(_ endpoint: PostgresSession.Endpoint) async throws -> [String] {
        try await PostgresSession.with(endpoint) {
            try await $0.strings(
                "select version || ':' || name || ':' || array_length(statements, 1) from supabase_migrations.schema_migrations order by 1")
        }
    }

    /// A staging that runs here, a production reached by the URL in `PROD_DB_URL`, and a first migration.
    static let files = [
        "profiles/staging.yaml": "ports: auto\n",
        "profiles/production.yaml": "environment: production\nremote: true\nservices:\n  db: { url: \"${env:PROD_DB_URL}\" }\n",
        "stacks/default/migrations/001_notes.sql": "create table notes (id serial primary key, body text);\n",
    ]

    /// The URL production's profile reads, to the test's stand-in.
    static func environment(_ production: PostgresSession.Endpoint) -> [String: String] {
        ["PROD_DB_URL": "postgresql://postgres:\(production.password)@127.0.0.1:\(production.port)/app"]
    }

    /// A Postgres of the test's own as production: the Supabase CLI's migration table, empty.
    static func productionStandIn(_ production: StackUnderTest) async throws -> PostgresSession.Endpoint {
        let database = try await production.postgresEndpoint()
        try await PostgresSession.with(database) { session in
            try await session.execute("create schema supabase_migrations")
            try await session.execute(
                "create table supabase_migrations.schema_migrations (version text not null primary key, statements text[], name text)")
        }
        return database
    }

    @Test func migrationsGoToStagingFirstAndToProductionOnlyWithApproval() async throws {
        let production = try StackUnderTest(stack: "services:\n  db: { kind: postgres, database: app }\n")
        defer { production.cleanUp() }
        let productionDatabase = try await Self.productionStandIn(production)
        let stack = try StackUnderTest(
            stack: "services:\n  db: { kind: postgres, database: app, migrations: migrations }\n", arguments: ["--profile", "staging"],
            files: Self.files)
        defer { stack.cleanUp() }
        let staging = try await stack.postgresEndpoint()
        let environment = Self.environment(productionDatabase)
        // Staging records what it applied where the Supabase CLI does.
        #expect(try await Self.versions(staging) == ["001:notes:1"])
        // A database an older devstack migrated (its own records only) gets them at the next migrate.
        try await PostgresSession.with(staging) { session in
            try await session.execute("drop schema supabase_migrations cascade")
            try await session.execute("delete from devstack.state where key = 'supabase_migrations_complete'")
        }
        let backfilled = try stack.devstack(["migrate", "--profile", "staging"])
        #expect(backfilled.standardOutput.contains("no pending migrations"), "\(backfilled.standardError)")
        #expect(try await Self.versions(staging) == ["001:notes:1"])

        // A migration not yet on staging is refused for production, with nothing applied.
        try stack.directory.write(
            "stacks/default/migrations/002_tags.sql", "alter table notes add column tags text[];\ncreate index on notes (body);\n")
        let early = try stack.devstack(["migrate", "--profile", "production", "--approve"], environment: environment)
        #expect(early.status == 3)
        #expect(early.standardError.contains("002_tags.sql is not applied on 'staging'"), "\(early.standardError)")
        #expect(try await Self.versions(productionDatabase).isEmpty)

        // Staging first.
        let onStaging = try stack.devstack(["migrate", "--profile", "staging"])
        #expect(onStaging.status == 0 && onStaging.standardOutput.contains("applied migration 002_tags.sql"), "\(onStaging.standardError)")

        // Production: the plan, and nothing without approval.
        let planned = try stack.devstack(["migrate", "--profile", "production"], environment: environment)
        #expect(planned.status == 3)
        #expect(
            planned.standardOutput.contains("001_notes.sql  checksum") && planned.standardOutput.contains("002_tags.sql"), "\(planned.standardOutput)"
        )
        #expect(planned.standardOutput.contains("create index on notes (body)"))
        #expect(planned.standardError.contains("production migrations need approval"))
        #expect(try await Self.versions(productionDatabase).isEmpty)
        let approved = try stack.devstack(["migrate", "--profile", "production", "--approve"], environment: environment)
        #expect(approved.status == 0, "\(approved.standardError)")
        #expect(approved.standardOutput.contains("applied migration 002_tags.sql to production"))
        #expect(try await Self.versions(productionDatabase) == ["001:notes:1", "002:tags:2"])
        #expect(
            try await PostgresSession.with(productionDatabase) {
                try await $0.strings("select count(*)::text from information_schema.columns where table_name = 'notes' and column_name = 'tags'")
            } == ["1"])

        let status = try stack.devstack(["migrations", "status"], environment: environment)
        #expect(status.standardOutput.contains("staging (staging): 2 applied, 0 pending, 0 changed"), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("production (production): 2 applied, 0 pending, 0 changed"))
        #expect(status.standardOutput.contains("local (local): not looked at"))

        // A file changed after it was applied is refused, and shown as changed everywhere.
        try stack.directory.write("stacks/default/migrations/002_tags.sql", "alter table notes add column tags text[];\n")
        let changed = try stack.devstack(["migrate", "--profile", "production", "--approve"], environment: environment)
        #expect(changed.status == 3)
        #expect(changed.standardError.contains("002_tags.sql changed since applied to 'production'"), "\(changed.standardError)")
        let after = try stack.devstack(["migrations", "status"], environment: environment).standardOutput
        #expect(after.contains("production (production): 1 applied, 0 pending, 1 changed") && after.contains("CHANGED  002_tags.sql"), "\(after)")
        #expect(try await stack.stop() == 0)
        #expect(try await production.stop() == 0)
    }

    @Test func promoteWalksStagingThenProductionAndStopsAtTheFirstFailure() async throws {
        let production = try StackUnderTest(stack: "services:\n  db: { kind: postgres, database: app }\n")
        defer { production.cleanUp() }
        let productionDatabase = try await Self.productionStandIn(production)
        let stack = try StackUnderTest(
            stack: """
                services:
                  db: { kind: postgres, database: app, migrations: migrations }
                smoke:
                  notes_readable: { sql: "select count(*) from notes" }
                """, arguments: ["--profile", "staging"],
            files: Self.files)
        defer { stack.cleanUp() }
        let staging = try await stack.postgresEndpoint()
        let environment = Self.environment(productionDatabase)
        try stack.directory.write("stacks/default/migrations/002_tags.sql", "alter table notes add column tags text[];\n")

        // Without approval: every staging step runs (the pending migration goes to staging), production's plan is shown, nothing applied there.
        let unapproved = try stack.devstack(["promote"], environment: environment)
        #expect(unapproved.status == 3, "\(unapproved.standardOutput) \(unapproved.standardError)")
        for line in [
            "1/5 staging is healthy: ok", "2/5 smoke checks pass on staging: ok",
            "3/5 pending migrations applied on staging: ok (applied migration 002_tags.sql)",
        ] {
            #expect(unapproved.standardOutput.contains(line), "\(unapproved.standardOutput)")
        }
        #expect(unapproved.standardOutput.contains("4/5 migrations applied to production, as approved: FAILED; stopped here"))
        #expect(unapproved.standardError.contains("production migrations need approval"))
        #expect(try await Self.versions(productionDatabase).isEmpty)
        #expect(try await Self.versions(staging) == ["001:notes:1", "002:tags:1"])

        // Approved: production takes both files, then its smoke checks run read-only.
        let approved = try stack.devstack(["promote", "--approve"], environment: environment)
        #expect(approved.status == 0, "\(approved.standardOutput) \(approved.standardError)")
        #expect(approved.standardOutput.contains("3/5 pending migrations applied on staging: ok (none pending)"))
        #expect(approved.standardOutput.contains("5/5 smoke checks pass on production (read only): ok (1 passed)"))
        #expect(approved.standardOutput.contains("promoted staging to production"))
        #expect(try await Self.versions(productionDatabase) == ["001:notes:1", "002:tags:1"])

        // A failing smoke check on staging stops the walk before production is touched.
        try stack.directory.write("stacks/default/migrations/003_more.sql", "alter table notes add column more text;\n")
        try await PostgresSession.with(staging) { try await $0.execute("alter table notes rename to old_notes") }
        let broken = try stack.devstack(["promote", "--approve"], environment: environment)
        #expect(broken.status == 3, "\(broken.standardOutput) \(broken.standardError)")
        #expect(broken.standardOutput.contains("2/5 smoke checks pass on staging: FAILED; stopped here"), "\(broken.standardOutput)")
        #expect(try await Self.versions(staging) == ["001:notes:1", "002:tags:1"])
        #expect(try await Self.versions(productionDatabase) == ["001:notes:1", "002:tags:1"])
        #expect(try await stack.stop() == 0)
        #expect(try await production.stop() == 0)
    }
}
