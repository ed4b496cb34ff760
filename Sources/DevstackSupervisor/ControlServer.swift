import DevstackCore
import DevstackDriverKit
import DevstackHTTP
import DevstackProject
import DevstackSystem
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The running supervisor's control API: HTTP on a Unix socket in the state folder (mode 0600).
///
///     GET  /v1/status                      StatusReport
///     POST /v1/services/{name}/stop|start|restart
///     POST /v1/reset[?to=SNAPSHOT][&force=1]  [ResetOutcome]; 409 {ok, message, refused, fix} when refused or failed
///     POST /v1/down                        stop the stack
public final class ControlServer: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    public init(socket: String, supervisor: Supervisor) async throws {
        unlink(socket)
        let router = Router()
        router.get("/v1/status") { _, _ in
            try Self.json(await supervisor.status())
        }
        router.post("/v1/services/:name/:action") { _, context in
            let name = context.parameters.get("name") ?? ""
            do {
                switch context.parameters.get("action") {
                case "stop": try await supervisor.stopService(name)
                case "start": try await supervisor.start(name)
                case "restart": try await supervisor.restart(name)
                default: return try Self.json(ControlReply(ok: false, message: "unknown action; use stop, start or restart"), status: .notFound)
                }
                return try Self.json(ControlReply(ok: true, message: nil))
            } catch let error as SupervisorError {
                return try Self.json(ControlReply(ok: false, message: error.message), status: .notFound)
            }
        }
        router.post("/v1/reset") { request, _ in
            let snapshot = request.uri.queryParameters.get("to")
            let force = request.uri.queryParameters.get("force") == "1"
            do {
                return try Self.json(try await supervisor.reset(to: snapshot, force: force))
            } catch let error as SupervisorError {
                return try Self.json(
                    ControlReply(ok: false, message: error.message, refused: error.kind == .refused, fix: error.fix), status: .conflict)
            } catch {
                return try Self.json(ControlReply(ok: false, message: "\(error)"), status: .conflict)
            }
        }
        router.post("/v1/down") { _, _ in
            await supervisor.requestShutdown()
            return try Self.json(ControlReply(ok: true, message: nil), status: .accepted)
        }
        var logger = Logger(label: "devstack.control")
        logger.logLevel = .critical
        let ready = ExitLatch()
        let application = Application(
            router: router, server: .devstack(), configuration: .init(address: .unixDomainSocket(path: socket), serverName: "devstack"),
            onServerRunning: { _ in
                chmod(socket, 0o600)
                ready.resolve(.exited(0))
            }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        running = Task {
            do { try await group.run() } catch { ready.resolve(.exited(1)) }
        }
        guard await ready.wait() == .exited(0) else {
            throw SupervisorError(.control, "cannot listen on \(socket)", fix: "remove the file if it is stale, and check the folder's permissions")
        }
    }

    public func stop() async {
        await group.triggerGracefulShutdown()
        await running.value
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try StateStore.encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

struct ControlReply: Codable, Sendable {
    var ok: Bool
    var message: String?
    var refused: Bool?
    var fix: String?
}
