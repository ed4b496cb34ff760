import DevstackSystem
import Foundation

/// Where the Postgres binaries are, and which major version they are.
public struct PostgresInstallation: Sendable {
    public let binDirectory: String
    public let majorVersion: Int

    public var postgres: String { "\(binDirectory)/postgres" }
    public var initdb: String { "\(binDirectory)/initdb" }
    /// psql beside the server, else the first on PATH (some set-ups link only the server tools).
    public func psql(environment: [String: String]) -> String? {
        let candidates =
            ["\(binDirectory)/psql"] + (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/psql" }
            + BinaryDiscovery.postgresFolders().map { "\($0)/psql" }
        return candidates.first(where: FileManager.default.isExecutableFile(atPath:))
    }

    /// What Postgres and its tools are started with of devstack's environment: nothing of the user's
    /// but where programs are, the home folder, the language and the time zone.
    public static func serverEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        environment.filter { ["PATH", "HOME", "LANG", "TZ"].contains($0.key) }
    }

    /// `bin_dir` if given, else PATH, `pg_config --bindir`, the platform's usual places (newest first).
    public static func find(binDirectory: String?, version: Int?, environment: [String: String]) throws -> PostgresInstallation {
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        // Asked lazily, in this order: each source costs more than the one before.
        let sources: [() -> [String]] =
            binDirectory.map { folder in [{ [folder] }] }
            ?? [
                { path },
                {
                    path.map { "\($0)/pg_config" }.first(where: FileManager.default.isExecutableFile(atPath:))
                        .flatMap { ToolOutput.read($0, ["--bindir"]) }.map { [$0] } ?? []
                },
                BinaryDiscovery.postgresFolders,
            ]
        var found: [PostgresInstallation] = []
        for source in sources {
            // Symlinks resolved only where there is a postgres: resolving every PATH entry costs more than the rest.
            for candidate in source() where FileManager.default.isExecutableFile(atPath: "\(candidate)/postgres") {
                let folder = URL(fileURLWithPath: "\(candidate)/postgres").resolvingSymlinksInPath().deletingLastPathComponent().path
                guard FileManager.default.isExecutableFile(atPath: "\(folder)/initdb") else { continue }
                guard let major = majorVersion(of: "\(folder)/postgres") else { continue }
                let installation = PostgresInstallation(binDirectory: folder, majorVersion: major)
                if version == nil || version == major { return installation }
                found.append(installation)
            }
        }
        if let version, !found.isEmpty {
            throw PostgresServiceError(
                .binariesMissing,
                "no Postgres \(version) found; found \(found.map { "\($0.majorVersion) in \($0.binDirectory)" }.joined(separator: ", "))",
                fix: "install Postgres \(version) (\(BinaryDiscovery.postgresInstallCommand(version))), or change 'version:' or set 'bin_dir:'")
        }
        throw PostgresServiceError(
            .binariesMissing,
            binDirectory.map { "no postgres and initdb in \($0)" }
                ?? "Postgres is not installed: no postgres and initdb on PATH or in the usual places",
            fix: "install it: \(BinaryDiscovery.postgresInstallCommand(version)); or set 'bin_dir:' on the postgres service")
    }

    /// `postgres`: the binary's path with symlinks resolved, as `find` has it.
    static func majorVersion(of postgres: String) -> Int? {
        // Debian's layout names it (/usr/lib/postgresql/15/bin): no need to run anything.
        let real = URL(fileURLWithPath: postgres).pathComponents
        if real.count >= 4, real[real.count - 4] == "postgresql", real[real.count - 2] == "bin", let major = Int(real[real.count - 3]) {
            return major
        }
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        guard let output = ToolOutput.read(postgres, ["--version"]), let range = output.range(of: ") ") else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }
}
