import Foundation

/// Finds a command the way a shell would: a path as given (relative to the working folder), else along PATH.
public enum ExecutableLookup {
    public static func resolve(_ command: String, workingDirectory: String, environment: [String: String]) -> String? {
        if command.contains("/") {
            let path =
                command.hasPrefix("/") ? command : URL(fileURLWithPath: workingDirectory).appendingPathComponent(command).standardizedFileURL.path
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in searchPath.split(separator: ":") {
            let candidate = "\(folder)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
