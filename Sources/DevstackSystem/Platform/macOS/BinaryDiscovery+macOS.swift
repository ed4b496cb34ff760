#if os(macOS)
    import Foundation

    extension BinaryDiscovery {
        static func kernelExecutablePath() -> String? {
            var size: UInt32 = 0
            _ = _NSGetExecutablePath(nil, &size)
            var buffer = [CChar](repeating: 0, count: Int(size))
            guard _NSGetExecutablePath(&buffer, &size) == 0 else { return nil }
            return URL(fileURLWithPath: String(cString: buffer)).resolvingSymlinksInPath().path
        }

        /// Homebrew (Apple silicon and Intel) and Postgres.app.
        static func postgresCandidates() -> [String] {
            let brew = ["/opt/homebrew/opt", "/usr/local/opt"].flatMap { root in
                subfolders(of: root).filter { $0.hasPrefix("postgresql") }.map { "\(root)/\($0)/bin" }
            }
            let app = "/Applications/Postgres.app/Contents/Versions"
            return brew + subfolders(of: app).map { "\(app)/\($0)/bin" }
        }

        public static func postgresInstallCommand(_ version: Int?) -> String {
            "brew install postgresql@\(version ?? 16)"
        }

        /// Homebrew, Apple silicon and Intel.
        static let pgbouncerFolders = ["/opt/homebrew/bin", "/usr/local/bin"]
        public static let pgbouncerInstallCommand = "brew install pgbouncer"
    }
#endif
