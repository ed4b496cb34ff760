import Foundation

/// GoTrue's external providers, each offered through the auth emulator's fake sign-in page when enabled.
public enum OAuthProviders {
    public static let names = [
        "apple", "azure", "bitbucket", "discord", "facebook", "figma", "github", "gitlab", "google", "kakao", "keycloak", "linkedin_oidc",
        "notion", "slack_oidc", "spotify", "twitch", "twitter", "workos", "zoom",
    ]
}

/// `kind: auth`: the GoTrue-compatible auth emulator, keeping its users in a postgres service.
struct AuthKind: KindDescriptor, CrossServiceCheck {
    let kind = ServiceKind.auth
    let defaultPorts = ["http"]
    let settingKeys =
        [
            SettingKey("database", .string, "the postgres service holding auth.users (default: the only one)"),
            SettingKey("jwt_exp", .duration, "access token lifetime"),
            SettingKey("own_jwt_secret", .bool, "sign with a JWT secret and API keys of its own instead of the stack's"),
            SettingKey(
                "signing_keys", .choice(["HS256", "RS256", "ES256"]),
                "what signs access tokens: the stack's secret, or a key pair published in the JWKS"),
            SettingKey("site_url", .string, "default redirect target"),
            SettingKey("uri_allow_list", .list, "redirect_to values accepted besides site_url"),
            SettingKey("disable_signup", .bool, "refuse new sign-ups"),
            SettingKey("mailer_autoconfirm", .bool, "confirm e-mail sign-ups without a link"),
            SettingKey("sms_autoconfirm", .bool, "confirm phone sign-ups without a code"),
            SettingKey("external_email_enabled", .bool, "allow e-mail sign-up and sign-in"),
            SettingKey("external_phone_enabled", .bool, "allow phone sign-up and sign-in"),
            SettingKey("external_anonymous_users_enabled", .bool, "allow anonymous sign-ins"),
            SettingKey("password_min_length", .int(1...72), "shortest password accepted"),
            SettingKey("bcrypt_cost", .int(4...31), "bcrypt cost of new password hashes"),
            SettingKey("rate_limit", .bool, "enforce GoTrue's rate limits"),
            SettingKey("mfa_totp_enroll_enabled", .bool, "allow enrolling TOTP factors"),
            SettingKey("mfa_phone_enroll_enabled", .bool, "allow enrolling phone factors (codes go to the inbox)"),
            SettingKey("secure_password_change", .bool, "a password change needs a reauthentication nonce unless signed in within a day"),
            SettingKey("oauth_identities", .list, "e-mail addresses the fake provider page offers for a click"),
            SettingKey("mfa_max_enrolled_factors", .int(1...100), "most verified factors a user may have"),
        ] + OAuthProviders.names.map { SettingKey("external_\($0)_enabled", .bool, "offer sign-in with \($0) through the fake provider page") }
    let attributeNames = ["url", "anon_key", "service_role_key", "jwt_secret"]
    let productionOnlyAttributes: Set<String> = ["service_role_key", "jwt_secret"]

    func secret(behind attribute: String) -> String? { ["anon_key", "service_role_key", "jwt_secret"].contains(attribute) ? attribute : nil }

    /// The secrets' names for this service: its own (`<service>.jwt_secret` …) with `own_jwt_secret: true`, else the stack's.
    static func secretScope(_ service: KindAttributeInputs) -> String {
        service.setting("own_jwt_secret") == "true" ? "\(service.name)." : ""
    }

    func attributes(_ service: KindAttributeInputs) -> [String: String] {
        let scope = Self.secretScope(service)
        var attributes: [String: String] = [:]
        attributes["url"] = service.baseURL
        for name in ["anon_key", "service_role_key", "jwt_secret"] { attributes[name] = service.secrets[scope + name] }
        return attributes
    }

    func remoteAttributes(_ url: URLComponents, secrets: [String: String]) -> [String: String] {
        secrets["anon_key"].map { ["anon_key": $0] } ?? [:]
    }

    /// Its users live in a postgres service of the same stack: the named one, or the only one.
    func validate(_ spec: ServiceSpec, settings: [String: PlannedSetting], in planner: Planner) {
        planner.checkDatabaseReference(spec, settings: settings)
    }
}
