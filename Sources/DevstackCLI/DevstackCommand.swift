import ArgumentParser

public struct DevstackCommand: AsyncParsableCommand {
    public static let version = "0.1.0"

    // Every command names itself: a derived name costs a runtime type lookup per command at every start.
    public static let configuration = CommandConfiguration(
        commandName: "devstack",
        abstract: "Bring up a Supabase-style backend on one machine as plain processes, no Docker.",
        discussion: """
            Reads stacks/<stack>/stack.yaml and profiles/<profile>.yaml from the project (the folder \
            holding stacks/, found by walking up from the current directory).

            Examples:
              devstack up                            start the default stack with the local profile
              devstack up --profile ci --detach      start in the background, return when ready
              devstack exec -- pytest                run tests with the stack's environment
              devstack down                          stop it
              devstack validate                      check the default stack under the local profile
              devstack validate --all-profiles       ... under every profile
              devstack config --explain              the resolved plan, and where each value came from
              eval "$(devstack env --profile ci)"    wire this shell to the ci profile
              devstack env --format dotenv > .env.local
              devstack schema stack > stack.schema.json

            Exit status: 0 ok, 1 failure, 2 configuration error, 3 refused by a profile's protection.
            """,
        version: version,
        subcommands: Self.platformSubcommands + [
            Up.self, Down.self, Status.self, Logs.self, Restart.self, Stop.self, Start.self, Exec.self,
            Ls.self, Reset.self, Snapshot.self, Backup.self, Db.self, ServiceCommand.self, Migrate.self, Migration.self, Migrations.self, Psql.self,
            Validate.self, Audit.self, Smoke.self, Hook.self, Doctor.self, CertificateAuthority.self, Config.self, Env.self, Init.self, Schema.self,
            Auth.self, Token.self, Login.self, Logout.self, Promote.self,
            Cache.self,
            GuardianCommand.self,
            AuthServerCommand.self,
        ]
    )

    public init() {}
}
