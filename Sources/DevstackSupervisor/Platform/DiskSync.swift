import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Getting what was written onto the disk, for what must survive a power loss.
public enum DiskSync {
    /// Whether `flushFileSystem` covers files other processes wrote. Linux's `syncfs` does, in one call
    /// (the same as Postgres 16's `--sync-method=syncfs`); elsewhere the writer must sync its own files.
    public static var flushesOtherWriters: Bool {
        #if os(Linux)
            return true
        #else
            return false
        #endif
    }

    /// Writes every dirty page and inode of the file system holding `path` to disk and waits.
    /// Returns what went wrong, as the system says it, or nil. Nothing to do where `flushesOtherWriters` is false.
    public static func flushFileSystem(containing path: String) -> String? {
        #if os(Linux)
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return "cannot open \(path): \(String(cString: strerror(errno)))" }
            defer { close(descriptor) }
            guard let syncfs = linuxSyncfs else {
                sync()
                return nil
            }
            return syncfs(descriptor) == 0 ? nil : "cannot flush \(path) to disk: \(String(cString: strerror(errno)))"
        #else
            return nil
        #endif
    }

    #if os(Linux)
        /// glibc declares `syncfs` only for `_GNU_SOURCE`, which Swift's Glibc module is not built with.
        private static let linuxSyncfs: (@convention(c) (Int32) -> Int32)? = dlopen(nil, RTLD_NOW).flatMap { dlsym($0, "syncfs") }
            .map { unsafeBitCast($0, to: (@convention(c) (Int32) -> Int32).self) }
    #endif

    /// Syncs a folder's entries, so a file created or renamed in it stays after a power loss.
    public static func syncFolder(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
