import Foundation

/// Getting what was written onto the disk, for what must survive a power loss.
public enum DiskSync {
    /// Syncs a folder's entries, so a file created or renamed in it stays after a power loss.
    public static func syncFolder(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
