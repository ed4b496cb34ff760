import Foundation

public enum FilePath {
    /// A path written in a stack or profile: absolute as is, otherwise relative to `base`; normalised.
    public static func absolute(_ path: String, relativeTo base: String) -> String {
        URL(fileURLWithPath: path.hasPrefix("/") ? path : "\(base)/\(path)").standardizedFileURL.path
    }
}
