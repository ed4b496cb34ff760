import DevstackCore
import DevstackPostgres
import Foundation

/// Everything the auth emulator process needs, handed over by the driver as a 0600 JSON file.
public struct AuthConfiguration: Codable, Sendable {
    public var service: String
    public var host: String
    public var port: Int
    /// What clients are given (`${auth.url}`); the issuer of tokens is this plus `/auth/v1`.
    public var externalURL: String
    /// The Postgres service keeping the users (its private socket when there is one).
    public var database: PostgresSession.Endpoint
    public var jwtSecret: String
    public var jwtExpirySeconds: Int
    public var siteURL: String
    public var uriAllowList: [String]
    public var disableSignup: Bool
    public var mailerAutoconfirm: Bool
    public var smsAutoconfirm: Bool
    public var emailEnabled: Bool
    public var phoneEnabled: Bool
    public var anonymousEnabled: Bool
    public var passwordMinLength: Int
    public var bcryptCost: Int
    public var rateLimit: Bool
    public var logLevel: String

    public init(
        service: String, host: String, port: Int, externalURL: String, database: PostgresSession.Endpoint, jwtSecret: String, jwtExpirySeconds: Int = 3600,
        siteURL: String = "http://127.0.0.1:3000", uriAllowList: [String] = [], disableSignup: Bool = false, mailerAutoconfirm: Bool = true,
        smsAutoconfirm: Bool = true, emailEnabled: Bool = true, phoneEnabled: Bool = true, anonymousEnabled: Bool = false,
        passwordMinLength: Int = 6, bcryptCost: Int = 10, rateLimit: Bool = false, logLevel: String = "info"
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.externalURL = externalURL
        self.database = database
        self.jwtSecret = jwtSecret
        self.jwtExpirySeconds = jwtExpirySeconds
        self.siteURL = siteURL
        self.uriAllowList = uriAllowList
        self.disableSignup = disableSignup
        self.mailerAutoconfirm = mailerAutoconfirm
        self.smsAutoconfirm = smsAutoconfirm
        self.emailEnabled = emailEnabled
        self.phoneEnabled = phoneEnabled
        self.anonymousEnabled = anonymousEnabled
        self.passwordMinLength = passwordMinLength
        self.bcryptCost = bcryptCost
        self.rateLimit = rateLimit
        self.logLevel = logLevel
    }

    /// From the plan: the auth service's settings and the Postgres service that keeps its users.
    public init(service: PlannedService, plan: Plan) throws {
        let databaseService: PlannedService? = {
            if let name = service.setting("database")?.description { return plan.service(named: name) }
            return plan.services.first { $0.kind == .postgres }
        }()
        guard let db = databaseService, let endpoint = PostgresDriver.endpoint(db) else {
            throw AuthError.configuration("\(service.name): no postgres service to keep users in")
        }
        guard let ownPort = service.primaryPort else { throw AuthError.configuration("\(service.name) has no port") }
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
        var allowList: [String] = []
        if case .list(let values)? = service.setting("uri_allow_list") { allowList = values }
        self.init(
            service: service.name, host: plan.profile.host, port: ownPort,
            externalURL: service.attributes["url"] ?? "http://127.0.0.1:\(ownPort)",
            database: endpoint,
            jwtSecret: plan.secrets["jwt_secret"] ?? "", jwtExpirySeconds: expiry,
            siteURL: service.setting("site_url")?.description ?? "http://127.0.0.1:3000", uriAllowList: allowList,
            disableSignup: bool("disable_signup", false), mailerAutoconfirm: bool("mailer_autoconfirm", true),
            smsAutoconfirm: bool("sms_autoconfirm", true), emailEnabled: bool("external_email_enabled", true),
            phoneEnabled: bool("external_phone_enabled", true), anonymousEnabled: bool("external_anonymous_users_enabled", false),
            passwordMinLength: int("password_min_length", 6), bcryptCost: int("bcrypt_cost", 10), rateLimit: bool("rate_limit", false),
            logLevel: plan.profile.values.first { $0.name == "log_level" }?.value ?? "info")
    }

    /// `iss` of the tokens, as GoTrue behind Supabase's gateway writes it.
    public var issuer: String { externalURL + "/auth/v1" }
}
