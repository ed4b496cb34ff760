#if os(macOS)
    import Foundation

    extension CacheFolder {
        static func platformRoot(environment: [String: String]) -> String {
            "\(home(environment))/Library/Caches/devstack"
        }
    }

    extension ConfigFolder {
        static func platformRoot(environment: [String: String]) -> String {
            "\(CacheFolder.home(environment))/Library/Application Support/devstack"
        }
    }

    extension FileTree {
        /// BSD cp: `-c` clones on APFS (copy-on-write), `-p` keeps modes and times.
        static func cloneCommand(makingHoles: Bool) -> [String] { ["/bin/cp", "-c", "-R", "-p"] }
    }
#endif
