import AsyncHTTPClient
import Crypto
import DevstackCore
import DevstackDriverKit
import DevstackProject
import Foundation
import NIOCore
import NIOSSL

/// Talks to a host's control API from another machine: over TLS checked against the authority stored
/// at login (and nothing else), with the login's token.
public struct RemoteControlClient: Sendable {
    public let host: HostSpec
    let token: String?
    let authorityPEM: String?
    /// For messages: the profile the host runs.
    let profile: String

    public init(host: HostSpec, token: String?, authorityPEM: String?, profile: String) {
        self.host = host
        self.token = token
        self.authorityPEM = authorityPEM
        self.profile = profile
    }

    /// The authority's certificate as the host serves it, fetched without checking (there is nothing to
    /// check it against yet): the caller compares its SHA-256 with the one the host's owner gave.
    public static func fetchAuthority(_ host: HostSpec) async throws -> (pem: String, sha256: String) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let data = try await send(host: host, tls: tls, token: nil, method: "GET", path: "/v1/ca.pem", body: nil, profile: "").data
        let pem = String(decoding: data, as: UTF8.self)
        guard let certificate = try? NIOSSLCertificate(bytes: Array(data), format: .pem) else {
            throw SupervisorError(.control, "\(host.endpoint) did not answer with a certificate", fix: "check the address and port in host:")
        }
        return (pem, fingerprint(of: certificate))
    }

    /// `AB:CD:…`: the SHA-256 of the certificate's DER bytes, as `openssl x509 -fingerprint -sha256` shows it.
    public static func fingerprint(of certificate: NIOSSLCertificate) -> String {
        let der = (try? certificate.toDERBytes()) ?? []
        return SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    public static func fingerprint(ofPEM pem: String) -> String? {
        (try? NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)).map(fingerprint(of:))
    }

    public func whoami() async throws -> RemoteIdentity { try await get(RemoteIdentity.self, "/v1/whoami") }

    public func status() async throws -> StatusReport { try await get(StatusReport.self, "/v1/status") }

    public func metrics() async throws -> String { String(decoding: try await call("GET", "/metrics"), as: UTF8.self) }

    public func connection() async throws -> RemoteConnection { try await get(RemoteConnection.self, "/v1/connection") }

    public func appliedMigrations() async throws -> [String: String] { try await get([String: String].self, "/v1/migrations") }

    public func logs(services: [String], lines: Int?, since: Date?) async throws -> [RemoteLogLine] {
        var query = services.map { "service=\(Self.encoded($0))" }
        if let lines { query.append("lines=\(lines)") }
        if let since { query.append("since=\(Self.encoded(since.formatted(.iso8601)))") }
        return try await get([RemoteLogLine].self, "/v1/logs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    /// The smoke results as the host's JSON.
    public func smoke(_ checks: [String]) async throws -> Data {
        let query = checks.map { "check=\(Self.encoded($0))" }.joined(separator: "&")
        return try await call("POST", "/v1/smoke" + (query.isEmpty ? "" : "?" + query), timeout: .minutes(10))
    }

    public func migrate(_ files: [MigrationUpload]) async throws -> [String] {
        let data = try await call("POST", "/v1/migrations", body: try JSONEncoder().encode(files), timeout: .hours(1))
        return try Self.decode([String].self, from: data)
    }

    public func reset(to snapshot: String?, force: Bool) async throws -> [ResetOutcome] {
        let query = (snapshot.map { ["to=\(Self.encoded($0))"] } ?? []) + (force ? ["force=1"] : [])
        return try Self.decode(
            [ResetOutcome].self,
            from: try await call("POST", "/v1/reset" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), timeout: .minutes(10)))
    }

    /// The host's snapshots as its JSON (`GET`), or one saved (`POST`) or removed (`DELETE`).
    public func snapshots(_ method: String = "GET", name: String? = nil) async throws -> Data {
        try await call(method, "/v1/snapshots" + (name.map { "/" + Self.encoded($0) } ?? ""), timeout: .minutes(10))
    }

    private func get<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        try Self.decode(T.self, from: try await call("GET", path))
    }

    private func call(_ method: String, _ path: String, body: Data? = nil, timeout: TimeAmount = .seconds(60)) async throws -> Data {
        var tls = TLSConfiguration.makeClientConfiguration()
        guard let authorityPEM, let authority = try? NIOSSLCertificate.fromPEMBytes(Array(authorityPEM.utf8)) else {
            throw SupervisorError(
                .control, "no certificate authority is stored for \(host.endpoint)",
                fix: "log in first: devstack login \(profile) --token … --ca-sha256 …")
        }
        tls.trustRoots = .certificates(authority)
        let (status, data) = try await Self.send(
            host: host, tls: tls, token: token, method: method, path: path, body: body, profile: profile, timeout: timeout)
        guard (200..<300).contains(status) else { throw Self.failure(data, status: status) }
        return data
    }

    private static func send(
        host: HostSpec, tls: TLSConfiguration, token: String?, method: String, path: String, body: Data?, profile: String,
        timeout: TimeAmount = .seconds(60)
    ) async throws -> (status: Int, data: Data) {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, timeout: .init(connect: .seconds(5)))
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        defer { Task { try? await client.shutdown() } }
        var request = HTTPClientRequest(url: "https://\(host.endpoint)\(path)")
        request.method = .init(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await client.execute(request, timeout: timeout)
            return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 64 << 20)))
        } catch {
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") || text.contains("handshakeFailed") {
                throw SupervisorError(
                    .refused, "\(host.endpoint) presented a certificate that the authority stored for it did not sign: \(error)",
                    fix: "if the host made a new authority, log in again with the SHA-256 it prints (devstack token create on the host); "
                        + "otherwise something else answers at that address")
            }
            throw SupervisorError(
                .control, "cannot reach the host's control API at \(host.endpoint): \(error)",
                fix: "check that the host runs the stack (devstack up --profile \(profile) there) and that this machine reaches it")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do { return try StateStore.decoder.decode(T.self, from: data) } catch {
            throw SupervisorError(.control, "the host's answer was not understood: \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
    }

    /// The host's error raised again: a refusal keeps exit status 3.
    private static func failure(_ data: Data, status: Int) -> any DevstackError {
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        let message = reply?.message ?? "the host answered \(status): \(String(decoding: data.prefix(300), as: UTF8.self))"
        let fix = reply?.fix ?? "see the host's logs"
        if status == 401 || status == 403 || reply?.refused == true { return SupervisorError(.refused, message, fix: fix) }
        if let code = reply?.code, SupervisorErrorCode(rawValue: code) == nil { return RemoteError(code: code, message: message, fix: fix) }
        return SupervisorError(reply?.code.flatMap(SupervisorErrorCode.init(rawValue:)) ?? .serviceFailed, message, fix: fix)
    }

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}
