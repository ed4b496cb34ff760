import AsyncHTTPClient
import AuthEmulator
import DevstackCore
import DevstackDriverKit
import DevstackPostgres
import DevstackSystem
import Foundation

/// `kind: auth`: devstack runs itself (`devstack __auth-server`) with the service's configuration.
public struct AuthDriver: ServiceDriver {
    public init() {}

    public func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        var configuration = try AuthConfiguration(service: service, plan: context.plan)
        let folder = "\(context.plan.stateDirectory)/auth"
        try StateDirectory.create(folder)
        if let algorithm = service.setting("signing_keys").flatMap({ SigningKeyRing.Algorithm(rawValue: $0.description) }) {
            let file = Self.signingKeysFile(service, plan: context.plan)
            _ = try SigningKeyRing.prepare(file: file, algorithm: algorithm)
            configuration.signingKeysFile = file
        }
        let file = "\(folder)/\(service.name).json"
        // Holds the JWT secret and the database password: readable by devstack's user only, from its first byte.
        if let failure = StateDirectory.replace(file, with: try JSONEncoder().encode(configuration), durable: false) {
            throw SystemError(.stateDirectory, "\(failure) (for \(service.name))", fix: "check that \(folder) is writable")
        }
        return .process(
            LaunchSpec(
                executable: SelfInvocation.authServer(configurationFile: file).executable,
                arguments: SelfInvocation.authServer(configurationFile: file).arguments,
                environment: context.environment.merging(service.environment) { $1 }, workingDirectory: context.plan.projectDirectory))
    }

    /// Where a service's asymmetric signing keys are kept: with the profile's secrets, 0600.
    public static func signingKeysFile(_ service: PlannedService, plan: Plan) -> String {
        "\(plan.stateDirectory)/auth/\(service.name)-signing-keys.json"
    }

    public func isReady(_ service: PlannedService, context: DriverContext) async -> Bool {
        await HealthProbe.healthRouteAnswers(service)
    }

    /// Users live in Postgres (its reset wipes them); here the inbox and rate-limit counters go.
    public func reset(_ service: PlannedService, context: DriverContext, to snapshot: String?) async throws -> ResetOutcome? {
        guard let port = service.primaryPort else { return nil }
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: "http://\(service.attributes["host"] ?? "127.0.0.1"):\(port)/__devstack/reset")
        request.method = .POST
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 16)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Int] ?? [:]
        let messages = object["messages"] ?? 0
        return ResetOutcome(
            service: service.name, summary: "inbox (\(messages) messages) and rate limits cleared",
            milliseconds: Int((ContinuousClock.now - started).milliseconds), details: ["messages": String(messages)])
    }
}

extension AuthConfiguration {
    /// From the plan: the auth service's settings and the Postgres service that keeps its users.
    init(service: PlannedService, plan: Plan) throws {
        let databaseService: PlannedService? = {
            if let name = service.setting("database")?.description { return plan.service(named: name) }
            return plan.services.first { $0.kind == .postgres }
        }()
        guard let db = databaseService, let endpoint = PostgresSession.Endpoint.of(db) else {
            throw SystemError(.launchFailed, "\(service.name): no postgres service to keep users in")
        }
        guard let ownPort = service.primaryPort else { throw SystemError(.launchFailed, "\(service.name) has no port") }
        func bool(_ key: String, _ fallback: Bool) -> Bool {
            if case .bool(let value)? = service.setting(key) { return value }
            return fallback
        }
        func int(_ key: String, _ fallback: Int) -> Int {
            if case .int(let value)? = service.setting(key) { return value }
            return fallback
        }
        var expiry = 3600
        if case .duration(let value)? = service.setting("jwt_exp") { expiry = max(1, Int(value.components.seconds)) }
        func list(_ key: String) -> [String] {
            if case .list(let values)? = service.setting(key) { return values }
            return []
        }
        self.init(
            service: service.name, host: plan.profile.host, port: ownPort,
            externalURL: service.attributes["url"] ?? "http://127.0.0.1:\(ownPort)",
            database: Database(
                host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database: endpoint.database,
                socketDirectory: endpoint.socketDirectory),
            jwtSecret: service.attributes["jwt_secret"] ?? "", jwtExpirySeconds: expiry,
            siteURL: service.setting("site_url")?.description ?? "http://127.0.0.1:3000", uriAllowList: list("uri_allow_list"),
            disableSignup: bool("disable_signup", false), mailerAutoconfirm: bool("mailer_autoconfirm", true),
            smsAutoconfirm: bool("sms_autoconfirm", true), emailEnabled: bool("external_email_enabled", true),
            phoneEnabled: bool("external_phone_enabled", true), anonymousEnabled: bool("external_anonymous_users_enabled", false),
            passwordMinLength: int("password_min_length", 6), bcryptCost: int("bcrypt_cost", 10), rateLimit: bool("rate_limit", false),
            mfaTOTPEnabled: bool("mfa_totp_enroll_enabled", true), mfaPhoneEnabled: bool("mfa_phone_enroll_enabled", false),
            mfaMaxEnrolledFactors: int("mfa_max_enrolled_factors", 10), securePasswordChange: bool("secure_password_change", false),
            externalProviders: OAuthProviders.names.filter { bool("external_\($0)_enabled", false) }, fakeIdentities: list("oauth_identities"),
            logLevel: plan.profile.values.first { $0.name == "log_level" }?.value ?? "info")
    }
}
