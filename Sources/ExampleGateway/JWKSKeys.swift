import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore

/// The auth service's published keys, fetched again when a token names a kid not seen yet. Fetches
/// are shared by everyone waiting and at least a second apart, so a stream of forged kids cannot turn
/// the gateway into a JWKS hammer (those requests wait instead). Each key is kept alone with its
/// algorithm, so a token is checked with the key it names and only that key's algorithm.
actor JWKSKeys {
    let url: String
    private var keys: [String: (algorithm: String, keys: JWTKeyCollection)] = [:]
    private var lastFetch: ContinuousClock.Instant?
    private var fetching: Task<Void, Never>?
    static let spacing: Duration = .seconds(1)

    init(url: String) { self.url = url }

    /// The key `kid` names, if the auth service publishes one for `algorithm`.
    func keys(kid: String, algorithm: String) async -> JWTKeyCollection? {
        if keys[kid] == nil { await refresh() }
        guard let entry = keys[kid], entry.algorithm == algorithm else { return nil }
        return entry.keys
    }

    private func refresh() async {
        if let fetching { return await fetching.value }
        let wait = lastFetch.map { Self.spacing - (ContinuousClock.now - $0) } ?? .zero
        let task = Task {
            if wait > .zero { try? await Task.sleep(for: wait) }
            await self.fetch()
        }
        fetching = task
        await task.value
        fetching = nil
    }

    private func fetch() async {
        lastFetch = .now
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            let set = try JSONDecoder().decode(JWKS.self, from: Data(buffer: body))
            var fetched: [String: (algorithm: String, keys: JWTKeyCollection)] = [:]
            for jwk in set.keys {
                guard let kid = jwk.keyIdentifier?.string, let algorithm = jwk.algorithm?.rawValue else { continue }
                let collection = JWTKeyCollection()
                try await collection.add(jwk: jwk)
                fetched[kid] = (algorithm, collection)
            }
            keys = fetched
        } catch {
            // The next unknown kid tries again; until then such tokens are refused.
        }
    }
}
