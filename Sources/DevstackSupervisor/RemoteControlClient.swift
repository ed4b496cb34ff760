import AsyncHTTPClient
import Crypto
import DevstackCore
import DevstackProject
import Foundation
import NIOCore
import NIOSSL

/// The control API of the machine that runs a profile, from another machine: TLS checked against the
/// authority stored at login (and nothing else), with the login's token.
public struct RemoteTransport: ControlTransport {
    public let host: HostSpec
    let token: String?
    let tls: TLSConfiguration
    /// For messages: the profile the host runs.
    let profile: String

    public init(host: HostSpec, token: String?, authorityPEM: String?, profile: String) throws {
        guard let authorityPEM, let authority = try? NIOSSLCertificate.fromPEMBytes(Array(authorityPEM.utf8)) else {
            throw SupervisorError(
                .control, "no certificate authority is stored for \(host.endpoint)",
                fix: "log in first: devstack login \(profile) --token … --ca-sha256 …")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(authority)
        self.init(host: host, token: token, tls: tls, profile: profile)
    }

    private init(host: HostSpec, token: String?, tls: TLSConfiguration, profile: String) {
        self.host = host
        self.token = token
        self.tls = tls
        self.profile = profile
    }

    public func send(_ method: String, _ path: String, body: Data?, timeout: TimeAmount) async throws -> (status: Int, data: Data) {
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

    /// The authority's certificate as the host serves it, fetched without checking (there is nothing to
    /// check it against yet): the caller compares its SHA-256 with the one the host's owner gave.
    public static func fetchAuthority(_ host: HostSpec) async throws -> (pem: String, sha256: String) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        let data = try await ControlClient(transport: RemoteTransport(host: host, token: nil, tls: tls, profile: "")).call("GET", "/v1/ca.pem")
        guard let certificate = try? NIOSSLCertificate(bytes: Array(data), format: .pem) else {
            throw SupervisorError(.control, "\(host.endpoint) did not answer with a certificate", fix: "check the address and port in host:")
        }
        return (String(decoding: data, as: UTF8.self), fingerprint(of: certificate))
    }

    /// `AB:CD:…`: the SHA-256 of the certificate's DER bytes, as `openssl x509 -fingerprint -sha256` shows it.
    public static func fingerprint(of certificate: NIOSSLCertificate) -> String {
        let der = (try? certificate.toDERBytes()) ?? []
        return SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
    }

    public static func fingerprint(ofPEM pem: String) -> String? {
        (try? NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)).map(fingerprint(of:))
    }
}

/// What only the host's TLS port answers (`RemoteControl`).
extension ControlClient {
    public func whoami() async throws -> RemoteIdentity { try await get(RemoteIdentity.self, "/v1/whoami") }

    public func connection() async throws -> RemoteConnection { try await get(RemoteConnection.self, "/v1/connection") }

    public func appliedMigrations() async throws -> [String: String] { try await get([String: String].self, "/v1/migrations") }

    public func logs(services: [String], lines: Int?, since: Date?) async throws -> [RemoteLogLine] {
        var query = services.map { "service=\(Self.encoded($0))" }
        if let lines { query.append("lines=\(lines)") }
        if let since { query.append("since=\(Self.encoded(since.formatted(.iso8601)))") }
        return try await get([RemoteLogLine].self, "/v1/logs" + Self.query(query))
    }

    /// The smoke results as the host's JSON.
    public func smoke(_ checks: [String]) async throws -> Data {
        try await call("POST", "/v1/smoke" + Self.query(checks.map { "check=\(Self.encoded($0))" }), timeout: .minutes(10))
    }

    public func migrate(_ files: [MigrationUpload]) async throws -> [String] {
        try await get([String].self, "/v1/migrations", method: "POST", body: try JSONEncoder().encode(files), timeout: .hours(1))
    }

    /// The host's snapshots as its JSON (`GET`), or one saved (`POST`) or removed (`DELETE`).
    public func snapshots(_ method: String = "GET", name: String? = nil) async throws -> Data {
        try await call(method, "/v1/snapshots" + (name.map { "/" + Self.encoded($0) } ?? ""), timeout: .minutes(10))
    }
}
