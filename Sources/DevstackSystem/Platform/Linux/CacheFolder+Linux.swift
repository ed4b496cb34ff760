#if os(Linux)
    import Foundation

    extension CacheFolder {
        /// XDG's cache folder.
        static func platformRoot(environment: [String: String]) -> String {
            if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return "\(cache)/devstack" }
            return "\(home(environment))/.cache/devstack"
        }
    }

    extension FileTree {
        /// GNU cp: modes, owners and times kept; blocks shared where the file system can (btrfs, XFS),
        /// and runs of zeros left as holes elsewhere (a fresh cluster's WAL segment is mostly zeros).
        static let cloneCommand = ["/bin/cp", "-a", "--reflink=auto", "--sparse=always"]
    }
#endif
