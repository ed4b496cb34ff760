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

extension AuthService {
    /// An emulator of its own on `configuration`'s port for the length of `body` (`devstack audit` makes
    /// its test users through one on a leased database, never the stack's), then stopped.
    /// `body` gets the emulator's base URL (`…/auth/v1`) once it answers.
    public static func withScratchServer<T: Sendable>(
        configuration: AuthConfiguration, _ body: @Sendable (String) async throws -> T
    ) async throws -> T {
        let logger = Logger(label: "auth-scratch", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = PostgresClient(configuration: configuration.database.poolConfiguration, backgroundLogger: logger)
        let server = try await AuthServer(configuration: configuration, client: client, logger: logger)
        let (ready, readyContinuation) = AsyncStream<Void>.makeStream()
        let application = Application(
            router: server.router(), server: .devstack(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "devstack-auth"),
            onServerRunning: { _ in readyContinuation.yield() }, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: client), .init(service: application)], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { readyContinuation.finish() }
                try await group.run()
            }
            var started = false
            for await _ in ready {
                started = true
                break
            }
            guard started else {
                try await tasks.waitForAll()
                throw CancellationError()
            }
            do {
                let value = try await body("http://\(configuration.host):\(configuration.port)/auth/v1")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return value
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}
