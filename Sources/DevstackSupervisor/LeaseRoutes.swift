import DevstackCore
import DevstackProject
import DevstackSystem
import Foundation
import Hummingbird
import NIOCore

/// The lease API, mounted under `/v1` on the control socket and under the run's token on loopback TCP:
///
///     POST   /leases          {service?, pid?} (JSON body or query) → 201 LeaseRecord {name, url, …}
///     GET    /leases          [LeaseRecord]
///     DELETE /leases/{name}   → 200 {ok: true}
///
/// Errors are `{ok: false, message, fix}` with 404 (no such service or lease), 409 (refused: the
/// stack is stopping) or 503 (the database cannot do it now), never a 500.
///
/// A lease lives with its holder: the `pid` given, else (over TCP) the process at the other end of
/// the connection that asked; asked over the socket without a pid, it lives until released,
/// reset, `down` or its maximum age.
enum LeaseRoutes {
    struct LeaseRequest: Decodable {
        var service: String?
        var pid: Int32?
    }

    static func collection(_ supervisor: Supervisor) -> RouteCollection<ControlRequestContext> {
        let routes = RouteCollection(context: ControlRequestContext.self)
        routes.post("leases") { request, context in
            let asked: LeaseRequest
            do {
                asked = try await body(of: request)
            } catch {
                return try ControlServer.json(
                    ControlReply(
                        ok: false, message: "the body is not a lease request: \(error)", fix: #"send {"service": "db", "pid": 1234} or nothing"#),
                    status: .badRequest)
            }
            var holder = asked.pid
            if holder == nil, let client = context.clientPort, let server = context.serverPort {
                holder = ProcessTable.connectionOwner(clientPort: client, serverPort: server)
            }
            return try await reply(status: .created) { try await supervisor.lease(service: asked.service, holder: holder) }
        }
        routes.get("leases") { _, _ in
            try ControlServer.json(await supervisor.leases())
        }
        routes.delete("leases/:name") { _, context in
            let name = context.parameters.get("name") ?? ""
            return try await reply {
                try await supervisor.releaseLease(name)
                return ControlReply(ok: true, message: "released \(name)")
            }
        }
        return routes
    }

    /// The request's fields from its JSON body, else from its query; an empty body is no request fields.
    private static func body(of request: Request) async throws -> LeaseRequest {
        let buffer = try await request.body.collect(upTo: 64 << 10)
        var asked =
            buffer.readableBytes == 0
            ? LeaseRequest() : try StateStore.decoder.decode(LeaseRequest.self, from: Data(buffer: buffer))
        let query = request.uri.queryParameters
        if asked.service == nil, let service = query.get("service") { asked.service = service }
        if asked.pid == nil, let pid = query.get("pid") {
            guard let number = Int32(pid) else { throw SupervisorError(.refused, "pid '\(pid)' is not a number") }
            asked.pid = number
        }
        return asked
    }

    private static func reply(status: HTTPResponse.Status = .ok, _ work: () async throws -> some Encodable) async throws -> Response {
        do {
            return try ControlServer.json(try await work(), status: status)
        } catch let error as SupervisorError {
            let code: HTTPResponse.Status =
                switch error.kind {
                case .unknownService, .unknownLease: .notFound
                case .refused: .conflict
                default: .serviceUnavailable
                }
            return try ControlServer.json(
                ControlReply(ok: false, message: error.message, refused: error.kind == .refused, fix: error.fix, code: error.code), status: code)
        } catch let error as any DevstackError {
            return try ControlServer.json(ControlReply(ok: false, message: error.message, fix: error.fix), status: .serviceUnavailable)
        } catch {
            return try ControlServer.json(ControlReply(ok: false, message: "\(error)"), status: .serviceUnavailable)
        }
    }
}
