import Foundation
import PostgresNIO

/// Everything the auth emulator process needs, handed over by the driver as a 0600 JSON file.
public struct AuthConfiguration: Codable, Sendable {
    public var service: String
    public var host: String
    public var port: Int
    /// What clients are given (`${auth.url}`); the issuer of tokens is this plus `/auth/v1`.
    public var externalURL: String
    /// The Postgres service keeping the users (its private socket when there is one).
    public var database: Database
    public var jwtSecret: String
    /// The asymmetric key ring (`signing_keys: RS256|ES256`); nil signs with `jwtSecret`.
    public var signingKeysFile: String?
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
    public var mfaTOTPEnabled: Bool
    public var mfaPhoneEnabled: Bool
    public var mfaMaxEnrolledFactors: Int
    /// A password change needs a nonce from `GET /reauthenticate` unless the session signed in within a day.
    public var securePasswordChange: Bool
    /// OAuth providers offered through the emulator's own sign-in page (`external_<provider>_enabled`).
    public var externalProviders: [String]
    /// The identities that page lists for a click.
    public var fakeIdentities: [String]
    public var logLevel: String

    public init(
        service: String, host: String, port: Int, externalURL: String, database: Database, jwtSecret: String, signingKeysFile: String? = nil,
        jwtExpirySeconds: Int = 3600,
        siteURL: String = "http://127.0.0.1:3000", uriAllowList: [String] = [], disableSignup: Bool = false, mailerAutoconfirm: Bool = true,
        smsAutoconfirm: Bool = true, emailEnabled: Bool = true, phoneEnabled: Bool = true, anonymousEnabled: Bool = false,
        passwordMinLength: Int = 6, bcryptCost: Int = 10, rateLimit: Bool = false, mfaTOTPEnabled: Bool = true, mfaPhoneEnabled: Bool = false,
        mfaMaxEnrolledFactors: Int = 10, securePasswordChange: Bool = false, externalProviders: [String] = [], fakeIdentities: [String] = [],
        logLevel: String = "info"
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.externalURL = externalURL
        self.database = database
        self.jwtSecret = jwtSecret
        self.signingKeysFile = signingKeysFile
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
        self.mfaTOTPEnabled = mfaTOTPEnabled
        self.mfaPhoneEnabled = mfaPhoneEnabled
        self.mfaMaxEnrolledFactors = mfaMaxEnrolledFactors
        self.securePasswordChange = securePasswordChange
        self.externalProviders = externalProviders
        self.fakeIdentities = fakeIdentities
        self.logLevel = logLevel
    }

    /// `iss` of the tokens, as GoTrue behind Supabase's gateway writes it.
    public var issuer: String { externalURL + "/auth/v1" }

    /// Where the users live: the auth emulator's own view of a Postgres endpoint.
    public struct Database: Codable, Sendable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String
        public var database: String
        /// The server's private Unix socket folder, preferred when there is one.
        public var socketDirectory: String?

        public init(host: String, port: Int, user: String, password: String, database: String, socketDirectory: String?) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.socketDirectory = socketDirectory
        }

        /// A connection pool on it.
        var poolConfiguration: PostgresClient.Configuration {
            socketDirectory.map { .init(unixSocketPath: "\($0)/.s.PGSQL.\(port)", username: user, password: password, database: database) }
                ?? .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
    }
}
