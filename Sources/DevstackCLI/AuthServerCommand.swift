import ArgumentParser
import AuthEmulator

/// The auth emulator's process: `kind: auth` services run devstack itself with this (hidden).
struct AuthServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__auth-server", shouldDisplay: false)

    @Option(help: "The service's configuration, written by devstack.")
    var config: String

    func run() async throws {
        try await AuthService.run(configurationFile: config)
    }
}
