import DevstackPostgres
import DevstackTestSupport
import Foundation
import Testing

/// The machine's initdb cache, each test with a cache folder of its own.
@Suite(.serialized) struct InitdbCacheTests {
    static let stack = "services:\n  db: { kind: postgres, database: app }\n"

    func entries(_ cache: TemporaryDirectory) -> [InitdbCache.Entry] { InitdbCache(root: "\(cache.path)/initdb").list() }

    /// A query over TCP with the profile's password: a copied cluster must have been given it.
    func answers(_ stack: StackUnderTest) async throws {
        let endpoint = try await stack.postgresEndpoint()
        try await PostgresSession.with(endpoint) { try await $0.execute("select 1") }
    }

    @Test func twoFirstStartsAtOnceFillTheCacheOnceAndEachHasItsOwnPassword() async throws {
        let cache = try TemporaryDirectory(prefix: "devstack-cache")
        defer { cache.remove() }
        let environment = ["DEVSTACK_CACHE_DIR": cache.path]
        let first = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { first.cleanUp() }
        let second = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { second.cleanUp() }
        try await answers(first)
        try await answers(second)
        let logs = [first.log("db"), second.log("db")]
        #expect(logs.filter { $0.contains("initdb /") }.count == 1, "one initdb for both")
        #expect(logs.filter { $0.contains("copied from the initdb cache") }.count == 1)
        #expect(entries(cache).count == 1)
        #expect(try await first.stop() == 0)
        #expect(try await second.stop() == 0)
    }

    @Test func aCopyCutShortOrAFolderWithoutAClusterIsNeverUsed() async throws {
        let cache = try TemporaryDirectory(prefix: "devstack-cache")
        defer { cache.remove() }
        let environment = ["DEVSTACK_CACHE_DIR": cache.path]
        let filler = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { filler.cleanUp() }
        try await answers(filler)
        #expect(try await filler.stop() == 0)
        let name = try #require(entries(cache).first?.name)
        let root = "\(cache.path)/initdb"
        // A fill killed before its rename, and junk under the entry's name.
        try FileManager.default.moveItem(atPath: "\(root)/\(name)", toPath: "\(root)/\(name).partial-424242")
        try cache.write("initdb/\(name)/junk", "not a cluster")
        let next = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { next.cleanUp() }
        try await answers(next)
        #expect(next.log("db").contains("initdb /"), "neither leftover was taken for an entry")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(name).partial-424242"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/\(name)/PG_VERSION"))
        #expect(try await next.stop() == 0)
    }

    @Test func clearingWhileAStackRunsTakesNothingFromItAndFreshInitdbSkipsTheCache() async throws {
        let cache = try TemporaryDirectory(prefix: "devstack-cache")
        defer { cache.remove() }
        let environment = ["DEVSTACK_CACHE_DIR": cache.path]
        let fresh = try StackUnderTest(stack: "services:\n  db: { kind: postgres, database: app, fresh_initdb: true }\n", environment: environment)
        defer { fresh.cleanUp() }
        try await answers(fresh)
        #expect(fresh.log("db").contains("initdb /"))
        #expect(entries(cache).isEmpty, "fresh_initdb neither uses nor fills the cache")
        #expect(try await fresh.stop() == 0)

        let running = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { running.cleanUp() }
        try await answers(running)
        #expect(entries(cache).count == 1)
        let listed = try running.devstack(["cache", "ls"], environment: environment)
        #expect(listed.standardOutput.contains(entries(cache)[0].name))
        let cleared = try running.devstack(["cache", "clear"], environment: environment)
        #expect(cleared.status == 0 && cleared.standardOutput.contains("removed 1 initdb cache entry"))
        #expect(entries(cache).isEmpty)
        #expect(try running.devstack(["reset"], environment: environment).status == 0, "the running stack lost nothing")
        try await answers(running)
        #expect(try await running.stop() == 0)
    }

    /// Waits (up to 20 s) for the spare copy a settled stack makes in the background.
    func spareAppears(_ cache: TemporaryDirectory) async throws -> Bool {
        for _ in 0..<200 {
            if entries(cache).first?.spare == true { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func aFirstStartWithKeptDataTakesTheSpareMadeAfterThePreviousOne() async throws {
        let cache = try TemporaryDirectory(prefix: "devstack-cache")
        defer { cache.remove() }
        let environment = ["DEVSTACK_CACHE_DIR": cache.path]
        let filler = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { filler.cleanUp() }
        try await answers(filler)
        #expect(try await spareAppears(cache), "a spare is made once the stack has settled")
        #expect(try filler.devstack(["cache", "ls"], environment: environment).standardOutput.contains("spare ready"))
        #expect(try await filler.stop() == 0)

        // Another project's first start renames the spare into place: no copy, and its own password.
        let taker = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { taker.cleanUp() }
        try await answers(taker)
        #expect(taker.log("db").contains("cluster taken from the initdb cache's spare copy"), "\(taker.log("db"))")
        #expect(try await spareAppears(cache), "and a new spare is made after it")
        #expect(try await taker.stop() == 0)

        // A spare cut short before its rename is never taken, and goes at the next refill.
        let name = try #require(entries(cache).first?.name)
        let root = "\(cache.path)/initdb"
        try FileManager.default.moveItem(atPath: "\(root)/\(name).spare", toPath: "\(root)/\(name).partial-spare-424242")
        let next = try StackUnderTest(stack: Self.stack, environment: environment)
        defer { next.cleanUp() }
        try await answers(next)
        #expect(next.log("db").contains("cluster copied from the initdb cache"), "\(next.log("db"))")
        #expect(try await spareAppears(cache))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(name).partial-spare-424242"))
        #expect(try await next.stop() == 0)
    }
}
