import DevstackCore
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A connection devstack itself uses: readiness, bootstrap, migrations, seed, reset.
public struct PostgresSession: Sendable {
    public let connection: PostgresConnection
    static let quiet = Logger(label: "devstack.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    public struct Endpoint: Sendable, Codable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String
        public var database: String
        /// The server's private Unix socket: devstack's own connections skip the password exchange there.
        public var socketDirectory: String?

        public init(host: String, port: Int, user: String, password: String, database: String, socketDirectory: String? = nil) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.socketDirectory = socketDirectory
        }

        /// The socket file Postgres creates in its socket folder.
        public var socketPath: String? { socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } }

        /// A connection pool on this endpoint, for long-running services (the auth emulator).
        public var poolConfiguration: PostgresClient.Configuration {
            socketPath.map { .init(unixSocketPath: $0, username: user, password: password, database: database) }
                ?? .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }

        public func with(database: String) -> Endpoint {
            var copy = self
            copy.database = database
            return copy
        }
    }

    public static func connect(_ endpoint: Endpoint) async throws -> PostgresSession {
        let configuration =
            endpoint.socketPath.map {
                PostgresConnection.Configuration(
                    unixSocketPath: $0, username: endpoint.user, password: endpoint.password, database: endpoint.database)
            }
            ?? PostgresConnection.Configuration(
                host: endpoint.host, port: endpoint.port, username: endpoint.user, password: endpoint.password, database: endpoint.database,
                tls: .disable)
        return PostgresSession(connection: try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quiet))
    }

    public static func with<T: Sendable>(_ endpoint: Endpoint, _ body: (PostgresSession) async throws -> T) async throws -> T {
        let session = try await connect(endpoint)
        do {
            let result = try await body(session)
            try? await session.connection.close()
            return result
        } catch {
            try? await session.connection.close()
            throw error
        }
    }

    /// Closes without waiting for the server to see the connection go (~2 ms), for a long-running
    /// process that has nothing more to do with it.
    public func closeInBackground() {
        let connection = connection
        Task { try? await connection.close() }
    }

    /// Runs one statement, discarding rows.
    public func execute(_ sql: String) async throws {
        for try await _ in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.quiet) {}
    }

    /// The first column of every row, as text.
    public func strings(_ sql: String) async throws -> [String] {
        var values: [String] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.quiet) {
            values.append((try? row.decode(String.self)) ?? "")
        }
        return values
    }

    /// Every row of any statement, each column as text whatever its type: for a query devstack did
    /// not write (a smoke check's), whose columns come back in Postgres's binary form.
    public func printedRows(_ sql: String) async throws -> [[String?]] {
        var rows: [[String?]] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.quiet) {
            rows.append(row.map(Self.printed))
        }
        return rows
    }

    private static func printed(_ cell: PostgresCell) -> String? {
        guard var bytes = cell.bytes else { return nil }
        if cell.format == .text { return bytes.readString(length: bytes.readableBytes) }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return (try? cell.decode(Int.self)).map(String.init)
        case .float4, .float8: return (try? cell.decode(Double.self)).map { String($0) }
        case .bool: return (try? cell.decode(Bool.self)).map { $0 ? "t" : "f" }
        case .uuid: return (try? cell.decode(UUID.self))?.uuidString.lowercased()
        case .numeric: return (try? cell.decode(Decimal.self)).map { "\($0)" }
        case .timestamptz, .timestamp, .date: return (try? cell.decode(Date.self)).map { ISO8601DateFormatter().string(from: $0) }
        case .jsonb:
            // A version byte, then the JSON text.
            bytes.moveReaderIndex(forwardBy: 1)
            return bytes.readString(length: bytes.readableBytes)
        default: return bytes.readString(length: bytes.readableBytes)
        }
    }

    /// Rows of text columns. Plain SQL: devstack quotes what it puts in (a `PostgresQuery`
    /// interpolation would silently bind it as a parameter instead).
    public func rows(_ sql: String) async throws -> [[String?]] {
        var rows: [[String?]] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.quiet) {
            rows.append(row.map { cell in try? cell.decode(String?.self) ?? nil })
        }
        return rows
    }

    /// The statements of a script in one transaction; an error names the file, the line and Postgres's message.
    func run(_ script: SQLScript, file: String, then finish: [String] = []) async throws {
        try await execute("begin")
        for statement in script.statements {
            do {
                try await execute(statement.text)
            } catch {
                try? await execute("rollback")
                throw ScriptFailure(file: file, line: Self.line(of: error, in: statement), message: Self.message(of: error))
            }
        }
        for sql in finish { try await execute(sql) }
        try await execute("commit")
    }

    struct ScriptFailure: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var message: String
        var description: String { "\(file):\(line): \(message)" }
    }

    /// Postgres gives a character position within the statement; turn it into a file line.
    static func line(of error: Error, in statement: SQLScript.Statement) -> Int {
        guard let info = (error as? PSQLError)?.serverInfo, let position = info[.position].flatMap(Int.init), position > 0 else {
            return statement.line
        }
        let prefix = statement.text.prefix(position - 1)
        return statement.line + prefix.filter { $0 == "\n" }.count
    }

    /// The SQLSTATE of a server error (28P01: wrong password).
    public static func sqlState(of error: Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    public static func message(of error: Error) -> String {
        guard let psql = error as? PSQLError else { return "\(error)" }
        guard let info = psql.serverInfo else { return "\(psql.code)" + (psql.underlying.map { ": \($0)" } ?? "") }
        var text = "\(info[.severity] ?? "ERROR"): \(info[.message] ?? "unknown error")"
        if let detail = info[.detail] { text += " (\(detail))" }
        if let hint = info[.hint] { text += "; hint: \(hint)" }
        return text
    }
}

extension PostgresSession.Endpoint {
    /// How to reach a planned Postgres service with its own credentials; nil when the plan gives no port or password.
    public static func of(_ service: PlannedService, database: String? = nil) -> PostgresSession.Endpoint? {
        guard let port = service.primaryPort, let password = service.attributes["password"] else { return nil }
        return PostgresSession.Endpoint(
            host: service.attributes["host"] ?? "127.0.0.1", port: port, user: service.attributes["user"] ?? "postgres", password: password,
            database: database ?? service.attributes["database"] ?? service.name, socketDirectory: service.attributes["socket"])
    }
}

extension PostgresSession.Endpoint {
    /// `postgresql://user:password@host:port/database`, as a remote profile gives it.
    public init?(url text: String) {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""), let host = url.host,
            let user = url.user, let password = url.password
        else { return nil }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        self.init(
            host: host, port: url.port ?? 5432, user: user.removingPercentEncoding ?? user, password: password.removingPercentEncoding ?? password,
            database: database.isEmpty ? "postgres" : database)
    }
}
