import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `.devstack/<profile>/`: private to the user who runs devstack.
public enum StateDirectory {
    public static func create(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SupervisorError(.stateDirectory, "cannot create \(path): \(error.localizedDescription)", fix: "check that the project folder is writable")
        }
    }

    /// Replaces the file at `path` with `data`, mode 0600: written aside and renamed over, so a reader
    /// sees the old file or the new one, never half of one. `durable` syncs it, then the folder's entry,
    /// for what must survive a power loss. Returns what went wrong, as the system says it, or nil.
    public static func replace(_ path: String, with data: Data, durable: Bool) -> String? {
        let temporary = "\(path).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return "cannot write \(temporary): \(String(cString: strerror(errno)))" }
        let failure = LogSink.writeAll(descriptor, data) ? nil : "cannot write \(temporary): \(String(cString: strerror(errno)))"
        if durable && failure == nil { fsync(descriptor) }
        close(descriptor)
        if let failure {
            unlink(temporary)
            return failure
        }
        guard rename(temporary, path) == 0 else {
            let failure = "cannot replace \(path): \(String(cString: strerror(errno)))"
            unlink(temporary)
            return failure
        }
        if durable { DiskSync.syncFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        return nil
    }
}
