import Foundation

/// PgBouncer in front of a postgres service with `pool: true`: added by devstack as `<name>-pool`,
/// never written in a stack. It listens on the postgres service's `pool` port, so
/// `${db.pool_url}` is the database's own attribute.
struct PgBouncerKind: KindDescriptor {
    let kind = ServiceKind.pgbouncer
    let defaultPorts: [String] = []
    let settingKeys = [SettingKey("pool_mode", .choice(["transaction", "session"]), "PgBouncer's pooling (default transaction)")]
    let attributeNames = ["socket"]
    let declarable = false
    let parentPort: String? = "pool"
    /// SIGINT would wait for every client to leave; SIGTERM closes at once (clients reconnect to the next run).
    let defaultStop: (signal: StopSignal, escalation: StopSignal?) = (.term, nil)
    let exposure = ExposureMode.unavailable("the pool is for this machine's clients: expose the database itself, which speaks TLS")

    func attributes(_ service: KindAttributeInputs) -> [String: String] { ["socket": service.socketDirectory] }
}
