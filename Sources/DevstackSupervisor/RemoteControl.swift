import DevstackCore
import DevstackProject
import DevstackSystem
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// What a host does for its clients that the runtime leaves to the layers above it (smoke checks,
/// migrations): given by the command that starts the stack.
public struct HostedActions: Sendable {
    /// The stack's smoke checks (all, or those named), run on the host; the results as JSON.
    public var smoke: @Sendable (Plan, [String]) async throws -> Data
    /// The migrations applied to the stack's database: version → checksum of the statements.
    public var appliedMigrations: @Sendable (Plan) async throws -> [String: String]
    /// Applies the files in order, each in its own transaction; returns the names applied.
    public var migrate: @Sendable (Plan, [MigrationUpload]) async throws -> [String]
    /// Saves, lists or removes a snapshot of the stack's database; the answer as JSON.
    public var snapshot: @Sendable (Plan, SnapshotAction) async throws -> Data

    public init(
        smoke: @escaping @Sendable (Plan, [String]) async throws -> Data,
        appliedMigrations: @escaping @Sendable (Plan) async throws -> [String: String],
        migrate: @escaping @Sendable (Plan, [MigrationUpload]) async throws -> [String],
        snapshot: @escaping @Sendable (Plan, SnapshotAction) async throws -> Data
    ) {
        self.smoke = smoke
        self.appliedMigrations = appliedMigrations
        self.migrate = migrate
        self.snapshot = snapshot
    }
}

/// What a client asks of the host's snapshots (restoring one is a reset: `POST /v1/reset?to=NAME`).
public enum SnapshotAction: Sendable {
    case save(String)
    case list
    case remove(String)
}

/// A migration file a client sends to the host: its name and text.
public struct MigrationUpload: Codable, Sendable {
    public var name: String
    public var contents: String

    public init(name: String, contents: String) {
        self.name = name
        self.contents = contents
    }
}

/// Who a token is, as the host tells its holder.
public struct RemoteIdentity: Codable, Sendable {
    public var name: String
    public var role: AccessRole
    public var project: String
    public var stack: String
    public var profile: String
}

/// What a client needs to wire its own tools to the host's stack: the secrets its role may see and
/// the ports the stack listens on.
public struct RemoteConnection: Codable, Sendable {
    public var role: AccessRole
    public var secrets: [String: String]
    public var runningPorts: [String: [String: Int]]
}

public struct RemoteLogLine: Codable, Sendable {
    public var service: String
    public var timestamp: Date?
    public var text: String
}

/// The control API served to other machines: on the profile's `host:` address and port, over TLS with
/// the profile's certificate (signed by its own authority), and only with a token from `devstack token
/// create`. Every call is logged with the token's name in `.devstack/<profile>/remote-calls.log`.
///
///     GET  /v1/ca.pem                   the authority's certificate (no token: clients check its SHA-256)
///     GET  /v1/whoami                   read   RemoteIdentity
///     GET  /v1/status, /healthz, /metrics, /v1/migrations, /v1/connection   read (connection's secrets by role)
///     GET  /v1/logs?service=S&lines=N&since=T   test
///     POST /v1/smoke[?check=NAME…]      test   the stack's smoke checks, run on the host
///     GET  /v1/snapshots, POST|DELETE /v1/snapshots/{name}   test   list, save, remove
///     GET  /v1/backups                  test
///     POST /v1/reset, /v1/migrations, /v1/services/…, /v1/backups…   admin
enum RemoteControl {
    /// Secrets that never leave the host, whatever the role.
    static let hostOnlySecrets: Set<String> = ["backup_key"]

    static func requiredRole(method: HTTPRequest.Method, path: String) -> AccessRole? {
        if path == "/v1/ca.pem" { return nil }
        if method == .get || method == .head {
            switch path {
            case "/v1/logs", "/v1/backups", "/v1/snapshots": return .test
            default: return .read
            }
        }
        return path == "/v1/smoke" || path.hasPrefix("/v1/snapshots/") ? .test : .admin
    }

    static func application(
        _ host: HostSpec, exposure: PlannedExposure, supervisor: Supervisor, actions: HostedActions, logger: Logger,
        onRunning: @escaping @Sendable (Bool) -> Void
    ) throws -> some ApplicationProtocol {
        let plan = supervisor.plan
        let tokens = AccessTokens(stateDirectory: plan.stateDirectory)
        let router = Router(context: RemoteRequestContext.self)
        router.add(
            middleware: RemoteAccess(tokens: tokens, calls: try CallLog(directory: plan.stateDirectory, rotation: plan.profile.logRotation)))
        router.get("/v1/ca.pem") { _, _ in
            let pem = (try? String(contentsOfFile: exposure.authorityFile, encoding: .utf8)) ?? ""
            return Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: .init(byteBuffer: ByteBuffer(string: pem)))
        }
        router.get("/v1/whoami") { _, context in
            try ControlServer.json(
                RemoteIdentity(
                    name: context.caller?.name ?? "", role: context.caller?.role ?? .read,
                    project: URL(fileURLWithPath: plan.projectDirectory).lastPathComponent, stack: plan.stack, profile: plan.profile.name))
        }
        router.get("/v1/connection") { _, context in
            let role = context.caller?.role ?? .read
            let secrets = plan.secrets.filter { name, _ in
                !hostOnlySecrets.contains(name) && (role >= .test || name == BuiltInSecret.anonKey.rawValue)
            }
            return try ControlServer.json(
                RemoteConnection(
                    role: role, secrets: secrets, runningPorts: StateStore(directory: plan.stateDirectory).running()?.runningPorts ?? [:]))
        }
        router.get("/v1/logs") { request, _ in
            let query = request.uri.queryParameters
            let directory = StateStore(directory: plan.stateDirectory).logDirectory
            let known = LogReader.services(in: directory)
            let asked = query.getAll("service").map { String($0) }
            if let missing = asked.first(where: { !known.contains($0) }) {
                return try ControlServer.json(
                    ControlReply(ok: false, message: "no logs for '\(missing)' on the host", fix: "logs exist for: \(known.joined(separator: ", "))"),
                    status: .notFound)
            }
            let since = query.get("since").flatMap { LogReader.parseSince(String($0)) }
            let (lines, _) = LogReader.read(
                services: asked.isEmpty ? known : asked, directory: directory, last: query.get("lines").flatMap { Int(String($0)) }, since: since)
            return try ControlServer.json(lines.map { RemoteLogLine(service: $0.service, timestamp: $0.timestamp, text: $0.text) })
        }
        router.post("/v1/smoke") { request, _ in
            try await relay { try await actions.smoke(plan, request.uri.queryParameters.getAll("check").map { String($0) }) }
        }
        router.get("/v1/snapshots") { _, _ in try await relay { try await actions.snapshot(plan, .list) } }
        router.post("/v1/snapshots/:name") { _, context in
            try await relay { try await actions.snapshot(plan, .save(context.parameters.get("name") ?? "")) }
        }
        router.delete("/v1/snapshots/:name") { _, context in
            try await relay { try await actions.snapshot(plan, .remove(context.parameters.get("name") ?? "")) }
        }
        router.get("/v1/migrations") { _, _ in try await ControlServer.answer { try await actions.appliedMigrations(plan) } }
        router.post("/v1/migrations") { request, context in
            let body = try await request.body.collect(upTo: 64 << 20)
            guard let files = try? JSONDecoder().decode([MigrationUpload].self, from: Data(buffer: body)) else {
                return try ControlServer.json(
                    ControlReply(ok: false, message: "the body is not a list of {name, contents}", fix: "send what devstack migrate sends"),
                    status: .badRequest)
            }
            return try await ControlServer.answer { try await actions.migrate(plan, files) }
        }
        router.addRoutes(ControlServer.stackRoutes(supervisor))
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(exposure.certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: exposure.keyFile, format: .pem)))
        return Application(
            router: router, server: try .tls(.devstack(), tlsConfiguration: configuration),
            configuration: .init(address: .hostname(host.address, port: host.port), serverName: "devstack"),
            onServerRunning: { _ in onRunning(true) }, logger: logger)
    }
}

/// The JSON the layers above made, or their error as the control API's reply.
private func relay(_ body: () async throws -> Data) async throws -> Response {
    do {
        let data = try await body()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    } catch {
        return try ControlServer.failure(error)
    }
}

/// A request to the host's TLS control port, and the token it came with once checked.
struct RemoteRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var caller: AccessTokens.Entry?
    let client: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = source.channel.remoteAddress?.ipAddress ?? "?"
    }
}

/// Checks the bearer token and its role for every call, and logs the call with the token's name.
struct RemoteAccess: RouterMiddleware {
    let tokens: AccessTokens
    let calls: CallLog

    func handle(
        _ request: Request, context: RemoteRequestContext, next: (Request, RemoteRequestContext) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        guard let required = RemoteControl.requiredRole(method: request.method, path: path) else { return try await next(request, context) }
        let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let caller = presented.flatMap(tokens.entry(for:)) else {
            calls.record(name: nil, role: nil, request: request, client: context.client, status: 401)
            return try ControlServer.json(
                ControlReply(
                    ok: false,
                    message: presented == nil ? "this call needs a token" : "the token is not known here (revoked, or never made on this host)",
                    fix: "on the host: devstack token create NAME --role read|test|admin; here: devstack login PROFILE --token …",
                    code: "unauthorized"),
                status: .unauthorized)
        }
        guard caller.role >= required else {
            calls.record(name: caller.name, role: caller.role, request: request, client: context.client, status: 403)
            return try ControlServer.json(
                ControlReply(
                    ok: false,
                    message: "token '\(caller.name)' has role \(caller.role.rawValue); \(request.method.rawValue) \(path) needs \(required.rawValue)",
                    refused: true,
                    fix: "ask the host's owner for a token with role \(required.rawValue) (devstack token create NAME --role \(required.rawValue))",
                    code: "forbidden"),
                status: .forbidden)
        }
        var context = context
        context.caller = caller
        let response = try await next(request, context)
        calls.record(name: caller.name, role: caller.role, request: request, client: context.client, status: Int(response.status.code))
        return response
    }
}

/// `remote-calls.log`: one line per call from another machine (time, token, role, client, request,
/// status), rotated as the services' logs are (the profile's `logs:`).
final class CallLog: @unchecked Sendable {
    static let name = "remote-calls"
    private let directory: String
    private let rotation: LogRotation
    private let lock = NSLock()
    private var descriptor: Int32

    init(directory: String, rotation: LogRotation) throws {
        self.directory = directory
        self.rotation = rotation
        descriptor = try Self.open(LogFiles.path(directory: directory, service: Self.name))
    }

    deinit { close(descriptor) }

    private static func open(_ file: String) throws -> Int32 {
        let descriptor = Foundation.open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SupervisorError(.control, "cannot open \(file): \(String(cString: strerror(errno)))", fix: "check the folder's permissions")
        }
        return descriptor
    }

    func record(name: String?, role: AccessRole?, request: Request, client: String, status: Int) {
        let time = Date().formatted(.iso8601)
        let who = name.map { "token=\($0) role=\(role?.rawValue ?? "?")" } ?? "token=-"
        let line = "\(time) \(who) client=\(client) \(request.method.rawValue) \(request.uri.path) \(status)\n"
        lock.withLock {
            // One write with O_APPEND: lines from concurrent calls never interleave.
            _ = Descriptor.writeAll(descriptor, Data(line.utf8))
            guard lseek(descriptor, 0, SEEK_END) > rotation.maxBytes else { return }
            close(descriptor)
            LogFiles.rotate(directory: directory, service: Self.name, keep: rotation.keep)
            descriptor = (try? Self.open(LogFiles.path(directory: directory, service: Self.name))) ?? -1
        }
    }
}
