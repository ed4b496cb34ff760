import Foundation

/// Where programs are on this machine: devstack's own executable and Postgres's. The platform's
/// answers live in `Linux/BinaryDiscovery+Linux.swift` and `macOS/BinaryDiscovery+macOS.swift`.
public enum BinaryDiscovery {
    /// The devstack executable this process runs, symlinks resolved. Asked of the kernel rather than
    /// `Bundle.main`, which lists the executable's whole folder first (~1 ms in /usr/bin, at every start).
    public static let runningExecutable: String =
        kernelExecutablePath() ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path

    /// The folders a Postgres package installs its programs into, newest version first.
    public static func postgresFolders() -> [String] {
        postgresCandidates().sorted { versionNumber(in: $0) > versionNumber(in: $1) }
    }

    /// PgBouncer: along PATH, then where the platform's packages put it.
    public static func pgbouncer(environment: [String: String]) -> String? {
        let path = ([environment["PATH"] ?? ""] + pgbouncerFolders).joined(separator: ":")
        return ExecutableLookup.resolve("pgbouncer", workingDirectory: "/", environment: ["PATH": path])
    }

    private static func versionNumber(in path: String) -> Int {
        Int(path.split(whereSeparator: { !$0.isNumber }).first ?? "") ?? 0
    }

    static func subfolders(of root: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    }
}
