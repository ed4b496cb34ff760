import DevstackHTTP
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

enum GatewayMain {
    static func run() async {
        do {
            let configuration = try GatewayConfiguration(environment: ProcessInfo.processInfo.environment)
            var logger = Logger(label: "gateway")
            logger.logLevel = configuration.logLevel
            let database = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
            let gateway = await Gateway(configuration: configuration, database: database, logger: logger)
            let application = Application(
                router: gateway.router(), server: .devstack(),
                configuration: .init(address: .hostname("127.0.0.1", port: configuration.port), serverName: "example-gateway"),
                logger: logger)
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: database), .init(service: application)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        } catch {
            FileHandle.standardError.write(Data("gateway: \(error)\n".utf8))
            exit(1)
        }
    }
}

/// Everything the gateway reads from its environment, checked at start.
struct GatewayConfiguration {
    var port: Int
    var database: PostgresClient.Configuration
    var jwtSecret: String
    /// Where the auth service publishes its public keys; needed only when it signs with a key pair.
    var jwksURL: String?
    var instantURL: String
    var thinkURL: String
    var logLevel: Logger.Level
    var rateLimit: RateLimit

    enum RateLimit: String {
        case disabled, enabled, strict
        /// Requests per user per minute; nil for no limit.
        var budget: Int? {
            switch self {
            case .disabled: return nil
            case .enabled: return 60
            case .strict: return 10
            }
        }
    }

    struct Missing: Error, CustomStringConvertible {
        let name: String
        let hint: String
        var description: String { "\(name) is not set or not valid: \(hint)" }
    }

    init(environment: [String: String]) throws {
        func require(_ name: String, _ hint: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else { throw Missing(name: name, hint: hint) }
            return value
        }
        guard let port = Int(try require("PORT", "the port to listen on")) else { throw Missing(name: "PORT", hint: "a number") }
        self.port = port
        let url = try require("DATABASE_URL", "postgresql://user:password@host:port/database")
        guard let components = URLComponents(string: url), let host = components.host else {
            throw Missing(name: "DATABASE_URL", hint: "postgresql://user:password@host:port/database")
        }
        database = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.percentEncodedPassword?.removingPercentEncoding, database: String(components.path.dropFirst()), tls: .disable)
        jwtSecret = try require("SUPABASE_JWT_SECRET", "the JWT secret that signs Supabase access tokens")
        jwksURL = environment["SUPABASE_JWKS_URL"].flatMap { $0.isEmpty ? nil : $0 }
        instantURL = try require("INSTANT_URL", "the OpenAI-style base URL of the instant model")
        thinkURL = try require("THINK_URL", "the OpenAI-style base URL of the thinking model")
        logLevel = Logger.Level(rawValue: environment["LOG_LEVEL"]?.lowercased() ?? "info") ?? .info
        guard let limit = RateLimit(rawValue: environment["RATE_LIMIT"]?.lowercased() ?? "disabled") else {
            throw Missing(name: "RATE_LIMIT", hint: "disabled, enabled or strict")
        }
        rateLimit = limit
    }
}
