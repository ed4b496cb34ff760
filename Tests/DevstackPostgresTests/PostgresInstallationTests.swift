import Testing

@testable import DevstackPostgres

struct PostgresInstallationTests {
    /// Debian's layout names the major version: reading it must not run `postgres --version`, which
    /// cost every `up` tens of milliseconds. The path does not exist, so running it would give nil.
    @Test func debianLayoutNamesTheVersionWithoutRunningAnything() {
        #expect(PostgresInstallation.majorVersion(of: "/nonexistent/usr/lib/postgresql/42/bin/postgres") == 42)
        #expect(PostgresInstallation.majorVersion(of: "/nonexistent/opt/postgres/bin/postgres") == nil)
    }
}
