import Foundation

/// `.devstack/<profile>/`: private to the user who runs devstack.
public enum StateDirectory {
    public static func create(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SystemError(
                .stateDirectory, "cannot create \(path): \(error.localizedDescription)", fix: "check that the project folder is writable")
        }
    }

    /// Removes a folder and everything in it, trying again for a moment while processes that were just
    /// killed may still write into it. Returns whether it is gone.
    @discardableResult
    public static func removeTree(_ path: String, patience: Duration = .seconds(2)) -> Bool {
        let deadline = ContinuousClock.now + patience
        while true {
            try? FileManager.default.removeItem(atPath: path)
            if !FileManager.default.fileExists(atPath: path) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(20_000)
        }
    }

    /// Replaces the file at `path` with `data`, mode 0600: written aside and renamed over, so a reader
    /// sees the old file or the new one, never half of one. `durable` syncs it, then the folder's entry,
    /// for what must survive a power loss. Returns what went wrong, as the system says it, or nil.
    public static func replace(_ path: String, with data: Data, durable: Bool) -> String? {
        let temporary = "\(path).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return "cannot write \(temporary): \(String(cString: strerror(errno)))" }
        let failure = Descriptor.writeAll(descriptor, data) ? nil : "cannot write \(temporary): \(String(cString: strerror(errno)))"
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
