import Foundation

/// `.devstack/<profile>/`: private to the user who runs devstack.
public enum StateDirectory {
    public static func create(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SupervisorError(.stateDirectory, "cannot create \(path): \(error.localizedDescription)", fix: "check that the project folder is writable")
        }
    }
}
