import ArgumentParser
import AuthEmulator
import DevstackSystem

/// The auth emulator's process: `kind: auth` services run devstack itself with this (hidden).
struct AuthServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: SelfInvocation.authServerCommand, shouldDisplay: false)

    @Option(name: .customLong(SelfInvocation.configurationOption), help: "The service's configuration, written by devstack.")
    var config: String

    func run() async throws {
        try await AuthService.run(configurationFile: config)
    }
}
