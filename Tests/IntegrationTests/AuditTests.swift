import DevstackAudit
import DevstackPostgres
import DevstackProject
import DevstackTestSupport
import Foundation
import Testing

/// `devstack audit` against a stack with one of each mistake, and against the same database as a
/// remote (production) profile, where only the read-only checks run.
@Suite(.serialized) struct AuditTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
            supabase: true
            migrations: migrations
          gateway:
            kind: process
            command: ["python3", "gateway.py"]
            ports: [http]
            health: { http: /healthz }
            env: { PORT: "${self.port.http}" }
            auth: jwt
            auth_probe: GET /me
            rate_limit_probe: POST /chat
        env:
          DATABASE_URL: ${db.url}
        """

    /// One of each mistake the audit must find.
    static let mistakes = """
        create table public.notes (id bigint generated always as identity primary key, owner uuid not null default auth.uid(), body text not null);
        grant all on public.notes to authenticated;

        create table public.drafts (id bigint generated always as identity primary key, body text);
        alter table public.drafts enable row level security;

        create table public.shared (id bigint generated always as identity primary key,
            owner uuid not null default auth.uid(), body text not null);
        alter table public.shared enable row level security;
        create policy "any signed-in user" on public.shared for all to authenticated using (true) with check (true);
        grant all on public.shared to authenticated;

        create table public.private (id bigint generated always as identity primary key,
            owner uuid not null default auth.uid(), body text not null);
        alter table public.private enable row level security;
        create policy "own rows" on public.private for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
        grant all on public.private to authenticated;
        revoke all on public.private from anon;

        create function public.whoami() returns text language sql security definer as $$ select current_user::text $$;

        create schema storage;
        create table storage.buckets (id text primary key, name text not null, public boolean default false);
        create table storage.objects (id uuid primary key default gen_random_uuid(), bucket_id text references storage.buckets, name text, owner uuid);
        insert into storage.buckets values ('avatars', 'avatars', true);
        """

    /// A service that takes any bearer token it can split into three parts, signature unchecked,
    /// and never limits anyone.
    static let gateway = #"""
        import http.server, os

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status):
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_GET(self):
                if self.path == "/healthz":
                    return self.answer(200)
                token = self.headers.get("authorization", "").removeprefix("Bearer ")
                self.answer(200 if token.count(".") == 2 else 401)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", "0")))
                limit = int(os.environ.get("LIMIT", "0"))
                Handler.posts += 1
                if limit and Handler.posts > limit:
                    self.send_response(429)
                    self.send_header("retry-after", "30")
                    self.send_header("content-length", "0")
                    return self.end_headers()
                self.answer(200)

            posts = 0

        http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
        """#

    static let staging = """
        ports: auto
        protected: true
        values: { rate_limit: disabled }
        audit:
          incident_plan: { by: ana, on: 2026-12-01, link: "https://example.com/runbook" }
        """

    func report(_ result: DevstackBinary.Result) throws -> AuditReport {
        try StateStore.decoder.decode(AuditReport.self, from: Data(result.standardOutput.utf8))
    }

    func check(_ report: AuditReport, _ id: String) throws -> AuditCheckResult {
        try #require(report.checks.first { $0.id == id }, "no check \(id)")
    }

    func finding(_ check: AuditCheckResult, _ subject: String) -> AuditFinding? {
        check.findings.first { $0.subject.hasPrefix(subject) }
    }

    @Test func everyMistakeIsFoundWithItsEvidence() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack, arguments: ["--profile", "staging"],
            files: [
                "profiles/staging.yaml": Self.staging, "stacks/default/migrations/001_mistakes.sql": Self.mistakes, "gateway.py": Self.gateway,
                "web/.env.local": "VITE_SUPABASE_URL=http://127.0.0.1:54321\nVITE_SUPABASE_SERVICE_KEY=whatever-it-is\n",
            ])
        defer { stack.cleanUp() }
        _ = try await stack.postgresEndpoint()
        try await stack.waitFor("gateway healthy") { $0.services.allSatisfy { $0.phase == .healthy } }
        // A secrets file others can read.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(stack.path)/.devstack/staging/secrets")
        let run = try stack.devstack(["audit", "--profile", "staging", "--json", "--markdown", "audit.md"])
        #expect(run.status == 1, "\(run.standardError)")
        let report = try report(run)
        #expect(report.mode == "full")
        #expect(report.failed)

        let statics = try check(report, "rls.static")
        #expect(statics.status == .fail)
        #expect(finding(statics, "public.notes")?.status == .fail)
        #expect(finding(statics, "public.notes")?.detail.contains("without row-level security") == true)
        #expect(finding(statics, "public.drafts")?.detail.contains("no policy") == true)
        #expect(finding(statics, "public.whoami()")?.detail.contains("without a fixed search_path") == true)
        #expect(finding(statics, "public.private")?.status == .pass)

        let dynamic = try check(report, "rls.dynamic")
        #expect(dynamic.status == .fail)
        #expect(finding(dynamic, "public.shared")?.detail.contains("user A reads user B's row") == true, "\(dynamic.findings)")
        #expect(finding(dynamic, "public.shared")?.detail.contains("can delete") == true)
        #expect(finding(dynamic, "public.notes")?.status == .fail)
        #expect(finding(dynamic, "public.private")?.status == .pass, "\(dynamic.findings)")
        #expect(finding(dynamic, "public.drafts")?.detail.contains("could not be tried") == true)

        let storage = try check(report, "storage.buckets")
        #expect(storage.status == .fail)
        #expect(finding(storage, "storage.objects")?.detail.contains("row-level security is off") == true)
        #expect(finding(storage, "bucket avatars")?.detail.contains("public") == true)

        let keys = try check(report, "keys.service_role")
        #expect(keys.status == .fail)
        #expect(finding(keys, "web/.env.local:2 VITE_SUPABASE_SERVICE_KEY") != nil, "\(keys.findings)")

        let jwt = try check(report, "jwt.bypass")
        #expect(jwt.status == .fail)
        #expect(finding(jwt, "gateway GET /me")?.detail.contains("alg none") == true, "\(jwt.findings)")

        let limits = try check(report, "rate_limit")
        #expect(limits.status == .fail)
        #expect(finding(limits, "profiles/staging.yaml")?.detail == "rate_limit: disabled on an always-on profile")
        #expect(finding(limits, "gateway POST /chat")?.detail == "300 requests in a burst, none refused with 429")

        let secrets = try check(report, "secrets")
        #expect(finding(secrets, ".devstack/staging/secrets")?.detail == "mode 644: readable by other users (devstack has set it to 600 since)")
        let operations = try check(report, "operations")
        #expect(operations.status == .fail)
        #expect(finding(operations, "alerts")?.detail == "no alerts.webhook: a crash loop or a full disk on this machine goes unnoticed")
        #expect(finding(operations, "backups")?.detail == "no backups: the profile has no 'backups:', so a lost disk loses the data")
        #expect(try check(report, "manual.incident_plan").summary == "done by ana on 2026-12-01 (https://example.com/runbook)")
        #expect(try check(report, "manual.cost_alerts").status == .manual)

        let markdown = try #require(stack.directory.read("audit.md"))
        #expect(markdown.contains("# devstack audit: stack `default`, profile `staging`"))
        #expect(markdown.contains("| Row-level security, statically (`rls.static`) | fail |"))
        // The audit's own test users and rows went to a leased copy: the live database has none.
        let endpoint = try await stack.postgresEndpoint()
        let live = try await PostgresSession.with(endpoint) {
            try await $0.strings("select ((select count(*) from auth.users) + (select count(*) from public.shared))::text")
        }
        #expect(live == ["0"])
        #expect(try await stack.stop() == 0)
    }

    @Test func aRateLimitThatHoldsPasses() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack.replacingOccurrences(
                of: #"env: { PORT: "${self.port.http}" }"#, with: #"env: { PORT: "${self.port.http}", LIMIT: "25" }"#),
            profile: "ports: auto\nvalues: { rate_limit: enabled }\n", files: ["gateway.py": Self.gateway])
        defer { stack.cleanUp() }
        try await stack.waitFor("everything healthy") { $0.services.allSatisfy { $0.phase == .healthy } }
        let report = try report(try stack.devstack(["audit", "--json"]))
        let limits = try check(report, "rate_limit")
        #expect(limits.status == .pass, "\(limits.findings)")
        #expect(finding(limits, "gateway POST /chat")?.detail == "429 after 26 requests, Retry-After: 30")
        #expect(try await stack.stop() == 0)
    }

    @Test func productionGetsOnlyTheReadOnlyChecks() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack, files: ["stacks/default/migrations/001_mistakes.sql": Self.mistakes, "gateway.py": Self.gateway])
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        // The running database stands in for production's, reached by URL as a remote profile does.
        try stack.directory.write(
            "profiles/production.yaml",
            """
            remote: true
            protected: true
            values: { rate_limit: strict }
            secrets: { anon_key: "${env:PRODUCTION_ANON_KEY}" }
            env: { DATABASE_URL: null }
            services:
              db: { url: "postgresql://postgres:\(endpoint.password)@127.0.0.1:\(endpoint.port)/app" }
              gateway: { url: "http://127.0.0.1:9" }
            """)
        // An anon key of the project's own claims, signed with Supabase's published demo JWT secret
        // (the published keys themselves are refused before any check runs).
        let demoAnonKey =
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJteS1wcm9qZWN0Iiwicm9sZSI6ImFub24iLCJleHAiOjIwMDAwMDAwMDB9.sASxQfUpncSMJUO64eVl98geM5RAR6A1hsGyRzB1eVE"
        let run = try stack.devstack(["audit", "--profile", "production", "--json"], environment: ["PRODUCTION_ANON_KEY": demoAnonKey])
        let report = try report(run)
        #expect(report.mode == "read-only")
        #expect(try check(report, "rls.static").status == .fail)
        #expect(finding(try check(report, "rls.static"), "public.notes")?.status == .fail)
        #expect(try check(report, "storage.buckets").status == .fail)
        for probe in ["rls.dynamic", "jwt.bypass"] {
            #expect(try check(report, probe).status == .notChecked)
            #expect(try check(report, probe).summary.contains("is remote"))
        }
        #expect(finding(try check(report, "rate_limit"), "burst")?.detail == "not tried: profile 'production' is remote")
        #expect(finding(try check(report, "secrets"), "anon_key")?.detail == "a key signed with the Supabase demo JWT secret")
        // Nothing was written: the remote session was read-only, and no lease was taken.
        let databases = try await PostgresSession.with(endpoint.with(database: "postgres")) {
            try await $0.strings("select count(*)::text from pg_database where datname like 'app\\_lease\\_%'")
        }
        #expect(databases == ["0"])
        #expect(try await stack.stop() == 0)
    }
}
