import DevstackHTTP
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// The auth emulator process: its Postgres pool and HTTP server, stopped gracefully on SIGTERM or SIGINT.
public enum AuthService {
    public static func run(configurationFile: String) async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: configurationFile))
        let configuration = try JSONDecoder().decode(AuthConfiguration.self, from: data)
        var logger = Logger(label: "auth")
        logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
        var postgres = configuration.database.poolConfiguration
        postgres.options.maximumConnections = 20
        let client = PostgresClient(configuration: postgres, backgroundLogger: logger)
        let server = try await AuthServer(configuration: configuration, client: client, logger: logger)
        let application = Application(
            router: server.router(), server: .devstack(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "devstack-auth"), logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: client), .init(service: application)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
