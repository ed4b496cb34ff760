import Crypto
import DevstackCore
import Foundation
import Hummingbird

/// A PKCE challenge as a client sends it with sign-up, OTP, magic link or recovery (RFC 7636).
struct PKCEChallenge: Sendable {
    enum Method: String, Sendable { case s256, plain }

    let challenge: String
    let method: Method

    /// The challenge in a request body, if the client asked for the PKCE flow; GoTrue's 400 when half of it is there.
    static func from(_ body: RequestBody) throws -> PKCEChallenge? {
        let challenge = try body.text("code_challenge")
        let method = try body.text("code_challenge_method")
        if challenge == nil && method == nil { return nil }
        guard let challenge, let method else {
            throw AuthError.validation("PKCE flow requires code_challenge_method and code_challenge")
        }
        guard let known = Method(rawValue: method.lowercased()) else {
            throw AuthError.validation("code challenge method not supported")
        }
        return PKCEChallenge(challenge: challenge, method: known)
    }

    func isAnswered(by verifier: String) -> Bool {
        switch method {
        case .plain: return ConstantTime.equal(verifier, challenge)
        case .s256: return ConstantTime.equal(Self.s256(verifier), challenge)
        }
    }

    /// BASE64URL(SHA256(verifier)) without padding.
    static func s256(_ verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64URL
    }
}

/// A PKCE flow between its link (or redirect) and the code exchange: GoTrue's `auth.flow_state`.
struct FlowState: Sendable {
    let authCode: String
    let challenge: PKCEChallenge
    let userID: String
    /// How the session that the exchange gives was earned, for `amr`.
    let method: String
    let created: ContinuousClock.Instant

    /// GoTrue's flow states last five minutes.
    static let lifetime: Duration = .seconds(300)
}

extension AuthServer {
    /// The link of a PKCE flow carries this before the token hash, as GoTrue's does.
    static let pkcePrefix = "pkce_"

    /// `POST /token?grant_type=pkce`: the code from the redirect and the verifier the client kept.
    func exchangeCode(_ body: RequestBody, request: Request) async throws -> Response {
        guard let code = try body.text("auth_code"), let verifier = try body.text("code_verifier") else {
            throw AuthError.validation("invalid request: both auth code and code verifier should be non-empty")
        }
        guard (43...128).contains(verifier.count) else {
            throw AuthError.validation("code verifier should be at least 43 characters and at most 128 characters")
        }
        guard let flow = await state.flow(authCode: code) else {
            throw AuthError(404, "flow_state_not_found", "invalid flow state, no valid flow state found")
        }
        guard ContinuousClock.now - flow.created < FlowState.lifetime else {
            throw AuthError(400, "flow_state_expired", "invalid flow state, flow state has expired")
        }
        // A wrong verifier leaves the code for the right one, as GoTrue does; a right one uses it up.
        guard flow.challenge.isAnswered(by: verifier) else {
            throw AuthError(403, "bad_code_verifier", "code challenge does not match previously saved code verifier")
        }
        guard await state.takeFlow(authCode: code) != nil else {
            throw AuthError(404, "flow_state_not_found", "invalid flow state, no valid flow state found")
        }
        guard let user = try await store.user(id: flow.userID) else { throw AuthError.userNotFound }
        return try await session(for: user, method: flow.method, request: request).response
    }

    /// `target` with `query` added to its query (before any fragment): where a PKCE flow or an error sends the browser.
    static func redirect(_ target: String, query: [(String, String)]) -> String {
        let encoded = query.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let base = String(parts[0])
        return base + (base.contains("?") ? "&" : "?") + encoded + (parts.count > 1 ? "#\(parts[1])" : "")
    }
}
