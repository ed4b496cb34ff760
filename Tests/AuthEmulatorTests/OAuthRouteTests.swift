import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthEmulator

/// Sign-in through the fake OAuth providers, in-process against a real Postgres.
@Suite(.serialized) struct OAuthRouteTests {
    let routes = MFAAndPKCERouteTests()
    let json: HTTPFields = [.contentType: "application/json"]
    let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    func configure(_ configuration: inout AuthConfiguration) {
        configuration.externalProviders = ["github", "google"]
        configuration.fakeIdentities = ["ada@example.com", "grace@example.com"]
        configuration.uriAllowList = ["http://app.test/**"]
    }

    /// From `/authorize` to the provider page: the page's HTML and the state it carries.
    func startSignIn(_ client: any TestClientProtocol, _ query: String) async throws -> (page: String, state: String) {
        var location = ""
        try await client.execute(uri: "/auth/v1/authorize?\(query)", method: .get) { response in
            #expect(response.status == .found)
            location = response.headers[.location] ?? ""
        }
        let path = String(location[location.range(of: "/__devstack/oauth/")!.lowerBound...])
        var page = ""
        try await client.execute(uri: path, method: .get) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
            page = String(buffer: response.body)
        }
        let state = URLComponents(string: location)?.queryItems?.first { $0.name == "state" }?.value ?? ""
        return (page, state)
    }

    @Test func theImplicitFlowListsTheIdentitiesAndReturnsASessionInTheFragment() async throws {
        try await routes.withDatabase(configure: configure) { client in
            let (page, state) = try await startSignIn(client, "provider=github&redirect_to=http://app.test/callback")
            #expect(page.contains("ada@example.com") && page.contains("grace@example.com") && page.contains("Sign in with Github"))
            var location = ""
            try await client.execute(
                uri: "/__devstack/oauth/github", method: .post, headers: form, body: ByteBuffer(string: "state=\(state)&email=ada%40example.com")
            ) { response in
                #expect(response.status == .seeOther)
                location = response.headers[.location] ?? ""
            }
            #expect(location.hasPrefix("http://app.test/callback#access_token="))
            #expect(location.contains("provider_token=") && location.contains("refresh_token="))
            let token = String(location.split(separator: "#")[1].split(separator: "&")[0].dropFirst("access_token=".count))
            try await client.execute(uri: "/user", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                let user = routes.routes.json(response.body)
                #expect(user["email"] as? String == "ada@example.com")
                #expect((user["app_metadata"] as? [String: Any])?["provider"] as? String == "github")
                #expect((user["identities"] as? [[String: Any]])?.first?["provider"] as? String == "github")
                #expect((user["user_metadata"] as? [String: Any])?["full_name"] as? String == "ada")
            }
            // The state works once.
            try await client.execute(
                uri: "/__devstack/oauth/github", method: .post, headers: form, body: ByteBuffer(string: "state=\(state)&email=ada%40example.com")
            ) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func thePKCEFlowLinksAnExistingUserByEMailAndExchangesItsCode() async throws {
        try await routes.withDatabase(configure: configure) { client in
            _ = try await routes.signUp(client, "grace@example.com")
            let verifier = String(repeating: "k", count: 64)
            let (_, state) = try await startSignIn(
                client, "provider=google&redirect_to=http://app.test/cb&code_challenge=\(PKCEChallenge.s256(verifier))&code_challenge_method=s256")
            var code = ""
            try await client.execute(
                uri: "/__devstack/oauth/google", method: .post, headers: form,
                body: ByteBuffer(string: "state=\(state)&email=grace%40example.com&name=Grace+Hopper")
            ) { response in
                let location = response.headers[.location] ?? ""
                #expect(location.hasPrefix("http://app.test/cb?code="))
                code = URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value ?? ""
            }
            try await client.execute(
                uri: "/token?grant_type=pkce", method: .post, headers: json,
                body: ByteBuffer(string: #"{"auth_code": "\#(code)", "code_verifier": "\#(verifier)"}"#)
            ) { response in
                #expect(response.status == .ok)
                let user = routes.routes.json(response.body)["user"] as? [String: Any] ?? [:]
                #expect(user["email"] as? String == "grace@example.com")
                let providers = (user["app_metadata"] as? [String: Any])?["providers"] as? [String]
                #expect(providers?.sorted() == ["email", "google"], "linked to the e-mail user")
            }
        }
    }

    @Test func idTokensFromTheFakeProviderSignInAndOthersDoNot() async throws {
        try await routes.withDatabase(configure: configure) { client in
            var idToken = ""
            try await client.execute(
                uri: "/__devstack/oauth/google/id_token", method: .post, headers: json,
                body: ByteBuffer(string: #"{"email": "idt@example.com", "nonce": "raw-nonce"}"#)
            ) { response in
                idToken = routes.routes.json(response.body)["id_token"] as? String ?? ""
            }
            func grant(_ body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                var result: (HTTPResponse.Status, [String: Any]) = (.ok, [:])
                try await client.execute(uri: "/token?grant_type=id_token", method: .post, headers: json, body: ByteBuffer(string: body)) {
                    result = ($0.status, routes.routes.json($0.body))
                }
                return result
            }
            #expect(try await grant(#"{"provider": "google", "id_token": "\#(idToken)", "nonce": "wrong"}"#).0 == .badRequest)
            #expect(try await grant(#"{"provider": "github", "id_token": "\#(idToken)", "nonce": "raw-nonce"}"#).0 == .badRequest)
            #expect(try await grant(#"{"provider": "apple", "id_token": "\#(idToken)"}"#).0 == .badRequest, "not enabled")
            let forged = AuthRouteTests.token(claims: ["iss": "https://google.devstack.local", "email": "x@example.com"])
            #expect(try await grant(#"{"provider": "google", "id_token": "\#(forged)"}"#).0 == .badRequest, "signed with the stack secret")
            let (status, session) = try await grant(#"{"provider": "google", "id_token": "\#(idToken)", "nonce": "raw-nonce"}"#)
            #expect(status == .ok)
            #expect((session["user"] as? [String: Any])?["email"] as? String == "idt@example.com")
            try await client.execute(uri: "/authorize?provider=apple", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(routes.routes.json(response.body)["msg"] as? String == "Unsupported provider: provider is not enabled")
            }
            try await client.execute(uri: "/settings", method: .get) { response in
                let external = routes.routes.json(response.body)["external"] as? [String: Any] ?? [:]
                #expect(external["github"] as? Bool == true && external["google"] as? Bool == true && external["apple"] as? Bool == false)
            }
        }
    }
}
