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
///     GET  /v1/status[?settled=1]          StatusReport (once every service has settled)
///     POST /v1/services/{name}/stop|start|restart
///     POST /v1/reset[?to=SNAPSHOT][&force=1]  [ResetOutcome]; 409 {ok, message, refused, fix} when refused or failed
///     POST /v1/down                        stop the stack
///     GET  /healthz                        200 when every service is up, else 503 naming the others
///     GET  /metrics                        Prometheus text
///     GET  /v1/backups                     BackupListing
///     POST /v1/backups[?kind=full|diff|incr]   BackupRecord (taken and verified)
///     POST /v1/backups/verify[?label=L]    RepositoryCheck
///     POST /v1/backups/restore?label=L|to=TIME|latest=1[&force=1]   RestoreOutcome
///     /v1/leases…                          the lease API (`LeaseRoutes`)
///
/// With the profile's `metrics: { port }`, `/healthz` and `/metrics` are also served on 127.0.0.1:port.
/// The lease API alone is also served on a loopback TCP port under the run's random token, for test
/// processes in any language: `DEVSTACK_LEASE_URL` is `http://127.0.0.1:PORT/TOKEN`.
public final class ControlServer: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, Never>
    public let leaseURL: String

    /// `hosted`: given when the profile names this machine as its `host:`; the control API is then also
    /// served to other machines (`RemoteControl`).
    public init(socket: String, supervisor: Supervisor, metricsPort: Int? = nil, hosted: HostedActions? = nil) async throws {
        unlink(socket)
        let router = Router(context: ControlRequestContext.self)
        router.addRoutes(LeaseRoutes.collection(supervisor), atPath: "/v1")
        router.addRoutes(Self.stackRoutes(supervisor))
        router.post("/v1/down") { _, _ in
            await supervisor.requestShutdown()
            return try Self.json(ControlReply(ok: true, message: nil), status: .accepted)
        }
        var logger = Logger(label: "devstack.control")
        logger.logLevel = .critical
        let listening = FirstAnswer<Bool>()
        let application = Application(
            router: router, server: .devstack(), configuration: .init(address: .unixDomainSocket(path: socket), serverName: "devstack"),
            onServerRunning: { _ in
                chmod(socket, 0o600)
                listening.resolve(true)
            }, logger: logger)

        let token = RandomHex.of(bytes: 16)
        let leaseRouter = Router(context: ControlRequestContext.self)
        leaseRouter.addRoutes(LeaseRoutes.collection(supervisor), atPath: RouterPath(token))
        let leasePort = FirstAnswer<Int?>()
        let leaseApplication = Application(
            router: leaseRouter, server: .devstack(), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "devstack"),
            onServerRunning: { channel in leasePort.resolve(channel.localAddress?.port) }, logger: logger)

        var services: [any Service] = [application, leaseApplication]
        // For a local Prometheus or node-exporter: the same two routes on a loopback port of the profile's choosing.
        let metricsListening = FirstAnswer<Bool>()
        if let port = metricsPort {
            let metricsRouter = Router(context: ControlRequestContext.self)
            metricsRouter.addRoutes(Self.monitoring(supervisor))
            services.append(
                Application(
                    router: metricsRouter, server: .devstack(),
                    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "devstack"),
                    onServerRunning: { _ in metricsListening.resolve(true) }, logger: logger))
        } else {
            metricsListening.resolve(true)
        }
        let remoteListening = FirstAnswer<Bool>()
        let machine = supervisor.plan.profile.machine
        if let hosted, let machine, let exposure = supervisor.plan.profile.exposure {
            do {
                services.append(
                    try RemoteControl.application(
                        machine, exposure: exposure, supervisor: supervisor, actions: hosted, logger: logger, onRunning: remoteListening.resolve))
            } catch {
                throw SupervisorError(
                    .control, "cannot serve the control API on \(machine.endpoint): \(error)",
                    fix: "remove \(exposure.directory) and start again: devstack makes a new certificate (clients then log in again)")
            }
        } else {
            remoteListening.resolve(true)
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
        self.group = group
        running = Task {
            do { try await group.run() } catch {
                listening.resolve(false)
                leasePort.resolve(nil)
                metricsListening.resolve(false)
                remoteListening.resolve(false)
            }
        }
        guard await listening.wait() else {
            throw SupervisorError(.control, "cannot listen on \(socket)", fix: "remove the file if it is stale, and check the folder's permissions")
        }
        guard let port = await leasePort.wait() else {
            throw SupervisorError(.control, "cannot listen on a loopback TCP port for the lease API", fix: "check that 127.0.0.1 is up")
        }
        leaseURL = "http://127.0.0.1:\(port)/\(token)"
        if let machine, await !remoteListening.wait() {
            throw SupervisorError(
                .portInUse, "cannot listen on \(machine.endpoint), the profile's host: (the control API for other machines)",
                fix: "choose another port under host: { port: N }, or stop what holds it")
        }
        if let metricsPort, await !metricsListening.wait() {
            throw SupervisorError(
                .portInUse, "cannot listen on 127.0.0.1:\(metricsPort) for the profile's metrics port",
                fix: "choose another port under metrics: { port: N } in the profile, or stop what holds it")
        }
    }

    /// What the control socket and the host's TLS port both serve: status, services, reset, backups, monitoring.
    static func stackRoutes<Context: RequestContext>(_ supervisor: Supervisor) -> RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("/v1/status") { request, _ in
            // `?settled=1`: answered once every service has settled (`up --detach` waits on it, not by polling).
            var report = request.uri.queryParameters.get("settled") == "1" ? await supervisor.waitUntilSettled() : await supervisor.status()
            report.backups = await supervisor.backupStatus()
            return try Self.json(report)
        }
        routes.get("/v1/backups") { _, _ in try await Self.answer { try await supervisor.backupListing() } }
        routes.post("/v1/backups") { request, _ in
            guard let kind = BackupRecord.Kind(rawValue: request.uri.queryParameters.get("kind") ?? "full") else {
                return try Self.json(ControlReply(ok: false, message: "unknown backup kind; use full, diff or incr"), status: .badRequest)
            }
            return try await Self.answer { try await supervisor.backupNow(kind) }
        }
        routes.post("/v1/backups/verify") { request, _ in
            try await Self.answer { try await supervisor.verifyBackup(request.uri.queryParameters.get("label").map { String($0) }) }
        }
        routes.post("/v1/backups/restore") { request, _ in
            let query = request.uri.queryParameters
            let target: RestoreTarget
            if let label = query.get("label") {
                target = .backup(String(label))
            } else if let text = query.get("to") {
                guard let date = BackupTime.parse(String(text)) else {
                    return try Self.json(
                        ControlReply(ok: false, message: "'\(text)' is not a time", fix: "write e.g. 2026-12-06T14:05:00Z"), status: .badRequest)
                }
                target = .time(date)
            } else {
                target = .latest
            }
            return try await Self.answer { try await supervisor.restoreBackup(to: target, force: query.get("force") == "1") }
        }
        routes.post("/v1/services/:name/:action") { _, context in
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
        routes.post("/v1/reset") { request, _ in
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
        routes.addRoutes(monitoring(supervisor))
        return routes
    }

    /// `GET /healthz` and `GET /metrics`.
    static func monitoring<Context: RequestContext>(_ supervisor: Supervisor) -> RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("/healthz") { _, _ in
            let report = await supervisor.status()
            let waiting = report.services.filter { !$0.phase.isUp }.map { "\($0.name) (\($0.phase.rawValue))" }
            return try Self.json(
                HealthReply(status: waiting.isEmpty ? "ok" : "unavailable", waiting: waiting), status: waiting.isEmpty ? .ok : .serviceUnavailable)
        }
        routes.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await supervisor.metrics())))
        }
        return routes
    }

    public func stop() async {
        await group.triggerGracefulShutdown()
        await running.value
    }

    /// The value as JSON, or the error as a `ControlReply` (409) carrying its code, so the client raises it again.
    static func answer(_ body: () async throws -> some Encodable) async throws -> Response {
        do { return try json(try await body()) } catch { return try failure(error) }
    }

    /// The error as a `ControlReply` (409) carrying its code.
    static func failure(_ error: any Error) throws -> Response {
        guard let error = error as? any DevstackError else { return try json(ControlReply(ok: false, message: "\(error)"), status: .conflict) }
        return try json(
            ControlReply(ok: false, message: error.message, refused: error.exitStatus == 3, fix: error.fix, code: error.code), status: .conflict)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try StateStore.encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// What the control API knows of a request beyond Hummingbird's basics: the connection's ports, so a
/// lease asked over TCP can live with the process that asked.
public struct ControlRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let clientPort: Int?
    let serverPort: Int?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientPort = source.channel.remoteAddress?.port
        serverPort = source.channel.localAddress?.port
    }
}

/// The first value a listener reports (running, its port); later ones are ignored.
final class FirstAnswer<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    private var waiters: [CheckedContinuation<Value, Never>] = []

    func resolve(_ answer: Value) {
        let waiting = lock.withLock { () -> [CheckedContinuation<Value, Never>] in
            guard value == nil else { return [] }
            value = answer
            defer { waiters = [] }
            return waiters
        }
        waiting.forEach { $0.resume(returning: answer) }
    }

    func wait() async -> Value {
        await withCheckedContinuation { continuation in
            let known = lock.withLock { () -> Value? in
                if let value { return value }
                waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}

struct ControlReply: Codable, Sendable {
    var ok: Bool
    var message: String?
    var refused: Bool?
    var fix: String?
    /// The error's code, so a client raises the same error the supervisor met.
    var code: String?
}

/// `GET /healthz`: `ok`, or `unavailable` with the services not up.
struct HealthReply: Codable, Sendable {
    var status: String
    var waiting: [String]
}
