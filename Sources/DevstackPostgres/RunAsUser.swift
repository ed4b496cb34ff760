import Foundation

/// Postgres refuses to run as root. When devstack is root, Postgres runs as an unprivileged user.
public struct RunAsUser: Sendable {
    public let name: String
    let uid: uid_t
    let gid: gid_t

    /// nil when devstack is not root (Postgres runs as devstack's own user).
    public static func resolve(_ requested: String?) throws -> RunAsUser? {
        guard geteuid() == 0 else { return nil }
        let name = requested ?? "postgres"
        guard let entry = getpwnam(name) else {
            throw PostgresServiceError(
                .noUnprivilegedUser, "devstack runs as root, Postgres refuses to, and there is no user '\(name)' to run it as",
                fix: "create one (useradd --system --no-create-home \(name)), or name an existing user with 'user:' on the postgres service")
        }
        return RunAsUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    public func own(_ path: String) {
        chown(path, uid, gid)
    }

    /// Whether this user can reach `path`: every folder above it must let them through.
    public func canTraverse(to path: String) -> Bool {
        var url = URL(fileURLWithPath: path).deletingLastPathComponent()
        while url.path != "/" {
            var info = stat()
            guard stat(url.path, &info) == 0 else { return false }
            let mode = info.st_mode
            let allowed: Bool
            if info.st_uid == uid {
                allowed = mode & S_IXUSR != 0
            } else if info.st_gid == gid {
                allowed = mode & S_IXGRP != 0
            } else {
                allowed = mode & S_IXOTH != 0
            }
            if !allowed { return false }
            url = url.deletingLastPathComponent()
        }
        return true
    }
}
