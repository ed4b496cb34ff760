import Foundation

/// Facts about other processes: are they alive, when did they start, who holds a port. What only
/// the kernel can tell is asked in `Linux/ProcessTable+Linux.swift` or `macOS/ProcessTable+macOS.swift`.
public enum ProcessTable {
    /// Zombies count as dead: they answer `kill -0` until someone reaps them, which may take a while.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        return !isZombie(pid)
    }

    /// Whether any live (non-zombie) process is left in the group.
    public static func groupIsAlive(_ pgid: Int32) -> Bool {
        guard pgid > 0, killpg(pgid, 0) == 0 || errno == EPERM else { return false }
        return groupHasLiveMember(pgid)
    }

    /// Whether `pid` is still the process that was recorded with `startTime`.
    public static func isSameProcess(_ pid: Int32, startTime: UInt64?) -> Bool {
        guard isAlive(pid) else { return false }
        guard let startTime else { return true }
        return self.startTime(of: pid) == startTime
    }

    /// A command line shortened for a message.
    public static func shortened(_ command: String) -> String {
        command.count > 80 ? String(command.prefix(77)) + "..." : command
    }
}
