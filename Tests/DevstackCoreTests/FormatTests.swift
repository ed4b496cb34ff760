import DevstackCore
import DevstackTestSupport
import Foundation
import Testing

@Suite struct FormatTests {
    @Test func shellQuotingSurvivesHostileValues() {
        #expect(EnvFormat.shellQuoted("plain") == "'plain'")
        #expect(EnvFormat.shellQuoted("it's") == "'it'\\''s'")
        let rendered = EnvFormat.shell.render([
            PlannedValue(name: "A", value: "x y", origin: ValueOrigin(.default)),
            PlannedValue(name: "B", value: "$(rm -rf /)", origin: ValueOrigin(.default)),
        ])
        #expect(rendered == "export A='x y'\nexport B='$(rm -rf /)'\n")
    }

    @Test func dotenvAndJSON() throws {
        let values = [
            PlannedValue(name: "A", value: "simple", origin: ValueOrigin(.default)),
            PlannedValue(name: "B", value: "line1\nit's \"q\" $X", origin: ValueOrigin(.default)),
        ]
        #expect(EnvFormat.dotenv.render(values) == "A='simple'\nB=\"line1\\nit's \\\"q\\\" \\$X\"\n")
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(EnvFormat.json.render(values).utf8))
        #expect(decoded == ["A": "simple", "B": "line1\nit's \"q\" $X"])
    }

    @Test func schemaCoversEveryKindAndKey() throws {
        for document in ConfigSchema.Document.allCases {
            let text = ConfigSchema.json(for: document)
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            #expect(object?["$schema"] as? String == "http://json-schema.org/draft-07/schema#")
        }
        let stack = ConfigSchema.json(for: .stack)
        for kind in ServiceKind.declarable {
            #expect(stack.contains("\"const\" : \"\(kind.rawValue)\""))
            for key in kind.settingKeys { #expect(stack.contains("\"\(key.name)\""), "\(key.name)") }
        }
    }

    @Test func secretsAreMaskedUnlessRevealed() async throws {
        try await withTemporaryDirectory { directory in
            let project = try TestProject(
                directory: directory, stack: "services:\n  db: { kind: postgres }\nenv:\n  URL: ${db.url}\n",
                profiles: ["local": "ports: { base: 41000 }\n"])
            let plan = try project.plan()
            let secrets = Set(plan.secrets.values)
            let masked = PlanRenderer(explain: true, revealSecrets: false, secretValues: secrets)
            #expect(!masked.render(plan).contains("pg-password"))
            #expect(!masked.json(plan).contains("pg-password"))
            #expect(PlanRenderer(explain: false, revealSecrets: true, secretValues: secrets).render(plan).contains("pg-password"))
        }
    }
}

/// The stack this repository ships must always be valid, under every profile.
@Suite struct ShippedStackTests {
    @Test(arguments: ["local", "ci", "staging", "production"])
    func validatesUnder(_ profile: String) throws {
        let project = try ProjectLoader.load(projectDirectory: DevstackBinary.packageRoot, stack: "default", profile: profile)
        var secrets = TestProject.fixedSecrets
        for (name, entry) in try Planner.requestedSecrets(project: project, environment: [:]) {
            secrets.values[name] = entry.value
        }
        let plan = try Planner(
            inputs: PlanInputs(
                project: project, environment: [:], secrets: secrets,
                paths: PlanPaths(projectDirectory: DevstackBinary.packageRoot, binDirectory: "/bin", runtimeRoot: "/tmp/devstack-test-runtime"),
                portAllocator: { avoiding in (48000...65535).first { !avoiding.contains($0) } })
        ).plan()
        #expect(plan.services.map(\.name).sorted() == ["auth", "db", "db-pool", "gateway", "instant", "thinking"])
        let env = plan.service(named: "gateway")?.environment ?? [:]
        for name in ["SUPABASE_URL", "SUPABASE_KEY", "SUPABASE_ANON_KEY", "INSTANT_URL", "THINK_URL", "LOG_LEVEL", "RATE_LIMIT"] {
            #expect(env[name] != nil, "\(profile): gateway lacks \(name)")
        }
        let expected = [
            "local": ("debug", "disabled"), "ci": ("debug", "disabled"), "staging": ("info", "enabled"), "production": ("warn", "strict"),
        ]
        #expect(env["LOG_LEVEL"] == expected[profile]?.0)
        #expect(env["RATE_LIMIT"] == expected[profile]?.1)
        if profile == "production" {
            // Rule 2: production secrets are never wired locally.
            #expect(env["SERVICE_KEY"] == nil && env["DATABASE_URL"] == nil && env["SUPABASE_SERVICE_ROLE_KEY"] == nil)
            #expect(plan.profile.remote)
        } else {
            #expect(env["SERVICE_KEY"] == "service.role.key")
            #expect(env["DATABASE_URL"]?.hasPrefix("postgresql://postgres:") == true)
        }
        if profile == "local" {
            #expect(env["SUPABASE_URL"] == "http://127.0.0.1:54321")
        }
    }
}
