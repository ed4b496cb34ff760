import DevstackDriverKit
import DevstackTestSupport
import Foundation
import Testing

@testable import DevstackSupervisor

/// Databases that are only names: what was leased and what was dropped.
final class FakeLeasing: DatabaseLeasing, @unchecked Sendable {
    let maximumAge: Duration
    private let lock = NSLock()
    let prefix: String
    private var count = 0
    private(set) var released: [String] = []

    init(prefix: String = "app", maximumAge: Duration = .seconds(3600)) {
        self.prefix = prefix
        self.maximumAge = maximumAge
    }

    func lease() async throws -> LeasedDatabase {
        let name = lock.withLock {
            count += 1
            return "\(prefix)_lease_\(count)"
        }
        return LeasedDatabase(name: name, url: "postgresql://localhost/\(name)", milliseconds: 0.1, fromPool: true)
    }

    func release(_ name: String) async throws { lock.withLock { released.append(name) } }
    func close() async {}
}

/// The desk's rules, without a database: holders, ages, reset and shutdown.
@Suite struct LeaseDeskTests {
    func desk() -> LeaseDesk {
        // The tests sweep by hand.
        LeaseDesk(sweepInterval: .seconds(3600)) { _, _ in }
    }

    @Test func aLeaseIsTakenBackWhenItsHolderExitsNotBefore() async throws {
        let desk = desk()
        let databases = FakeLeasing()
        let holder = try Sleeper()
        let lease = try await desk.lease(service: "db", from: databases, holder: holder.pid)
        #expect(lease.holderPid == holder.pid)
        #expect(lease.holder?.contains("sleep 600") == true)
        await desk.sweep()
        #expect(databases.released.isEmpty)
        await holder.end()
        await desk.sweep()
        #expect(databases.released == [lease.name])
        #expect(await desk.records.isEmpty)
    }

    @Test func aLeaseIsTakenBackAtItsMaximumAgeAndOneWithoutHolderLivesUntilThen() async throws {
        let desk = desk()
        let databases = FakeLeasing(maximumAge: .seconds(60))
        let lease = try await desk.lease(service: "db", from: databases, holder: nil)
        await desk.sweep(now: Date().addingTimeInterval(59))
        #expect(databases.released.isEmpty)
        await desk.sweep(now: Date().addingTimeInterval(61))
        #expect(databases.released == [lease.name])
    }

    @Test func aHolderThatIsNotRunningIsRefused() async throws {
        let desk = desk()
        let gone = try Sleeper()
        await gone.end()
        await #expect(throws: SupervisorError.self) { try await desk.lease(service: "db", from: FakeLeasing(), holder: gone.pid) }
    }

    @Test func resetEndsOneServicesLeasesAndClosingEndsAllAndRefusesMore() async throws {
        let desk = desk()
        let db = FakeLeasing()
        let other = FakeLeasing(prefix: "other")
        let first = try await desk.lease(service: "db", from: db, holder: nil)
        let second = try await desk.lease(service: "other", from: other, holder: nil)
        await desk.releaseAll(service: "db", because: "the stack was reset")
        #expect(db.released == [first.name])
        #expect(await desk.records.map(\.name) == [second.name])
        await desk.close()
        #expect(other.released == [second.name])
        await #expect(throws: SupervisorError.self) { try await desk.lease(service: "db", from: db, holder: nil) }
    }

    @Test func releasingAnUnknownLeaseSaysSo() async throws {
        let desk = desk()
        let error = await #expect(throws: SupervisorError.self) { try await desk.release("app_lease_x") }
        #expect(error?.kind == .unknownLease)
    }
}
