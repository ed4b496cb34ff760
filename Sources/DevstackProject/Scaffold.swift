import DevstackCore
import DevstackSystem
import Foundation

/// `devstack init`: writes the default stack and profiles into a project, refusing to overwrite anything.
public enum Scaffold {
    public static var paths: [String] { files.map(\.path) }

    /// Returns the paths written. Writes nothing if any of them exists.
    public static func write(into directory: String) throws -> [String] {
        let existing = files.map(\.path).filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)") }
        guard existing.isEmpty else {
            throw ProjectError(
                .refused, "devstack init would overwrite \(existing.joined(separator: ", ")) in \(directory)",
                fix: "move those files aside, or run init in another folder; nothing was written")
        }
        for (path, contents) in files {
            let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url, options: .withoutOverwriting)
        }
        return files.map(\.path)
    }
}

public enum SchemaFiles {
    public static func write(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for document in ConfigSchema.Document.allCases {
            try Data(ConfigSchema.json(for: document).utf8).write(to: URL(fileURLWithPath: "\(folder)/\(document.rawValue).json"))
        }
    }
}
