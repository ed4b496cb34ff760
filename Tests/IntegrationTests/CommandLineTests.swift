import DevstackCore
import DevstackTestSupport
import Foundation
import Testing

/// The configuration commands, run as a user runs them: the built binary in a project folder.
@Suite struct CommandLineTests {
    let root = DevstackBinary.packageRoot

    @Test func shippedStackValidatesUnderAllProfiles() throws {
        let result = try DevstackBinary.run(["validate", "--all-profiles"], in: root)
        #expect(result.status == 0, "\(result.standardError)")
        for profile in ["local", "ci", "staging", "production"] {
            #expect(result.standardOutput.contains("ok: stack 'default', profile '\(profile)'"))
        }
    }

    @Test func configErrorsExitTwoNameTheSpotAndWriteNothing() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write(
                "stacks/default/stack.yaml",
                "services:\n  db:\n    kind: postgress\n  web:\n    kind: process\n    command: ./web\n    depends_on: [cache]\n")
            try directory.write("profiles/local.yaml", "ports: { base: 40000 }\n")
            let result = try DevstackBinary.run(["validate"], in: directory.path)
            #expect(result.status == 2)
            #expect(result.standardError.contains("stacks/default/stack.yaml:3:11: services.db.kind: 'postgress' is not one of"))
            #expect(result.standardError.contains("fix: did you mean 'postgres'?"))
            #expect(result.standardError.contains("stacks/default/stack.yaml:7:18: services.web.depends_on[0]: unknown service 'cache'"))
            #expect(result.standardError.contains("2 errors; nothing was started."))
            #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/.devstack"))
        }
    }

    @Test func missingProfileAndStackListWhatExists() throws {
        let profile = try DevstackBinary.run(["validate", "--profile", "stagign"], in: root)
        #expect(profile.status == 2)
        #expect(profile.standardError.contains("no profile 'stagign'"))
        #expect(profile.standardError.contains("ci, local, production, staging (did you mean 'staging'?)"))
        let stack = try DevstackBinary.run(["validate", "--stack", "nope"], in: root)
        #expect(stack.status == 2)
        #expect(stack.standardError.contains("use --stack with one of: default"))
    }

    @Test func aYAMLSyntaxErrorSaysWhereTheConstructBegan() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", "services:\n  a: { kind: process, command: [\"true\",\n  b: 1\n")
            try directory.write("profiles/local.yaml", "ports: auto\n")
            let result = try DevstackBinary.run(["validate"], in: directory.path)
            #expect(result.status == 2)
            #expect(result.standardError.contains("stacks/default/stack.yaml:4:1: YAML syntax error: did not find expected ',' or ']'"))
            #expect(result.standardError.contains("(while parsing a flow sequence started at 2:32)"), "\(result.standardError)")
        }
    }

    @Test func profileComesFromTheEnvironment() throws {
        let result = try DevstackBinary.run(["validate"], in: root, environment: ["DEVSTACK_PROFILE": "staging"])
        #expect(result.standardOutput.contains("profile 'staging'"))
    }

    @Test func noProjectAboveTheCurrentFolder() async throws {
        try await withTemporaryDirectory { directory in
            let result = try DevstackBinary.run(["validate"], in: directory.path)
            #expect(result.status == 2)
            #expect(result.standardError.contains("no devstack project here"))
        }
    }

    /// `eval "$(devstack env)"` in bash gives back exactly the values, whatever they hold.
    @Test func shellEnvSurvivesHostileValues() async throws {
        let hostile = [
            "spaces and\ttabs", "it's \"quoted\"", "$HOME and ${PATH} and $(echo pwned) and `echo pwned`",
            "line one\nline two\n", "back\\slash; rm -rf / #", "ünïcödé ✓", "",
        ]
        try await withTemporaryDirectory { directory in
            var env: [String: String] = [:]
            var stack = "services:\n  web:\n    kind: process\n    command: ./web\nenv:\n"
            for (index, value) in hostile.enumerated() {
                env["HOSTILE_\(index)"] = value
                stack += "  V\(index): ${env:HOSTILE_\(index)}\n"
            }
            try directory.write("stacks/default/stack.yaml", stack)
            try directory.write("profiles/local.yaml", "ports: auto\n")
            let shell = try DevstackBinary.run(["env"], in: directory.path, environment: env)
            #expect(shell.status == 0, "\(shell.standardError)")
            for (index, value) in hostile.enumerated() {
                let script = "eval \"$(cat)\"; printf '%s' \"$V\(index)\""
                let evaluated = try evalInBash(script, input: shell.standardOutput)
                #expect(evaluated == value, "V\(index)")
            }
            let json = try DevstackBinary.run(["env", "--format", "json"], in: directory.path, environment: env)
            let decoded = try JSONDecoder().decode([String: String].self, from: Data(json.standardOutput.utf8))
            for (index, value) in hostile.enumerated() { #expect(decoded["V\(index)"] == value) }
        }
    }

    func evalInBash(_ script: String, input: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func envOfOneServiceAndSecretsStableAcrossRuns() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write(
                "stacks/default/stack.yaml",
                "services:\n  db: { kind: postgres }\n  auth: { kind: auth }\n  web:\n    kind: process\n    command: ./web\n    env: { KEY: '${auth.anon_key}', DB: '${db.url}' }\n"
            )
            try directory.write("profiles/local.yaml", "ports: { base: 41500 }\n")
            let first = try DevstackBinary.run(["env", "--service", "web", "--format", "dotenv"], in: directory.path)
            let second = try DevstackBinary.run(["env", "--service", "web", "--format", "dotenv"], in: directory.path)
            #expect(first.status == 0, "\(first.standardError)")
            #expect(first.standardOutput == second.standardOutput)
            #expect(first.standardOutput.contains("DB='postgresql://postgres:"))
            #expect(first.standardOutput.contains("@127.0.0.1:41500/db'"))
            let mode = try FileManager.default.attributesOfItem(atPath: "\(directory.path)/.devstack/local/secrets")[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let unknown = try DevstackBinary.run(["env", "--service", "wbe"], in: directory.path)
            #expect(unknown.status == 2)
            #expect(unknown.standardError.contains("did you mean 'web'?"))
        }
    }

    /// On a copy of the shipped project: `config` keeps the secrets it generates, and the checkout is no place for them.
    @Test func configAsJSONAndExplained() async throws {
        try await withTemporaryDirectory { copy in
            for folder in ["stacks", "profiles"] {
                try FileManager.default.copyItem(atPath: "\(root)/\(folder)", toPath: "\(copy.path)/\(folder)")
            }
            try configAsJSONAndExplained(in: copy.path)
        }
    }

    func configAsJSONAndExplained(in root: String) throws {
        let json = try DevstackBinary.run(["config", "--json", "--profile", "staging"], in: root)
        #expect(json.status == 0, "\(json.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        let services = object?["services"] as? [[String: Any]]
        #expect(services?.map { $0["name"] as? String } == ["db", "instant", "thinking", "db-pool", "auth", "gateway"])
        #expect((object?["profile"] as? [String: Any])?["protected"] as? Bool == true)
        let explained = try DevstackBinary.run(["config", "--explain"], in: root)
        #expect(explained.standardOutput.contains("LOG_LEVEL=debug  [stack stacks/default/stack.yaml"))
        #expect(explained.standardOutput.contains("from profiles/local.yaml"))
        #expect(explained.standardOutput.contains("start order: db, instant, thinking → db-pool, auth → gateway"))
    }

    @Test func initScaffoldsAValidProjectAndNeverOverwrites() async throws {
        try await withTemporaryDirectory { directory in
            let first = try DevstackBinary.run(["init"], in: directory.path)
            #expect(first.status == 0, "\(first.standardError)")
            #expect(first.standardOutput.contains("created stacks/default/stack.yaml"))
            let validate = try DevstackBinary.run(["validate", "--all-profiles"], in: directory.path)
            #expect(validate.status == 0, "\(validate.standardError)")
            try directory.write("profiles/local.yaml", "# mine\nports: { base: 42000 }\n")
            let second = try DevstackBinary.run(["init"], in: directory.path)
            #expect(second.status != 0)
            #expect(second.standardError.contains("would overwrite"))
            #expect(directory.read("profiles/local.yaml") == "# mine\nports: { base: 42000 }\n")
        }
    }

    @Test func schemaVersionAndHelp() async throws {
        let schema = try DevstackBinary.run(["schema", "profile"], in: root)
        #expect(try JSONSerialization.jsonObject(with: Data(schema.standardOutput.utf8)) is [String: Any])
        try await withTemporaryDirectory { directory in
            let written = try DevstackBinary.run(["schema", "--write", "\(directory.path)/schema"], in: root)
            #expect(written.status == 0)
            #expect(directory.read("schema/stack.json")?.contains("\"kind\"") == true)
        }
        let version = try DevstackBinary.run(["--version"], in: root)
        #expect(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try DevstackBinary.run(["--help"], in: root)
        #expect(help.standardOutput.contains("Examples:"))
        let completion = try DevstackBinary.run(["--generate-completion-script", "bash"], in: root)
        #expect(completion.standardOutput.contains("_devstack"))
    }
}
