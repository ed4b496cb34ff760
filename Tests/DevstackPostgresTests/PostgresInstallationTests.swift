import Foundation
import Testing

@testable import DevstackPostgres

struct PostgresInstallationTests {
    /// Debian's layout names the major version: reading it must not run `postgres --version`, which
    /// cost every `up` tens of milliseconds. The path does not exist, so running it would give nil.
    @Test func debianLayoutNamesTheVersionWithoutRunningAnything() {
        #expect(PostgresInstallation.majorVersion(of: "/nonexistent/usr/lib/postgresql/42/bin/postgres") == 42)
        #expect(PostgresInstallation.majorVersion(of: "/nonexistent/opt/postgres/bin/postgres") == nil)
    }

    /// `version:` picks that major version, or says which were found and how to install the one asked for.
    @Test func versionPicksTheMajorVersionOrSaysWhatWasFound() throws {
        let environment = ProcessInfo.processInfo.environment
        let found = try PostgresInstallation.find(binDirectory: nil, version: nil, environment: environment)
        #expect(
            try PostgresInstallation.find(binDirectory: nil, version: found.majorVersion, environment: environment).binDirectory == found.binDirectory
        )
        let error = #expect(throws: PostgresServiceError.self) {
            try PostgresInstallation.find(binDirectory: nil, version: 99, environment: environment)
        }
        #expect(error?.message.contains("no Postgres 99 found; found \(found.majorVersion) in \(found.binDirectory)") == true)
        #expect(error?.fix?.contains("install Postgres 99") == true)
    }
}
