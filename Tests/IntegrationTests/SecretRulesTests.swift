import DevstackTestSupport
import Foundation
import Testing

/// Production secrets never in local files: what a production profile is given is fingerprinted in
/// the user's configuration folder (never the value), then found in the project's files by
/// `doctor secrets` and `validate`, and stopped at the commit by the pre-commit hook.
@Suite(.serialized) struct SecretRulesTests {
    static let stack = """
        services:
          db: { kind: postgres, database: app }
        env:
          DATABASE_URL: ${db.url}
          SERVICE_KEY: ${secret.service_role_key}
        """
    static let serviceKey = "prod-service-key-8f3a91c2d7e4b605"
    static let databasePassword = "prod-db-password-61b2c9"

    @Test func aFingerprintedSecretIsFoundInFilesAndBlockedAtTheCommit() throws {
        let directory = try TemporaryDirectory(prefix: "devstack-secrets")
        defer { directory.remove() }
        let config = try TemporaryDirectory(prefix: "devstack-config")
        defer { config.remove() }
        try directory.write("stacks/default/stack.yaml", Self.stack)
        try directory.write("profiles/local.yaml", "ports: auto\n")
        let remote = """
            remote: true
            secrets: { service_role_key: "${env:PROD_SERVICE_KEY}" }
            services:
              db: { url: "${env:PROD_DB_URL}" }
            """
        try directory.write("profiles/production.yaml", "environment: production\n" + remote + "\nenv: { DATABASE_URL: null, SERVICE_KEY: null }\n")
        try directory.write("profiles/managed.yaml", "environment: staging\n" + remote + "\n")
        let environment = [
            "DEVSTACK_CONFIG_DIR": config.path, "PROD_SERVICE_KEY": Self.serviceKey,
            "PROD_DB_URL": "postgresql://postgres:\(Self.databasePassword)@db.example.com:5432/postgres",
        ]
        func devstack(_ arguments: [String]) throws -> DevstackBinary.Result {
            try DevstackBinary.run(arguments, in: directory.path, environment: environment)
        }

        // A production command is given the secrets: their fingerprints are kept, the values are not.
        #expect(try devstack(["env", "--profile", "production", "--public"]).status == 0)
        let stored = try #require(config.read("fingerprints.json"))
        #expect(stored.contains("service_role_key") && stored.contains("db URL password"), "\(stored)")
        #expect(!stored.contains(Self.serviceKey) && !stored.contains(Self.databasePassword))
        let mode = try FileManager.default.attributesOfItem(atPath: "\(config.path)/fingerprints.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try devstack(["doctor", "secrets"]).status == 0)

        // A file with either value is found, by file and line, and validation fails.
        try directory.write("web/.env.local", "VITE_URL=http://127.0.0.1:54321\nSERVICE_KEY=\"\(Self.serviceKey)\"\n")
        try directory.write(".env", "DATABASE_URL=postgresql://postgres:\(Self.databasePassword)@db.example.com/postgres\n")
        let doctor = try devstack(["doctor", "secrets"])
        #expect(doctor.status == 1)
        #expect(doctor.standardOutput.contains("web/.env.local:2: holds service_role_key, a secret of production profile 'production'"))
        #expect(doctor.standardOutput.contains(".env:1: holds db URL password"), "\(doctor.standardOutput)")
        let validate = try devstack(["validate"])
        #expect(validate.status == 2)
        #expect(validate.standardError.contains("web/.env.local:2: holds service_role_key"))

        // A remote profile's keys are never written into a dotenv file (the shell form, for this process, has them).
        #expect(try devstack(["env", "--profile", "managed"]).standardOutput.contains(Self.serviceKey))
        let dotenv = try devstack(["env", "--profile", "managed", "--format", "dotenv"]).standardOutput
        #expect(!dotenv.contains(Self.serviceKey) && !dotenv.contains(Self.databasePassword), "\(dotenv)")

        // The pre-commit hook stops the commit that carries one.
        func git(_ arguments: [String]) throws -> DevstackBinary.Result {
            try DevstackBinary.runProcess(
                "/usr/bin/env", ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"] + arguments, in: directory.path,
                environment: environment)
        }
        #expect(try git(["init", "-q"]).status == 0)
        let installed = try devstack(["hook", "install"])
        #expect(installed.status == 0, "\(installed.standardError)")
        #expect(try git(["add", "web/.env.local"]).status == 0)
        let blocked = try git(["commit", "-q", "-m", "leak"])
        #expect(blocked.status != 0)
        #expect((blocked.standardOutput + blocked.standardError).contains("web/.env.local:2: holds service_role_key"), "\(blocked)")
        #expect(try git(["rm", "-q", "--cached", "web/.env.local"]).status == 0)
        #expect(try git(["add", "stacks/default/stack.yaml"]).status == 0)
        let clean = try git(["commit", "-q", "-m", "stack"])
        #expect(clean.status == 0, "\(clean.standardError)")
        // Another tool's hook is left alone.
        try directory.write(".git/hooks/pre-commit", "#!/bin/sh\nexit 0\n")
        #expect(try devstack(["hook", "install"]).status != 0)
    }
}
