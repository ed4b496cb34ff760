import DevstackPostgres
import DevstackTestSupport
import Foundation
import Testing

/// `devstack smoke` and the rule that tests run against staging: the same checks against a local
/// stack, and against a "production" profile pointed at that stack standing in for production.
@Suite(.serialized) struct SmokeTests {
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
            health: { http: /health.txt }
        env:
          DATABASE_URL: ${db.url}
          API_URL: ${api.url}
        smoke:
          api_up: { url: "${api.url}/health.txt", contains: ok }
          api_post: { url: "${api.url}/", method: POST, body: "{}", status: 501 }
          answer: { sql: "select 6 * 7", contains: "42" }
          writes: { sql: "insert into smoke_marks default values returning 'written'" }
        """

    static let production = """
        environment: production
        remote: true
        env: { DATABASE_URL: null }
        services:
          db: { url: "${env:PROD_DB_URL}" }
          api: { url: "${env:PROD_API_URL}" }
        """

    static func json(_ text: String) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
    }

    @Test func smokeChecksRunEverywhereAndOnlyReadInProduction() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack,
            files: [
                "profiles/production.yaml": Self.production, "health.txt": "ok\n",
                "stacks/default/migrations/001_marks.sql": "create table smoke_marks (at timestamptz not null default now());\n",
            ])
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let report = try await stack.waitFor("api healthy") { $0.services.allSatisfy(\.phase.isUp) }
        let api = try #require(report.services.first { $0.name == "api" }?.ports["http"])
        func marks() async throws -> [String] {
            try await PostgresSession.with(endpoint) { try await $0.strings("select count(*)::text from smoke_marks") }
        }

        // Locally every check runs, and a check may write.
        let local = try stack.devstack(["smoke", "--json"])
        #expect(local.status == 0, "\(local.standardOutput) \(local.standardError)")
        let results = Self.json(local.standardOutput)
        #expect(results.count == 4 && results.allSatisfy { $0["ok"] as? Bool == true }, "\(results)")
        #expect(try await marks() == ["1"])

        // Production: stood in for by the same stack, reached by the URLs its profile reads from the environment.
        let production = [
            "PROD_DB_URL": "postgresql://postgres:\(endpoint.password)@127.0.0.1:\(endpoint.port)/app", "PROD_API_URL": "http://127.0.0.1:\(api)",
        ]
        let refused = try stack.devstack(["smoke", "--profile", "production"], environment: production)
        #expect(refused.status == 3)
        #expect(refused.standardError.contains("'api_post' sends POST: against production a smoke check only reads"), "\(refused.standardError)")
        #expect(refused.standardOutput.isEmpty, "nothing runs when one check is refused")
        let readOnly = try stack.devstack(["smoke", "--profile", "production", "--json", "api_up", "answer", "writes"], environment: production)
        #expect(readOnly.status == 1)
        let checks = Self.json(readOnly.standardOutput)
        #expect(checks.map { $0["ok"] as? Bool } == [true, true, false], "\(checks)")
        #expect((checks.last?["detail"] as? String)?.contains("read-only transaction") == true, "\(checks)")
        #expect(try await marks() == ["1"], "a production smoke check wrote")

        // Tests run against staging, never production: exec and env refuse it; --public shows what a browser may.
        let exec = try stack.devstack(["exec", "--profile", "production", "--", "true"], environment: production)
        #expect(exec.status == 3)
        #expect(exec.standardError.contains("is production: devstack exec never hands its environment to local tools"))
        #expect(try stack.devstack(["env", "--profile", "production"], environment: production).status == 3)
        let browser = try stack.devstack(["env", "--profile", "production", "--public"], environment: production)
        #expect(browser.status == 0)
        #expect(browser.standardOutput.contains("API_URL='http://127.0.0.1:\(api)'"), "\(browser.standardOutput)")
        #expect(!browser.standardOutput.contains("DATABASE_URL"), "\(browser.standardOutput)")
        #expect(try stack.devstack(["exec", "--", "true"]).status == 0)
        #expect(try await stack.stop() == 0)
    }
}
