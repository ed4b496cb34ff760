import DevstackCore
import DevstackPostgres
import DevstackSystem
import Foundation

/// Where one Postgres service keeps its data and its socket.
struct DataLayout: Sendable {
    let dataDirectory: String
    let socketDirectory: String
    let ephemeral: Bool

    /// Persistent data lives in `.devstack/<profile>/data/<service>`; when the unprivileged user
    /// Postgres runs as cannot reach the project (a root-only home folder), in
    /// `/var/lib/devstack/<project hash>/<service>` with a symlink from the usual place.
    /// Ephemeral data lives beside the socket in the run's temporary folder.
    static func prepare(_ service: PlannedService, plan: Plan, user: RunAsUser?) throws -> DataLayout {
        guard let socket = service.attributes["socket"] else {
            throw PostgresServiceError(.dataDirectory, "\(service.name) has no socket folder in the plan")
        }
        let runtime = try RuntimeFolder.prepare(URL(fileURLWithPath: socket).deletingLastPathComponent().path)
        try makeDirectory(socket, mode: 0o700)
        user?.own(socket)
        if plan.profile.data == .ephemeral {
            let data = "\(runtime)/\(service.name)-data"
            return DataLayout(dataDirectory: data, socketDirectory: socket, ephemeral: true)
        }
        let usual = "\(plan.stateDirectory)/data/\(service.name)"
        // Running as another user, Postgres must pass through the state folders (their files stay 0600).
        let passable: mode_t = user == nil ? 0o700 : 0o711
        try makeDirectory("\(plan.stateDirectory)/data", mode: passable)
        if user != nil {
            chmod(plan.stateDirectory, passable)
            chmod(URL(fileURLWithPath: plan.stateDirectory).deletingLastPathComponent().path, passable)
        }
        guard let user, !user.canTraverse(to: usual) else {
            return DataLayout(dataDirectory: resolvingLink(usual), socketDirectory: socket, ephemeral: false)
        }
        if let existing = try? FileManager.default.destinationOfSymbolicLink(atPath: usual) {
            return DataLayout(dataDirectory: existing, socketDirectory: socket, ephemeral: false)
        }
        // A folder where the link goes: an empty one is replaced; data or other files are not.
        if FileManager.default.fileExists(atPath: usual) && rmdir(usual) != 0 {
            guard FileManager.default.fileExists(atPath: "\(usual)/PG_VERSION") else { throw notData(usual) }
            throw PostgresServiceError(
                .dataDirectory, "the data of \(service.name) is in \(usual), and the user \(user.name) Postgres runs as cannot reach it",
                fix: "let \(user.name) through every folder above it (chmod o+x), or run devstack as the user who owns the folder")
        }
        let outside = "/var/lib/devstack/\(StableHash.of(plan.stateDirectory))/\(service.name)"
        // The link is the data's owner: without it (someone deleted .devstack), what is left outside is stale.
        try? FileManager.default.removeItem(atPath: outside)
        try makeDirectory(URL(fileURLWithPath: outside).deletingLastPathComponent().path, mode: 0o755)
        try FileManager.default.createSymbolicLink(atPath: usual, withDestinationPath: outside)
        return DataLayout(dataDirectory: outside, socketDirectory: socket, ephemeral: false)
    }

    static func notData(_ folder: String) -> PostgresServiceError {
        PostgresServiceError(
            .dataDirectory, "\(folder) holds files but no Postgres data (no PG_VERSION)",
            fix: "move it aside or remove it, then start again to create an empty database there")
    }

    private static func resolvingLink(_ path: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? path
    }

    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
            } catch {
                throw PostgresServiceError(
                    .dataDirectory, "cannot create \(path): \(error.localizedDescription)", fix: "check the folder's permissions")
            }
        }
        chmod(path, mode)
    }
}
