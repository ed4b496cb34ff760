import AsyncHTTPClient
import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation
import NIOCore

/// How a request to a control API travels: the running supervisor's socket here, or TLS to the
/// machine that runs the profile (`RemoteTransport`). Answers the status and body; a transport
/// raises only its own failures (nothing answers, a certificate refused).
public protocol ControlTransport: Sendable {
    func send(_ method: String, _ path: String, body: Data?, timeout: TimeAmount) async throws -> (status: Int, data: Data)
}

/// Talks to a supervisor's control API, whichever way it is reached.
public struct ControlClient: Sendable {
    let transport: any ControlTransport

    public init(transport: any ControlTransport) { self.transport = transport }

    /// The supervisor running here, through its control socket.
    public init(socket: String) { transport = SocketTransport(socket: socket) }

    public func status() async throws -> StatusReport { try await get(StatusReport.self, "/v1/status") }

    /// The status once every service has settled (ready, completed, failed or crash-looping), waited
    /// for in the supervisor: the answer comes the moment it happens.
    public func settledStatus(within timeout: Duration) async throws -> StatusReport {
        let seconds = max(1, timeout.components.seconds)
        return try await get(StatusReport.self, "/v1/status?settled=1", timeout: .seconds(seconds))
    }

    /// The Prometheus text of `GET /metrics`.
    public func metrics() async throws -> String { String(decoding: try await call("GET", "/metrics"), as: UTF8.self) }

    public func service(_ name: String, _ action: String) async throws {
        let (status, data) = try await transport.send("POST", "/v1/services/\(Self.encoded(name))/\(action)", body: nil, timeout: .seconds(120))
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        guard (200..<300).contains(status), reply?.ok == true else {
            if status == 401 || status == 403 { throw Self.failure(data, status: status, otherwise: "\(action) \(name) failed") }
            throw SupervisorError(.unknownService, reply?.message ?? "\(action) \(name) failed")
        }
    }

    /// The supervisor checks its profile's protection itself: `force` is the `--force` of `devstack reset`.
    public func reset(to snapshot: String?, force: Bool) async throws -> [ResetOutcome] {
        let query = (snapshot.map { ["to=\(Self.encoded($0))"] } ?? []) + (force ? ["force=1"] : [])
        return try await get([ResetOutcome].self, "/v1/reset" + Self.query(query), method: "POST", timeout: .minutes(10))
    }

    /// `holder`: the process the lease lives with.
    public func lease(service: String?, holder: Int32?) async throws -> LeaseRecord {
        let query = (service.map { ["service=\(Self.encoded($0))"] } ?? []) + (holder.map { ["pid=\($0)"] } ?? [])
        return try await get(LeaseRecord.self, "/v1/leases" + Self.query(query), method: "POST")
    }

    public func releaseLease(_ name: String) async throws {
        let data = try await call("DELETE", "/v1/leases/\(Self.encoded(name))")
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        if reply?.ok != true { throw Self.failure(data, status: 200, otherwise: "releasing \(name) failed") }
    }

    public func leases() async throws -> [LeaseRecord] { try await get([LeaseRecord].self, "/v1/leases") }

    public func backups() async throws -> BackupListing { try await get(BackupListing.self, "/v1/backups") }

    public func backup(_ kind: BackupRecord.Kind) async throws -> BackupRecord {
        try await get(BackupRecord.self, "/v1/backups?kind=\(kind.rawValue)", method: "POST", timeout: .hours(6))
    }

    public func verifyBackup(_ label: String?) async throws -> RepositoryCheck {
        try await get(
            RepositoryCheck.self, "/v1/backups/verify" + Self.query(label.map { ["label=\(Self.encoded($0))"] } ?? []), method: "POST",
            timeout: .hours(6))
    }

    public func restoreBackup(to target: RestoreTarget, force: Bool) async throws -> RestoreOutcome {
        var query: [String] = []
        switch target {
        case .backup(let label): query.append("label=\(Self.encoded(label))")
        case .time(let date): query.append("to=\(Self.encoded(BackupTime.format(date)))")
        case .latest: query.append("latest=1")
        }
        if force { query.append("force=1") }
        return try await get(RestoreOutcome.self, "/v1/backups/restore" + Self.query(query), method: "POST", timeout: .hours(6))
    }

    public func down() async throws {
        _ = try await transport.send("POST", "/v1/down", body: nil, timeout: .seconds(120))
    }

    /// The answer decoded, or the supervisor's error raised again.
    func get<T: Decodable>(_ type: T.Type, _ path: String, method: String = "GET", body: Data? = nil, timeout: TimeAmount = .seconds(120))
        async throws -> T
    {
        let data = try await call(method, path, body: body, timeout: timeout)
        do { return try StateStore.decoder.decode(T.self, from: data) } catch {
            throw Self.failure(data, status: 200, otherwise: "the answer to \(method) \(path) was not understood")
        }
    }

    /// The body of a successful answer, or the supervisor's error raised again.
    func call(_ method: String, _ path: String, body: Data? = nil, timeout: TimeAmount = .seconds(120)) async throws -> Data {
        let (status, data) = try await transport.send(method, path, body: body, timeout: timeout)
        guard (200..<300).contains(status) else { throw Self.failure(data, status: status, otherwise: "\(method) \(path) failed") }
        return data
    }

    /// The supervisor's error raised again with its code, message and fix: a refusal (or a token the
    /// host refused) keeps exit status 3; a code that is not the runtime's own is kept as it was.
    static func failure(_ data: Data, status: Int, otherwise: String) -> any DevstackError {
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        let message = reply?.message ?? otherwise
        let fix = reply?.fix ?? "see `devstack logs`"
        if status == 401 || status == 403 || reply?.refused == true { return SupervisorError(.refused, message, fix: fix) }
        if let code = reply?.code, SupervisorErrorCode(rawValue: code) == nil { return RemoteError(code: code, message: message, fix: fix) }
        return SupervisorError(reply?.code.flatMap(SupervisorErrorCode.init(rawValue:)) ?? .serviceFailed, message, fix: fix)
    }

    static func query(_ parts: [String]) -> String { parts.isEmpty ? "" : "?" + parts.joined(separator: "&") }

    /// RFC 3986's unreserved characters: what a path segment or query value carries as is.
    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }
}

/// The control socket of the supervisor running here.
struct SocketTransport: ControlTransport {
    let socket: String

    /// A local socket answers at once or not at all: a supervisor quitting at the moment of the connect
    /// must not hold the caller for the shared client's 90 s connect timeout.
    private static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(timeout: .init(connect: .seconds(2))))

    func send(_ method: String, _ path: String, body: Data?, timeout: TimeAmount) async throws -> (status: Int, data: Data) {
        guard let url = URL(httpURLWithSocketPath: socket, uri: path) else {
            throw SupervisorError(.control, "bad control socket path \(socket)")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .init(rawValue: method)
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await Self.client.execute(request, timeout: timeout)
            return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 16 << 20)))
        } catch {
            throw SupervisorError(
                .control, "the supervisor does not answer on \(socket): \(error)",
                fix: "it may be shutting down; check `devstack status`, or stop leftovers with `devstack down`")
        }
    }
}

/// An error the supervisor met, raised again on the client's side with the supervisor's code.
public struct RemoteError: DevstackError {
    public var code: String
    public var message: String
    public var fix: String?
}
