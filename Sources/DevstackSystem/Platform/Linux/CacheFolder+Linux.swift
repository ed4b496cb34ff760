#if os(Linux)
    import Foundation

    extension CacheFolder {
        /// XDG's cache folder.
        static func platformRoot(environment: [String: String]) -> String {
            if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return "\(cache)/devstack" }
            return "\(home(environment))/.cache/devstack"
        }
    }

    extension ConfigFolder {
        /// XDG's configuration folder.
        static func platformRoot(environment: [String: String]) -> String {
            if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return "\(config)/devstack" }
            return "\(CacheFolder.home(environment))/.config/devstack"
        }
    }

    extension FileTree {
        /// GNU cp: modes, owners and times kept; blocks shared where the file system can (btrfs, XFS).
        /// `makingHoles`: runs of zeros become holes (a fresh cluster's WAL segment is mostly zeros),
        /// which means reading every byte: 63 ms a cluster where keeping the source's holes takes 27.
        static func cloneCommand(makingHoles: Bool) -> [String] {
            ["/bin/cp", "-a", "--reflink=auto", makingHoles ? "--sparse=always" : "--sparse=auto"]
        }
    }
#endif
