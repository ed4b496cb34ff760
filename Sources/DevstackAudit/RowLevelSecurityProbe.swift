import AuthEmulator
import DevstackCore
import DevstackPostgres
import DevstackSupervisor
import DevstackSystem
import Foundation

/// Row-level security tried for real, on a leased copy of the database and never the live one: two
/// users signed up through an auth emulator of the audit's own (on that copy) each add a row, and
/// each must not read, update or delete the other's as `authenticated`; `anon` must read neither
/// unless a policy scoped to anon lets it.
struct RowLevelSecurityProbe: AuditCheck {
    let id = "rls.dynamic"
    let title = "Row-level security, tried with two users"

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let lookedAt = "every table in \(context.exposedSchemas.joined(separator: ", ")), on a leased copy of the database"
        guard !context.readOnly else {
            return .notChecked(self, lookedAt: lookedAt, because: "profile '\(context.plan.profile.name)' is remote: only read-only checks run there")
        }
        guard let database = context.database, database.setting("supabase") == .bool(true) else {
            return .notChecked(self, lookedAt: lookedAt, because: "needs a postgres service with supabase: true (the anon and authenticated roles)")
        }
        guard let running = context.running else {
            return .notChecked(
                self, lookedAt: lookedAt, because: "the stack is not running: `devstack up --profile \(context.plan.profile.name)` first")
        }
        let control = ControlClient(socket: running.controlSocket)
        let lease: LeaseRecord
        do {
            lease = try await control.lease(service: database.name, holder: getpid())
        } catch {
            return .notChecked(self, lookedAt: lookedAt, because: "no database could be leased: \(error)")
        }
        let outcome = await probe(lease: lease, of: database, context: context, lookedAt: lookedAt)
        try? await control.releaseLease(lease.name)
        return outcome
    }

    private func probe(lease: LeaseRecord, of database: PlannedService, context: AuditContext, lookedAt: String) async -> AuditCheckResult {
        do {
            guard let endpoint = PostgresSession.Endpoint.of(database, database: lease.name) else {
                throw AuditProblem("\(database.name) has no port")
            }
            let users = try await signUpTwoUsers(on: endpoint, jwtSecret: context.plan.secrets["jwt_secret"] ?? RandomHex.of(bytes: 32))
            let findings = try await PostgresSession.with(endpoint) { session in
                var findings: [AuditFinding] = []
                for table in try await session.strings(
                    """
                    select quote_ident(n.nspname) || '.' || quote_ident(c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where n.nspname = any(\(SQL.array(context.exposedSchemas))) and c.relkind in ('r', 'p') and not c.relispartition
                    order by 1
                    """)
                {
                    findings.append(try await TableProbe(table: table, users: users, session: session).run())
                }
                return findings
            }
            let proven = findings.filter { $0.status == .pass }.count
            let leaked = findings.filter { $0.status == .fail }.count
            let untried = findings.count - proven - leaked
            return result(
                lookedAt: lookedAt,
                summary:
                    "\(findings.count) table\(findings.count == 1 ? "" : "s"): \(proven) proven private, \(leaked) leaked, \(untried) could not be tried",
                findings: findings,
                fix: "write policies that scope every command to the row's owner (using and with check (user_id = auth.uid())); "
                    + "a table that could not be tried needs an insert policy, or a row a test can add")
        } catch {
            return .notChecked(self, lookedAt: lookedAt, because: describe(error))
        }
    }

    /// Two users made through an emulator on the leased copy, as a client would make them.
    private func signUpTwoUsers(on endpoint: PostgresSession.Endpoint, jwtSecret: String) async throws -> [ProbeUser] {
        guard let port = Ports.freePort(avoiding: []) else { throw AuditProblem("no free port for the audit's auth emulator") }
        let configuration = AuthConfiguration(
            service: "audit", host: "127.0.0.1", port: port, externalURL: "http://127.0.0.1:\(port)",
            database: .init(
                host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database: endpoint.database,
                socketDirectory: endpoint.socketDirectory),
            jwtSecret: jwtSecret, bcryptCost: 4)
        return try await AuthService.withScratchServer(configuration: configuration) { base in
            var users: [ProbeUser] = []
            for name in ["a", "b"] {
                let email = "devstack-audit-\(name)-\(RandomHex.of(bytes: 4))@example.com"
                let answer = try await AuditHTTP.send("POST", "\(base)/signup", json: ["email": email, "password": RandomHex.of(bytes: 12)])
                guard answer.status == 200, let token = answer.json?["access_token"] as? String,
                    let id = (answer.json?["user"] as? [String: Any])?["id"] as? String
                else {
                    throw AuditProblem(
                        "signing up a test user answered \(answer.status): \(String(decoding: answer.body.prefix(200), as: UTF8.self))")
                }
                users.append(ProbeUser(name: "user \(name.uppercased())", id: id, claims: Self.payload(of: token)))
            }
            return users
        }
    }

    /// A token's claims as JSON text, as PostgREST hands them to Postgres in `request.jwt.claims`.
    static func payload(of token: String) -> String {
        let part = token.split(separator: ".").dropFirst().first.map(String.init) ?? ""
        return TokenForge.data(base64URL: part).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

struct ProbeUser: Sendable {
    var name: String
    var id: String
    var claims: String
}

/// One table: each user adds a row as `authenticated`, then tries the other's; `anon` tries both.
/// Every try runs in a transaction rolled back afterwards, so one does not disturb the next.
struct TableProbe {
    let table: String
    let users: [ProbeUser]
    let session: PostgresSession

    func run() async throws -> AuditFinding {
        let values = try await insertValues()
        guard let values else { return AuditFinding(table, .warn, "could not be tried: a column needs a value the audit cannot make up") }
        var rows: [String] = []
        for user in users {
            switch try await insert(as: user, values: values) {
            case .success(let row): rows.append(row)
            case .failure(let reason): return AuditFinding(table, .warn, "could not be tried: \(user.name)'s row was refused (\(reason))")
            }
        }
        var leaks: [String] = []
        for (index, user) in users.enumerated() {
            let other = users[1 - index]
            let theirs = rows[1 - index]
            if try await count(as: user, role: "authenticated", where: "ctid = \(SQL.literal(theirs))::tid") > 0 {
                leaks.append("\(user.name) reads \(other.name)'s row")
            }
            for command in ["update", "delete"] where try await changes(command, as: user, row: theirs) {
                leaks.append("\(user.name) can \(command) \(other.name)'s row")
            }
        }
        let anonReads = try await count(as: nil, role: "anon", where: "ctid in (\(rows.map { "\(SQL.literal($0))::tid" }.joined(separator: ", ")))")
        if anonReads > 0 {
            let scoped = try await session.strings(
                "select count(*)::text from pg_policy where polrelid = \(SQL.literal(table))::regclass and (select oid from pg_roles where rolname = 'anon') = any(polroles)"
            )
            if scoped.first == "0" { leaks.append("anon reads \(anonReads) of the users' rows, and no policy is scoped to anon") }
        }
        if leaks.isEmpty {
            return AuditFinding(table, .pass, "proven: neither user reads, updates or deletes the other's row; anon reads neither")
        }
        return AuditFinding(table, .fail, "leaked: " + leaks.joined(separator: "; "))
    }

    private enum Inserted {
        case success(String)
        case failure(String)
    }

    /// The column list and values of a row a user could add: defaults where there are any (such as
    /// `user_id default auth.uid()`), the user's id for a reference to auth.users, else a value of the type.
    private func insertValues() async throws -> (columns: String, values: (ProbeUser) -> String)? {
        let columns = try await session.rows(
            """
            select a.attname, format_type(a.atttypid, a.atttypmod), t.typtype::text, a.atttypid::regtype::text,
                (select r.confrelid::regclass::text || '|' || (select attname from pg_attribute where attrelid = r.confrelid and attnum = r.confkey[1])
                 from pg_constraint r where r.conrelid = a.attrelid and r.contype = 'f' and r.conkey = array[a.attnum] limit 1),
                (select pg_get_constraintdef(k.oid) from pg_constraint k where k.conrelid = a.attrelid and k.contype = 'c' and k.conkey = array[a.attnum] limit 1)
            from pg_attribute a join pg_type t on t.oid = a.atttypid
            where a.attrelid = \(SQL.literal(table))::regclass and a.attnum > 0 and not a.attisdropped
              and a.attnotnull and not a.atthasdef and a.attidentity = '' and a.attgenerated = ''
            order by a.attnum
            """)
        var names: [String] = []
        var makers: [(ProbeUser) -> String] = []
        for column in columns {
            guard let name = column[0], let type = column[1] else { return nil }
            names.append(SQL.identifier(name))
            if let reference = column[4] {
                let parts = reference.split(separator: "|").map(String.init)
                if parts.first == "auth.users" {
                    makers.append { "\(SQL.literal($0.id))::uuid" }
                } else if parts.count == 2 {
                    let existing = "(select \(SQL.identifier(parts[1])) from \(parts[0]) limit 1)"
                    guard try await session.strings("select (\(existing) is not null)::text").first == "true" else { return nil }
                    makers.append { _ in existing }
                } else {
                    return nil
                }
                continue
            }
            // A check such as `mode in ('instant', 'thinking')` names the values it takes: the first.
            if let check = column[5], let range = check.range(of: #"'((?:[^']|'')*)'"#, options: .regularExpression) {
                let literal = String(check[range])
                makers.append { _ in "\(literal)::\(type)" }
                continue
            }
            guard let value = Self.value(ofType: type, kind: column[2] ?? "", base: column[3] ?? type) else { return nil }
            makers.append { _ in value }
        }
        return (names.joined(separator: ", "), { user in makers.map { $0(user) }.joined(separator: ", ") })
    }

    static func value(ofType type: String, kind: String, base: String) -> String? {
        if kind == "e" { return "(enum_range(null::\(type)))[1]" }
        if type.hasSuffix("[]") { return "'{}'::\(type)" }
        switch base {
        case "text", "character varying", "character", "name", "citext": return "'devstack audit'::\(type)"
        case "smallint", "integer", "bigint", "numeric", "real", "double precision": return "1::\(type)"
        case "boolean": return "false"
        case "uuid": return "gen_random_uuid()"
        case "date", "timestamp without time zone", "timestamp with time zone", "time without time zone": return "now()::\(type)"
        case "json", "jsonb": return "'{}'::\(type)"
        case "bytea": return "'\\x00'::bytea"
        case "inet": return "'127.0.0.1'::inet"
        default: return nil
        }
    }

    /// `set local role` and the claims, as PostgREST does for each request.
    private func become(_ user: ProbeUser?, role: String) async throws {
        try await session.execute("set local role \(role)")
        let claims = user?.claims ?? #"{"role":"anon"}"#
        try await session.execute("select set_config('request.jwt.claims', \(SQL.literal(claims)), true)")
        if let user { try await session.execute("select set_config('request.jwt.claim.sub', \(SQL.literal(user.id)), true)") }
    }

    /// Adds `user`'s row and commits it (the copy is the audit's own); the row's ctid, found by the
    /// transaction that wrote it, since RETURNING would need the user to be allowed to read it.
    private func insert(as user: ProbeUser, values: (columns: String, values: (ProbeUser) -> String)) async throws -> Inserted {
        try await session.execute("begin")
        do {
            try await become(user, role: "authenticated")
            let row = values.columns.isEmpty ? "default values" : "(\(values.columns)) values (\(values.values(user)))"
            try await session.execute("insert into \(table) \(row)")
            try await session.execute("reset role")
            let transaction = try await session.strings("select pg_current_xact_id()::xid::text").first ?? "0"
            try await session.execute("commit")
            guard let row = try await session.strings("select ctid::text from \(table) where xmin = \(SQL.literal(transaction))::xid limit 1").first
            else {
                return .failure("the row was not found after the insert")
            }
            return .success(row)
        } catch {
            try? await session.execute("rollback")
            return .failure(PostgresSession.message(of: error))
        }
    }

    /// Rows `role` sees matching `condition`; refused outright (no grant) counts as none.
    private func count(as user: ProbeUser?, role: String, where condition: String) async throws -> Int {
        try await session.execute("begin")
        do {
            try await become(user, role: role)
            let seen = Int(try await session.strings("select count(*)::text from \(table) where \(condition)").first ?? "0") ?? 0
            try await session.execute("rollback")
            return seen
        } catch {
            try await session.execute("rollback")
            guard PostgresSession.sqlState(of: error) == "42501" else { throw error }
            return 0
        }
    }

    /// Whether `user` changed the row at `row` (an update to the same values, or a delete): the
    /// superuser then no longer sees that row version. Rolled back either way.
    private func changes(_ command: String, as user: ProbeUser, row: String) async throws -> Bool {
        let column =
            try await session.strings(
                "select attname from pg_attribute where attrelid = \(SQL.literal(table))::regclass and attnum > 0 and not attisdropped and attgenerated = '' and attidentity <> 'a' order by attnum limit 1"
            ).first.map(SQL.identifier)
        guard command == "delete" || column != nil else { return false }
        try await session.execute("begin")
        do {
            try await become(user, role: "authenticated")
            let target = "where ctid = \(SQL.literal(row))::tid"
            if command == "delete" {
                try await session.execute("delete from \(table) \(target)")
            } else if let column {
                try await session.execute("update \(table) set \(column) = \(column) \(target)")
            }
            try await session.execute("reset role")
            let left = try await session.strings("select count(*)::text from \(table) \(target)").first
            try await session.execute("rollback")
            return left == "0"
        } catch {
            try? await session.execute("rollback")
            return false
        }
    }
}
