import DevstackCore
import Foundation

/// Sockets and throw-away data live in a per-user folder that no other user can have made or
/// changed: `$XDG_RUNTIME_DIR/devstack` for an ordinary user who has one, else
/// `/dev/shm/devstack-<uid>` where the machine has a roomy tmpfs there (Linux), else
/// `/tmp/devstack-<uid>` (short, for Unix socket paths, and passable by the `postgres` user when
/// devstack runs as root).
/// A path someone else prepared, a symbolic link, or a folder others may write to is refused, never
/// used or changed: on a shared machine a predictable name in `/tmp` is an invitation.
public enum RuntimeFolder {
    /// The per-user root; `DEVSTACK_RUNTIME_DIR` overrides it.
    public static func root(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let chosen = environment["DEVSTACK_RUNTIME_DIR"], chosen.hasPrefix("/") { return chosen }
        if getuid() != 0, let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/"), isOwnedPrivateFolder(runtime) {
            return "\(runtime)/devstack"
        }
        return "\(sharedMemoryParent ?? "/tmp")/devstack-\(getuid())"
    }

    /// Creates `path` with `mode`, or accepts an existing one only when it is a real folder of this
    /// user that no one else may write to.
    public static func ensure(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) == 0 {
            // mkdir's mode passes through the umask; /tmp's sticky bit keeps others from swapping the folder meanwhile.
            chmod(path, mode)
            return
        }
        guard errno == EEXIST else {
            throw SystemError(
                .stateDirectory, "cannot create \(path): \(String(cString: strerror(errno)))",
                fix: "check that its parent folder exists and is writable, or set DEVSTACK_RUNTIME_DIR to a folder of yours")
        }
        if let problem = untrusted(path) {
            throw SystemError(
                .untrustedFolder, "\(path) \(problem): devstack will not keep sockets or data there",
                fix: "remove it (`rm -rf \(path)`) and start again, or set DEVSTACK_RUNTIME_DIR to a folder only you can write")
        }
    }

    /// Why an existing folder cannot be trusted, or nil when it can.
    static func untrusted(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return "cannot be examined (\(String(cString: strerror(errno))))" }
        switch info.st_mode & S_IFMT {
        case S_IFLNK: return "is a symbolic link"
        case S_IFDIR: break
        default: return "is not a folder"
        }
        if info.st_uid != getuid() { return "belongs to another user (uid \(info.st_uid))" }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 { return "may be written by other users (mode \(String(info.st_mode & 0o7777, radix: 8)))" }
        return nil
    }

    private static func isOwnedPrivateFolder(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_uid == getuid()
    }

    /// The root and the project's folder under it, created or checked; returns the project's folder.
    @discardableResult
    public static func prepare(_ projectFolder: String) throws -> String {
        let root = URL(fileURLWithPath: projectFolder).deletingLastPathComponent().path
        try ensure(root, mode: 0o711)
        try ensure(projectFolder, mode: 0o711)
        return projectFolder
    }
}
