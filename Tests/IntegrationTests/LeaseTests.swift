import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackTestSupport
import Foundation
import Testing

/// `devstack db lease` and the lease API against the real server.
@Suite(.serialized) struct LeaseTests {
    static let stack = ResetTests.stack
    static let files = ["stacks/default/seed.sql": ResetTests.seed, "stacks/default/migrations/001_items.sql": ResetTests.migration]

    func makeStack(_ profile: String = "ports: auto\n", files extra: [String: String] = [:]) throws -> StackUnderTest {
        try StackUnderTest(stack: Self.stack, profile: profile, files: Self.files.merging(extra) { $1 })
    }

    func query(_ endpoint: PostgresSession.Endpoint, _ sql: String) async throws -> [String] {
        try await PostgresSession.with(endpoint) { try await $0.strings(sql) }
    }

    func databases(_ endpoint: PostgresSession.Endpoint, like pattern: String) async throws -> [String] {
        try await query(endpoint.with(database: "postgres"), "select datname from pg_database where datname like '\(pattern)' order by 1")
    }

    /// Polls until `condition` holds, for what the supervisor does in the background.
    func eventually(_ what: String, within patience: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("never happened: \(what)")
    }

    func control(_ stack: StackUnderTest) throws -> ControlClient {
        ControlClient(socket: try #require(stack.store.load()).controlSocket)
    }

    func http(_ url: String, method: String, body: String? = nil) async throws -> (Int, String) {
        try await LoopbackHTTP.send(url, method: method, body: body)
    }

    @Test func leasesAreUniqueIsolatedAndReleased() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let holder = try Sleeper()
        defer { kill(holder.pid, SIGKILL) }
        let endpoint = try await stack.postgresEndpoint()
        let control = try control(stack)
        var leases: [LeaseRecord] = []
        for _ in 0..<3 { leases.append(try await control.lease(service: nil, holder: holder.pid)) }
        #expect(Set(leases.map(\.name)).count == 3)
        #expect(leases.allSatisfy { $0.name.hasPrefix("app_lease_") && $0.url.hasSuffix("/\($0.name)") && $0.service == "db" })
        // Each lease is the clean state, and what one writes the others and the stack's database never see.
        let first = endpoint.with(database: leases[0].name)
        let second = endpoint.with(database: leases[1].name)
        #expect(try await query(first, "select label from public.items order by id") == ["seed one", "seed two"])
        _ = try await query(first, "insert into public.items (label) values ('only in the first') returning id")
        #expect(try await query(first, "select count(*)::text from public.items") == ["3"])
        #expect(try await query(second, "select count(*)::text from public.items") == ["2"])
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["2"])
        #expect(try await control.leases().map(\.name).sorted() == leases.map(\.name).sorted())

        try await control.releaseLease(leases[0].name)
        #expect(try await databases(endpoint, like: leases[0].name) == [])
        #expect(try await control.leases().count == 2)
        await #expect(throws: SupervisorError.self) { try await control.releaseLease(leases[0].name) }
        let released = try stack.devstack(["db", "release", "app_lease_nothere"])
        #expect(released.status == 2)
        #expect(released.standardError.contains("no lease named 'app_lease_nothere'"))
        #expect(try await stack.stop() == 0)
    }

    @Test func aLeaseEndsWithItsHolderAndAtItsMaximumAge() async throws {
        let stack = try makeStack("ports: auto\nservices:\n  db:\n    settings: { lease_max_age: 2s }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = try control(stack)
        let dying = try Sleeper()
        let lasting = try Sleeper()
        defer { kill(lasting.pid, SIGKILL) }
        let mortal = try await control.lease(service: nil, holder: dying.pid)
        let aging = try await control.lease(service: nil, holder: lasting.pid)
        await dying.end()
        try await eventually("the dead holder's lease is dropped") { try await databases(endpoint, like: mortal.name).isEmpty }
        try await eventually("the old lease is dropped though its holder lives") { try await databases(endpoint, like: aging.name).isEmpty }
        #expect(try await control.leases().isEmpty)
        // The note is written once the database has gone: read it when it is there.
        try await eventually("the dead holder's lease noted") {
            stack.log("db").contains("lease \(mortal.name) taken back: its holder, process \(dying.pid), exited")
        }
        try await eventually("the old lease noted") { stack.log("db").contains("lease \(aging.name) taken back: it reached the maximum age") }
        // A holder that is not running is refused up front.
        await #expect(throws: SupervisorError.self) { try await control.lease(service: nil, holder: dying.pid) }
        #expect(try await stack.stop() == 0)
    }

    @Test func aBurstOfFiftyOverHTTPAndThePoolRefills() async throws {
        let stack = try makeStack("ports: auto\nservices:\n  db:\n    settings: { lease_pool: 3 }\n")
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let url = try #require(stack.store.load()?.leaseEndpoint)
        #expect(try stack.devstack(["env"]).standardOutput.contains("DEVSTACK_LEASE_URL='\(url)'"))
        let names = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let (status, body) = try await http("\(url)/leases", method: "POST")
                    #expect(status == 201, "\(body)")
                    return try StateStore.decoder.decode(LeaseRecord.self, from: Data(body.utf8)).name
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(names).count == 50)
        // Asked over TCP without a pid, a lease lives with the process at the other end: this one.
        let holders = Set(try await control(stack).leases().map { $0.holderPid ?? 0 })
        #expect(holders == [getpid()])
        #expect(try await databases(endpoint, like: "app\\_lease\\_%").count == 50)
        for name in names.prefix(5) {
            #expect(try await query(endpoint.with(database: name), "select count(*)::text from public.items") == ["2"])
        }
        try await eventually("the pool is 3 ahead again") { try await databases(endpoint, like: "app\\_\\_devstack\\_pool\\_%").count == 3 }
        let pooled = try await control(stack).lease(service: nil, holder: getpid())
        #expect(pooled.fromPool)

        // The API answers mistakes in its own shape; a wrong token finds nothing.
        let (badBody, badText) = try await http("\(url)/leases", method: "POST", body: "{not json")
        #expect(badBody == 400)
        #expect(badText.contains("\"ok\" : false"))
        #expect(try await http("\(url)/leases/app_lease_nothere", method: "DELETE").0 == 404)
        #expect(try await http("\(url)/leases", method: "POST", body: #"{"service": "nope"}"#).0 == 404)
        let tokenStart = try #require(url.lastIndex(of: "/"))
        let wrongToken = url[..<tokenStart] + "/0000"
        #expect(try await http("\(wrongToken)/leases", method: "POST").0 == 404)
        #expect(try await stack.stop() == 0)
    }

    @Test func aChangedMigrationReachesNewLeasesAndOldOnesKeepWorking() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let control = try control(stack)
        let old = try await control.lease(service: nil, holder: getpid())
        try stack.directory.write(
            "stacks/default/migrations/002_color.sql", "alter table public.items add column color text not null default 'blue';\n")
        let new = try await control.lease(service: nil, holder: getpid())
        #expect(try await query(endpoint.with(database: new.name), "select color from public.items order by id") == ["blue", "blue"])
        #expect(try await query(endpoint.with(database: old.name), "select count(*)::text from public.items") == ["2"])
        let oldColumns = try await query(
            endpoint.with(database: old.name), "select column_name::text from information_schema.columns where table_name = 'items' order by 1")
        #expect(oldColumns == ["id", "label"])
        // Copies made for the old template are not handed out.
        let next = try await control.lease(service: nil, holder: getpid())
        #expect(try await query(endpoint.with(database: next.name), "select color from public.items limit 1") == ["blue"])
        #expect(try await stack.stop() == 0)
    }

    @Test func resetAndDownEndEveryLease() async throws {
        let stack = try makeStack()
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let lease = try await control(stack).lease(service: nil, holder: getpid())
        #expect(try stack.devstack(["reset"]).status == 0)
        #expect(try await control(stack).leases().isEmpty)
        #expect(try await databases(endpoint, like: lease.name).isEmpty)
        _ = try await control(stack).lease(service: nil, holder: getpid())
        #expect(try await stack.stop() == 0)
        // The data is kept (persistent profile): started again, no lease or pooled copy is left in it.
        let again = try stack.restart()
        let restarted = try await again.postgresEndpoint()
        #expect(try await databases(restarted, like: "app\\_%lease%").isEmpty)
        #expect(try await databases(restarted, like: "app\\_\\_devstack\\_pool%").isEmpty)
        #expect(try await again.stop() == 0)
    }

    @Test func aProtectedProfileLeasesWithoutTouchingItsDataAndARemoteOneRefuses() async throws {
        let remote = "remote: true\nservices:\n  db:\n    url: postgresql://db.example.com:5432/app\n"
        let stack = try makeStack("ports: auto\nprotected: true\n", files: ["profiles/production.yaml": remote])
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        _ = try await query(endpoint, "insert into public.items (label) values ('staging data') returning id")
        let lease = try stack.devstack(["db", "lease", "--json"])
        #expect(lease.status == 0, "\(lease.standardError)")
        let record = try StateStore.decoder.decode(LeaseRecord.self, from: Data(lease.standardOutput.utf8))
        #expect(try await query(endpoint.with(database: record.name), "select count(*)::text from public.items") == ["2"])
        #expect(try await query(endpoint, "select count(*)::text from public.items") == ["3"])
        // The lease lives with the process that ran `devstack db lease`: here, the test.
        #expect(record.holderPid == getpid())

        let refused = try stack.devstack(["db", "lease", "--profile", "production"])
        #expect(refused.status == 3)
        #expect(refused.standardError.contains("profile 'production' is remote: devstack leases no databases of it"))
        #expect(try await stack.stop() == 0)
        let stopped = try stack.devstack(["db", "lease"])
        #expect(stopped.status != 0)
        #expect(stopped.standardError.contains("is not running: leases come from a running stack"))
    }
}
