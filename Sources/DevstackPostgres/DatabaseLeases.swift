import DevstackCore
import Foundation

/// Fresh databases for parallel tests (in the manner of IntegreSQL): each a copy of the clean-state
/// template that reset uses. Copies are made ahead into a pool, so handing one out is a rename.
///
/// The pool fills after the first lease (a stack that never leases pays nothing) and is kept
/// `poolSize` ahead. Each copy carries the template's clean-state key; when the migrations or the
/// seed change, the template is rebuilt at the next lease and older copies are dropped, while
/// databases already leased keep working.
public actor DatabaseLeases {
    public struct Lease: Codable, Sendable {
        /// The database's name, which is also the lease's.
        public var name: String
        public var url: String
        public var milliseconds: Double
        /// Whether a copy was ready in the pool (a rename) or had to be made (a clone).
        public var fromPool: Bool
    }

    let engine: DatabaseReset
    public let poolSize: Int
    private let url: URLComponents?
    /// Copies of the template whose key is `poolKey`, ready to be renamed.
    private var ready: [String] = []
    private var poolKey: String?
    /// The copying in the background. Never cancelled: a cancelled query may still finish in the
    /// server and leave a copy nobody knows of; it stops between copies instead (`closed`, `generation`).
    private var refilling: Task<Void, Never>?
    private var refillRound = 0
    private var closed = false
    /// Bumped when the pool is emptied, so a copy finished for an older pool is dropped, not kept.
    private var generation = 0
    private var poolSequence = 0
    /// Leftovers of an earlier run (its pool and its leases) are dropped before the first lease.
    private var leftoversDropped: Task<Void, Never>?
    /// This actor's own connection for renames and drops: leasing from the pool must not queue
    /// behind a clone or a reset, which hold the admin session's advisory lock.
    private var session: PostgresSession?

    public init?(service: PlannedService, plan: Plan, poolSize: Int) {
        guard let engine = DatabaseReset(service: service, plan: plan) else { return nil }
        self.engine = engine
        self.poolSize = poolSize
        self.url = service.attributes["url"].flatMap(URLComponents.init(string:))
    }

    var leasePrefix: String { "\(engine.database.prefix(40))_lease_" }
    var poolPrefix: String { "\(engine.database.prefix(40))__devstack_pool_" }

    // MARK: Leasing

    public func lease() async throws -> Lease {
        let began = ContinuousClock.now
        await dropLeftoversOnce()
        let key = try engine.cleanStateKey()
        if key != poolKey { try await startPool(key: key) }
        let name = leasePrefix + RandomHex.of(bytes: 4)
        var fromPool = false
        if let copy = ready.popLast() {
            do {
                try await withSession { try await $0.execute("alter database \(engine.quote(copy)) rename to \(engine.quote(name))") }
                fromPool = true
            } catch {
                // Dropped behind our back (a `cache clear`, a person with psql): clone instead.
                try? await withSession { try await engine.drop(copy, $0) }
            }
        }
        if !fromPool {
            let engine = self.engine
            try await engine.withAdminSession(locking: .clones) { admin in try await engine.clone(engine.template, into: name, admin) }
        }
        refill()
        return Lease(
            name: name, url: url(for: name), milliseconds: (ContinuousClock.now - began).fractionalMilliseconds, fromPool: fromPool)
    }

    /// Drops the database and ends its sessions; a name that is not a lease of this service is refused.
    public func release(_ name: String) async throws {
        guard name.hasPrefix(leasePrefix) else {
            throw PostgresServiceError(.connection, "'\(name)' is not a lease of \(engine.service.name)", fix: "see `devstack db leases`")
        }
        try await withSession { try await engine.drop(name, $0) }
    }

    /// Drops the copies made ahead and closes the connection: the server is about to stop.
    public func close() async {
        closed = true
        await refilling?.value
        refilling = nil
        let copies = ready
        ready = []
        poolKey = nil
        generation += 1
        for copy in copies { try? await withSession { try await engine.drop(copy, $0) } }
        if let session { try? await session.connection.close() }
        session = nil
    }

    // MARK: The pool

    /// The template is current for `key` (rebuilt if the migrations or seed changed); copies made
    /// for another key are dropped.
    private func startPool(key: String) async throws {
        generation += 1
        // The copy in the making is of the old template: it is dropped when done.
        let previous = refilling
        refilling = nil
        await previous?.value
        let stale = ready
        ready = []
        let engine = self.engine
        try await engine.withAdminSession { admin in
            _ = try await engine.ensureTemplate(key: key, admin)
            for copy in stale { try await engine.drop(copy, admin) }
        }
        poolKey = key
    }

    private func refill() {
        guard refilling == nil, poolSize > 0, !closed else { return }
        refillRound += 1
        let round = refillRound
        let generation = self.generation
        let engine = self.engine
        refilling = Task {
            while !self.closed, generation == self.generation, self.ready.count < self.poolSize {
                let copy = self.nextPoolName()
                do {
                    try await engine.withAdminSession(locking: .clones) { admin in try await engine.clone(engine.template, into: copy, admin) }
                } catch {
                    break
                }
                if generation == self.generation && !self.closed {
                    self.ready.append(copy)
                } else {
                    try? await self.withSession { try await self.engine.drop(copy, $0) }
                }
            }
            if round == self.refillRound { self.refilling = nil }
        }
    }

    private func nextPoolName() -> String {
        poolSequence += 1
        return poolPrefix + "\(getpid())_\(poolSequence)"
    }

    private func dropLeftoversOnce() async {
        if leftoversDropped == nil {
            leftoversDropped = Task {
                guard let names = try? await self.databases(startingWith: self.leasePrefix) + self.databases(startingWith: self.poolPrefix)
                else { return }
                for name in names { try? await self.withSession { try await self.engine.drop(name, $0) } }
            }
        }
        await leftoversDropped?.value
    }

    // MARK: Helpers

    private func databases(startingWith prefix: String) async throws -> [String] {
        let pattern = prefix.replacingOccurrences(of: "_", with: "\\_") + "%"
        return try await withSession {
            try await $0.strings("select datname from pg_database where datname like \(engine.literal(pattern)) order by datname")
        }
    }

    private func url(for name: String) -> String {
        guard var url else { return name }
        url.path = "/" + name
        return url.string ?? name
    }

    private func withSession<T: Sendable>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        let session: PostgresSession
        if let open = self.session, !open.connection.isClosed {
            session = open
        } else {
            session = try await PostgresSession.connect(engine.endpoint.with(database: "postgres"))
            self.session = session
        }
        do {
            return try await body(session)
        } catch let error as PostgresServiceError {
            throw error
        } catch {
            throw PostgresServiceError(.connection, "\(engine.service.name): \(PostgresSession.message(of: error))")
        }
    }
}
