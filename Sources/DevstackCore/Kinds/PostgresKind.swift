import Foundation

/// `kind: postgres`: the real server, with Supabase's roles and `auth` schema on request.
struct PostgresKind: KindDescriptor {
    let kind = ServiceKind.postgres
    let defaultPorts = ["postgres"]
    let settingKeys = [
        SettingKey("database", .string, "database created for the stack (default: the service name)"),
        SettingKey("pool", .bool, "run PgBouncer in front of it: ${NAME.pool_url}, which a reset pauses instead of breaking"),
        SettingKey("pool_mode", .choice(["transaction", "session"]), "PgBouncer's pooling (default transaction, as Supabase's pooler)"),
        SettingKey("spares", .int(1...8), "clean copies kept ready so a burst of resets never waits for one (default 2)"),
        SettingKey(
            "fast_reset_rows", .int(0...10_000_000),
            "a reset puts the changed tables back in place when at most this many clean rows need copying, else swaps (default 10000; 0: always swap)"
        ),
        SettingKey("lease_pool", .int(0...64), "copies of the clean state kept ready for `devstack db lease` once the first is asked (default 4)"),
        SettingKey("lease_max_age", .duration, "a lease not released by then is dropped, its holder alive or not (default 1h)"),
        SettingKey("exposed_schemas", .list, "schemas clients reach through the API, which `devstack audit` checks (default: public)"),
        SettingKey("fresh_initdb", .bool, "run initdb for this cluster instead of copying the machine's initdb cache (its own system identifier)"),
        SettingKey("migrations", .path, "folder of *.sql migrations, applied in name order"),
        SettingKey("seed", .path, "SQL run after migrations when the database is created or reset"),
        SettingKey("supabase", .bool, "apply Supabase's roles, auth schema and auth.uid() before migrations"),
        SettingKey("version", .int(10...99), "required major version of the Postgres binaries"),
        SettingKey("bin_dir", .path, "folder holding initdb and postgres (default: searched)"),
        SettingKey("user", .string, "unprivileged OS user that runs Postgres when devstack runs as root"),
    ]
    let attributeNames = ["url", "pool_url", "user", "password", "database", "socket"]
    let productionOnlyAttributes: Set<String> = ["password", "url", "pool_url"]
    /// SIGINT is Postgres's fast shutdown; SIGQUIT its immediate one.
    let defaultStop: (signal: StopSignal, escalation: StopSignal?) = (.interrupt, .quit)
    let keepsDatabase = true
    /// Postgres speaks TLS itself, on its own port only: PgBouncer's pool stays the machine's own.
    let exposure = ExposureMode.serverTLS

    func exposedPorts(for spec: ServiceSpec) -> [String] { portNames(for: spec).filter { $0 != "pool" } }

    func secret(behind attribute: String) -> String? { ["url", "pool_url", "password"].contains(attribute) ? "postgres_password" : nil }

    /// `pool: true` adds a port for PgBouncer, which the pooler companion listens on.
    func portNames(for spec: ServiceSpec) -> [String] {
        let declared = spec.ports.isEmpty ? defaultPorts : spec.ports.map(\.value)
        guard case .bool(true)? = spec.setting("pool"), !declared.contains("pool") else { return declared }
        return declared + ["pool"]
    }

    /// `pool: true`: PgBouncer as `<name>-pool`, started once the database is healthy and stopped before it.
    func companions(of spec: ServiceSpec) -> [ServiceSpec] {
        guard case .bool(true)? = spec.setting("pool") else { return [] }
        var pooler = ServiceSpec(name: "\(spec.name)-pool", kind: .pgbouncer, location: spec.location, keyPath: "\(spec.keyPath).pool")
        pooler.partOf = spec.name
        pooler.dependsOn = [DependencySpec(service: spec.name, condition: .healthy, location: spec.location, keyPath: "\(spec.keyPath).pool")]
        pooler.restart = spec.restart
        pooler.settings = spec.settings.filter { $0.key == "pool_mode" }
        return [pooler]
    }

    func attributes(_ service: KindAttributeInputs) -> [String: String] {
        let database = service.setting("database") ?? service.name
        let password = service.secrets["postgres_password"] ?? ""
        var attributes = ["user": "postgres", "password": password, "database": database, "socket": service.socketDirectory]
        // From another machine the server's own TLS, checked against the profile's authority.
        let tls = service.authorityFile.map { "?sslmode=verify-full&sslrootcert=\(Self.percentEncoded($0))" } ?? ""
        if let port = service.ports.first?.number {
            attributes["url"] = "postgresql://postgres:\(Self.percentEncoded(password))@\(service.host):\(port)/\(database)\(tls)"
        }
        if let pool = service.ports.first(where: { $0.name == "pool" })?.number {
            attributes["pool_url"] = "postgresql://postgres:\(Self.percentEncoded(password))@\(service.host):\(pool)/\(database)"
        }
        return attributes
    }

    func remoteAttributes(_ url: URLComponents, secrets: [String: String]) -> [String: String] {
        ["database": String(url.path.drop { $0 == "/" }), "user": url.user ?? ""]
    }

    private static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
