import Foundation

/// The user's cache: what devstack keeps per machine to save work (initdb results). Everything in
/// it can be deleted at any time. `DEVSTACK_CACHE_DIR` overrides it; otherwise the platform's place
/// (`Platform/Linux/CacheFolder+Linux.swift`, `Platform/macOS/CacheFolder+macOS.swift`).
public enum CacheFolder {
    public static func root(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let chosen = environment["DEVSTACK_CACHE_DIR"], chosen.hasPrefix("/") { return chosen }
        return platformRoot(environment: environment)
    }

    /// `$HOME` when it is this user's, else the password database's home (a `setpriv` to another
    /// user keeps the caller's `$HOME`, which the new user cannot write).
    static func home(_ environment: [String: String]) -> String {
        var info = stat()
        if let home = environment["HOME"], home.hasPrefix("/"), stat(home, &info) == 0, info.st_uid == geteuid() { return home }
        if let entry = getpwuid(geteuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return NSHomeDirectory()
    }
}

/// The user's configuration: what devstack keeps for the person, not the project (the fingerprints
/// of production secrets it has been given). `DEVSTACK_CONFIG_DIR` overrides it; otherwise the
/// platform's place (beside the cache folder's, in the same platform files).
public enum ConfigFolder {
    public static func root(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let chosen = environment["DEVSTACK_CONFIG_DIR"], chosen.hasPrefix("/") { return chosen }
        return platformRoot(environment: environment)
    }
}
