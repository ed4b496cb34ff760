#if os(Linux)
    import Foundation

    extension BinaryDiscovery {
        static func kernelExecutablePath() -> String? {
            // After a rebuild replaced the file, the kernel adds " (deleted)": the path still names the new build.
            guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
            return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
        }

        /// Debian and Ubuntu: /usr/lib/postgresql/VERSION/bin.
        static func postgresCandidates() -> [String] {
            subfolders(of: "/usr/lib/postgresql").filter { Int($0) != nil }.map { "/usr/lib/postgresql/\($0)/bin" }
        }

        public static func postgresInstallCommand(_ version: Int?) -> String {
            version.map { "sudo apt-get install postgresql-\($0)" } ?? "sudo apt-get install postgresql"
        }

        /// Debian puts PgBouncer in /usr/sbin, outside a user's PATH.
        static let pgbouncerFolders = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]
        public static let pgbouncerInstallCommand = "sudo apt-get install pgbouncer"
    }
#endif
