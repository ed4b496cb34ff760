import Crypto
import CryptoExtras
import DevstackCore
import Foundation
import JWTKit

/// The claims of a Supabase access token, as the audit mints them for probes.
struct ProbeClaims: JWTPayload {
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var iss: IssuerClaim
    var role: String
    var email: String

    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// A signed-in user's claims, valid for five minutes; `expired` moves them an hour back.
    static func user(issuer: String, audience: String = "authenticated", expired: Bool = false) -> ProbeClaims {
        let now = Date().addingTimeInterval(expired ? -3600 : 0)
        let id = UUID().uuidString.lowercased()
        return ProbeClaims(
            sub: .init(value: id), aud: .init(value: [audience]), exp: .init(value: now.addingTimeInterval(300)), iat: .init(value: now),
            iss: .init(value: issuer), role: "authenticated", email: "devstack-audit-\(id.prefix(8))@example.com")
    }
}

/// Tokens for the bypass probes: one a service must accept, and the forgeries it must refuse.
struct TokenForge: Sendable {
    let secret: String
    let issuer: String

    func signed(_ claims: ProbeClaims, secret key: String? = nil, kid: String? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: key ?? secret), digestAlgorithm: .sha256)
        var header = JWTHeader()
        header.kid = kid
        return try await keys.sign(claims, header: header)
    }

    func valid() async throws -> String { try await signed(.user(issuer: issuer)) }

    /// The forgeries, by what each is. `publicKeys`: PEMs and JWKs the auth service publishes, for
    /// the RS256/ES256 → HS256 confusion (a verifier taking the public key as an HMAC secret).
    func forgeries(publicKeys: [(kid: String?, text: String)]) async throws -> [(String, String?)] {
        let claims = ProbeClaims.user(issuer: issuer)
        let good = try await signed(claims)
        let parts = good.split(separator: ".").map(String.init)
        var tampered = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(claims)) as? [String: Any] ?? [:]
        tampered["role"] = "service_role"
        tampered["sub"] = UUID().uuidString.lowercased()
        var forged: [(String, String?)] = [
            ("no token", nil),
            ("alg none", "\(Self.base64URL(#"{"alg":"none","typ":"JWT"}"#.utf8)).\(parts[1])."),
            ("signed with another key", try await signed(claims, secret: RandomHex.of(bytes: 32))),
            ("expired", try await signed(.user(issuer: issuer, expired: true))),
            ("wrong audience", try await signed(.user(issuer: issuer, audience: "someone-else"))),
            ("payload changed, signature kept", "\(parts[0]).\(Self.base64URL(try JSONSerialization.data(withJSONObject: tampered))).\(parts[2])"),
        ]
        for (index, key) in publicKeys.enumerated() {
            forged.append(("HS256 with the published key \(index + 1) as its secret", try await signed(claims, secret: key.text, kid: key.kid)))
        }
        return forged
    }

    static func base64URL<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func data(base64URL text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// The auth service's published keys as a confused verifier would read them: the PEM and the JWK text.
    static func publicKeyTexts(jwks: [String: Any]) -> [(kid: String?, text: String)] {
        var texts: [(String?, String)] = []
        for key in jwks["keys"] as? [[String: Any]] ?? [] {
            let kid = key["kid"] as? String
            if let json = try? JSONSerialization.data(withJSONObject: key, options: [.sortedKeys]) {
                texts.append((kid, String(decoding: json, as: UTF8.self)))
            }
            func data(_ name: String) -> Data? { (key[name] as? String).flatMap { TokenForge.data(base64URL: $0) } }
            if key["kty"] as? String == "RSA", let n = data("n"), let e = data("e"),
                let pem = try? _RSA.Signing.PublicKey(n: n, e: e).pemRepresentation
            {
                texts.append((kid, pem))
            }
            if key["kty"] as? String == "EC", let x = data("x"), let y = data("y"),
                let pem = try? P256.Signing.PublicKey(x963Representation: Data([4]) + x + y).pemRepresentation
            {
                texts.append((kid, pem))
            }
        }
        return texts
    }
}

/// Every service that declares `auth: jwt` is sent a valid token (which must pass, or the probes
/// prove nothing) and each forgery (which must get 401 or 403).
struct JWTBypassCheck: AuditCheck {
    let id = "jwt.bypass"
    let title = "JWT validation cannot be bypassed"

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let targets = context.plan.services.filter { $0.setting("auth") == .string("jwt") }
        let lookedAt =
            "services with auth: jwt (\(targets.isEmpty ? "none" : targets.map(\.name).joined(separator: ", "))): "
            + "no token, alg none, another key, expired, wrong audience, changed payload, key confusion"
        guard !context.readOnly else {
            return .notChecked(self, lookedAt: lookedAt, because: "profile '\(context.plan.profile.name)' is remote: no forged tokens are sent there")
        }
        guard !targets.isEmpty else {
            return .notChecked(
                self, lookedAt: lookedAt, because: "no service declares auth: jwt (add it, with auth_probe, to the services that check tokens)")
        }
        guard context.running != nil else {
            return .notChecked(
                self, lookedAt: lookedAt, because: "the stack is not running: `devstack up --profile \(context.plan.profile.name)` first")
        }
        guard let secret = context.plan.secrets["jwt_secret"] else {
            return .notChecked(self, lookedAt: lookedAt, because: "the profile has no jwt_secret to sign the valid token with")
        }
        let auth = context.plan.services.first { $0.kind == .auth }
        let forge = TokenForge(secret: secret, issuer: context.tokenIssuer)
        var findings: [AuditFinding] = []
        do {
            var published: [(kid: String?, text: String)] = []
            if let url = auth?.attributes["url"], let jwks = try? await AuditHTTP.send("GET", "\(url)/auth/v1/.well-known/jwks.json").json {
                published = TokenForge.publicKeyTexts(jwks: jwks)
            }
            let forgeries = try await forge.forgeries(publicKeys: published)
            for service in targets {
                guard let base = service.attributes["url"] else {
                    findings.append(AuditFinding(service.name, .warn, "could not be tried: it has no URL (give it an http port)"))
                    continue
                }
                let route = AuditHTTP.route(service.setting("auth_probe")?.description, default: "GET /")
                let url = base + route.path
                let control = try await AuditHTTP.send(route.method, url, headers: [("authorization", "Bearer \(try await forge.valid())")])
                guard (200..<300).contains(control.status) else {
                    findings.append(
                        AuditFinding(
                            "\(service.name) \(route.method) \(route.path)", .warn,
                            "could not be tried: a valid token got \(control.status), so refusals prove nothing (set auth_probe to a route a signed-in user may call)"
                        ))
                    continue
                }
                var accepted: [String] = []
                var odd: [String] = []
                for (name, token) in forgeries {
                    let answer = try await AuditHTTP.send(route.method, url, headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
                    if (200..<300).contains(answer.status) {
                        accepted.append(name)
                    } else if answer.status != 401 && answer.status != 403 {
                        odd.append("\(name): \(answer.status)")
                    }
                }
                let subject = "\(service.name) \(route.method) \(route.path)"
                if !accepted.isEmpty {
                    findings.append(AuditFinding(subject, .fail, "accepted: \(accepted.joined(separator: ", "))"))
                } else if !odd.isEmpty {
                    findings.append(AuditFinding(subject, .fail, "refused, but not with 401 or 403: \(odd.joined(separator: ", "))"))
                } else {
                    let confusion = published.isEmpty ? " (key confusion not tried: no published public key)" : ""
                    findings.append(AuditFinding(subject, .pass, "a valid token passed; all \(forgeries.count) forgeries got 401 or 403\(confusion)"))
                }
            }
        } catch {
            return .notChecked(self, lookedAt: lookedAt, because: describe(error))
        }
        return result(
            lookedAt: lookedAt,
            summary: findings.allSatisfy { $0.status == .pass }
                ? "\(findings.count) service\(findings.count == 1 ? "" : "s") refused every forged token"
                : "\(findings.filter { $0.status != .pass }.count) of \(findings.count) services let a forgery through or could not be tried",
            findings: findings,
            fix: "verify every token's signature with the key its header's algorithm allows (never alg none, never a public key as an HMAC secret), "
                + "and check exp and aud (authenticated) before trusting a claim")
    }
}

/// Rate limiting configured (required on staging and production) and, where probing is allowed, felt:
/// a bounded burst at a service's `rate_limit_probe` route must meet a 429 with Retry-After.
struct RateLimitCheck: AuditCheck {
    let id = "rate_limit"
    let title = "Rate limiting configured and effective"
    static let burst = 300

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let targets = context.plan.services.filter { $0.setting("rate_limit_probe") != nil }
        let lookedAt = "the profile's rate_limit value; a burst of at most \(Self.burst) requests at each rate_limit_probe route (loopback only)"
        let configured = context.plan.profile.values.first { $0.name == "rate_limit" }?.value
        var findings: [AuditFinding] = []
        switch configured {
        case "disabled"? where context.alwaysOn, nil where context.alwaysOn:
            findings.append(
                AuditFinding(
                    context.profileFile, .fail,
                    configured == nil ? "no rate_limit value on an always-on profile" : "rate_limit: disabled on an always-on profile"))
        case "disabled"?:
            return .notChecked(
                self, lookedAt: lookedAt, because: "rate_limit: disabled on profile '\(context.plan.profile.name)' (fine off staging and production)")
        default:
            findings.append(AuditFinding(context.profileFile, .pass, "rate_limit: \(configured ?? "(not set)")"))
        }
        if context.readOnly {
            findings.append(AuditFinding("burst", .pass, "not tried: profile '\(context.plan.profile.name)' is remote"))
        } else if context.running == nil {
            findings.append(AuditFinding("burst", .warn, "not tried: the stack is not running"))
        } else if targets.isEmpty {
            findings.append(AuditFinding("burst", .warn, "not tried: no service names a rate_limit_probe route"))
        } else if let secret = context.plan.secrets["jwt_secret"] {
            for service in targets {
                findings.append(await burst(service, forge: TokenForge(secret: secret, issuer: context.tokenIssuer)))
            }
        }
        return result(
            lookedAt: lookedAt,
            summary: findings.map { "\($0.subject): \($0.detail)" }.joined(separator: "; "),
            findings: findings,
            fix:
                "set values.rate_limit (enabled or strict) in \(context.profileFile), and answer 429 with a Retry-After header once a user is over the limit"
        )
    }

    private func burst(_ service: PlannedService, forge: TokenForge) async -> AuditFinding {
        let route = AuditHTTP.route(service.setting("rate_limit_probe")?.description, default: "GET /")
        let subject = "\(service.name) \(route.method) \(route.path)"
        guard let base = service.attributes["url"] else { return AuditFinding(subject, .warn, "not tried: the service has no URL") }
        do {
            // One user for the whole burst: limits are per user.
            let token = try await forge.valid()
            // An empty JSON object where the route takes a body: a limit counts requests, not valid ones.
            let body: [String: String]? = ["GET", "HEAD", "DELETE"].contains(route.method) ? nil : [:]
            for sent in 1...Self.burst {
                let answer = try await AuditHTTP.send(route.method, base + route.path, headers: [("authorization", "Bearer \(token)")], json: body)
                guard answer.status == 429 else { continue }
                guard let wait = answer.headers.first(name: "retry-after") else {
                    return AuditFinding(subject, .fail, "429 after \(sent) requests, but without Retry-After")
                }
                return AuditFinding(subject, .pass, "429 after \(sent) requests, Retry-After: \(wait)")
            }
            return AuditFinding(subject, .fail, "\(Self.burst) requests in a burst, none refused with 429")
        } catch {
            return AuditFinding(subject, .warn, "not tried: \(describe(error))")
        }
    }
}
