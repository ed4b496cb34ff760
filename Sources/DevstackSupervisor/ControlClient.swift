import AsyncHTTPClient
import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation
import NIOCore

/// Talks to a running supervisor through its control socket.
public struct ControlClient: Sendable {
    public let socket: String

    public init(socket: String) { self.socket = socket }

    /// A local socket answers at once or not at all: a supervisor quitting at the moment of the connect
    /// must not hold the caller for the shared client's 90 s connect timeout.
    private static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(timeout: .init(connect: .seconds(2))))

    public func status() async throws -> StatusReport {
        try StateStore.decoder.decode(StatusReport.self, from: try await send("GET", "/v1/status"))
    }

    /// The status once every service has settled (ready, completed, failed or crash-looping), waited
    /// for in the supervisor: the answer comes the moment it happens.
    public func settledStatus(within timeout: Duration) async throws -> StatusReport {
        let seconds = max(1, timeout.components.seconds)
        return try StateStore.decoder.decode(
            StatusReport.self, from: try await send("GET", "/v1/status?settled=1", timeout: .seconds(seconds)))
    }

    /// The Prometheus text of `GET /metrics`.
    public func metrics() async throws -> String {
        String(decoding: try await send("GET", "/metrics"), as: UTF8.self)
    }

    public func service(_ name: String, _ action: String) async throws {
        let reply = try StateStore.decoder.decode(ControlReply.self, from: try await send("POST", "/v1/services/\(name)/\(action)"))
        if !reply.ok { throw SupervisorError(.unknownService, reply.message ?? "\(action) \(name) failed") }
    }

    /// The supervisor checks its profile's protection itself: `force` is the `--force` of `devstack reset`.
    public func reset(to snapshot: String?, force: Bool) async throws -> [ResetOutcome] {
        var query = snapshot.map { ["to=\($0.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? $0)"] } ?? []
        if force { query.append("force=1") }
        let data = try await send("POST", "/v1/reset" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        if let outcomes = try? StateStore.decoder.decode([ResetOutcome].self, from: data) { return outcomes }
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        throw SupervisorError(
            reply?.refused == true ? .refused : .serviceFailed, reply?.message ?? "the reset failed", fix: reply?.fix ?? "see `devstack logs`")
    }

    /// `holder`: the process the lease lives with.
    public func lease(service: String?, holder: Int32?) async throws -> LeaseRecord {
        var query: [String] = []
        if let service { query.append("service=\(service.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? service)") }
        if let holder { query.append("pid=\(holder)") }
        let data = try await send("POST", "/v1/leases" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        if let record = try? StateStore.decoder.decode(LeaseRecord.self, from: data) { return record }
        throw Self.failure(data, otherwise: "the lease failed")
    }

    public func releaseLease(_ name: String) async throws {
        let data = try await send("DELETE", "/v1/leases/\(name.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? name)")
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        if reply?.ok != true { throw Self.failure(data, otherwise: "releasing \(name) failed") }
    }

    public func leases() async throws -> [LeaseRecord] {
        try StateStore.decoder.decode([LeaseRecord].self, from: try await send("GET", "/v1/leases"))
    }

    /// RFC 3986's unreserved characters: what a path segment or query value carries as is.
    private static let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    /// The supervisor's error raised again with its code, message and fix: as a `SupervisorError` when
    /// it is one of the runtime's codes (a refusal keeps exit status 3), else with the code it had.
    private static func failure(_ data: Data, otherwise: String) -> any DevstackError {
        let reply = try? StateStore.decoder.decode(ControlReply.self, from: data)
        let message = reply?.message ?? otherwise
        let fix = reply?.fix ?? "see `devstack logs`"
        if reply?.refused == true { return SupervisorError(.refused, message, fix: fix) }
        if let code = reply?.code, SupervisorErrorCode(rawValue: code) == nil { return RemoteError(code: code, message: message, fix: fix) }
        return SupervisorError(reply?.code.flatMap(SupervisorErrorCode.init(rawValue:)) ?? .serviceFailed, message, fix: fix)
    }

    public func backups() async throws -> BackupListing {
        try Self.decode(BackupListing.self, from: try await send("GET", "/v1/backups"), otherwise: "listing backups failed")
    }

    public func backup(_ kind: BackupRecord.Kind) async throws -> BackupRecord {
        try Self.decode(
            BackupRecord.self, from: try await send("POST", "/v1/backups?kind=\(kind.rawValue)", timeout: .hours(6)), otherwise: "the backup failed")
    }

    public func verifyBackup(_ label: String?) async throws -> RepositoryCheck {
        let query = label.map { "?label=\($0.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? $0)" } ?? ""
        return try Self.decode(
            RepositoryCheck.self, from: try await send("POST", "/v1/backups/verify" + query, timeout: .hours(6)), otherwise: "the verification failed"
        )
    }

    public func restoreBackup(to target: RestoreTarget, force: Bool) async throws -> RestoreOutcome {
        var query: [String] = []
        switch target {
        case .backup(let label): query.append("label=\(label.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? label)")
        case .time(let date): query.append("to=\(BackupTime.format(date).addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? "")")
        case .latest: query.append("latest=1")
        }
        if force { query.append("force=1") }
        return try Self.decode(
            RestoreOutcome.self, from: try await send("POST", "/v1/backups/restore?" + query.joined(separator: "&"), timeout: .hours(6)),
            otherwise: "the restore failed")
    }

    /// The answer, or the supervisor's error raised again.
    private static func decode<T: Decodable>(_ type: T.Type, from data: Data, otherwise: String) throws -> T {
        if let value = try? StateStore.decoder.decode(T.self, from: data) { return value }
        throw failure(data, otherwise: otherwise)
    }

    public func down() async throws {
        _ = try await send("POST", "/v1/down")
    }

    private func send(_ method: String, _ path: String, timeout: TimeAmount = .seconds(120)) async throws -> Data {
        guard let url = URL(httpURLWithSocketPath: socket, uri: path) else {
            throw SupervisorError(.control, "bad control socket path \(socket)")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .init(rawValue: method)
        do {
            let response = try await Self.client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 << 20)
            return Data(buffer: body)
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
