import DevstackCore
import DevstackSystem
import Foundation

/// A fresh folder under the system's temporary directory, removed by `remove()` (tests call it in `defer`).
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "devstack-test") throws {
        let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(prefix)-XXXXXX")
        var bytes = Array(template.utf8CString)
        guard let created = mkdtemp(&bytes) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: template])
        }
        // Resolve symlinks (macOS /var → /private/var) so paths compare equal to what the code under test sees.
        path = URL(fileURLWithPath: String(cString: created)).resolvingSymlinksInPath().path
    }

    /// Removes the folder, and the data devstack kept outside it for a project in it (as root, when the
    /// `postgres` user cannot reach the folder: `.devstack/<profile>/data/<service>` links to /var/lib/devstack).
    public func remove() {
        let states = "\(path)/.devstack"
        for profile in (try? FileManager.default.contentsOfDirectory(atPath: states)) ?? [] {
            // The run's sockets and throw-away data, which a killed supervisor leaves for the next `down`.
            try? FileManager.default.removeItem(atPath: "\(RuntimeFolder.root())/\(StableHash.of("\(states)/\(profile)"))")
            let data = "\(states)/\(profile)/data"
            for service in (try? FileManager.default.contentsOfDirectory(atPath: data)) ?? [] {
                guard let outside = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(data)/\(service)") else { continue }
                // The project's folder there holds its services' data and their backups.
                try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: outside).deletingLastPathComponent().path)
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `contents` to `relativePath`, creating folders as needed.
    @discardableResult
    public func write(_ relativePath: String, _ contents: String) throws -> String {
        let url = URL(fileURLWithPath: path).appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: url)
        return url.path
    }

    public func read(_ relativePath: String) -> String? {
        FileManager.default.contents(atPath: "\(path)/\(relativePath)").map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Runs `body` with a temporary directory that is removed afterwards, whatever happens.
@discardableResult
public func withTemporaryDirectory<T>(prefix: String = "devstack-test", _ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory(prefix: prefix)
    defer { directory.remove() }
    return try await body(directory)
}
