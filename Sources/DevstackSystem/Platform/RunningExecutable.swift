import Foundation

/// The devstack executable this process runs, symlinks resolved. Asked of the kernel rather than
/// `Bundle.main`, which lists the executable's whole folder first (~1 ms in /usr/bin, at every start).
public enum RunningExecutable {
    public static let path: String = {
        #if os(Linux)
            // After a rebuild replaced the file, the kernel adds " (deleted)": the path still names the new build.
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
            }
        #elseif os(macOS)
            var size: UInt32 = 0
            _ = _NSGetExecutablePath(nil, &size)
            var buffer = [CChar](repeating: 0, count: Int(size))
            if _NSGetExecutablePath(&buffer, &size) == 0 {
                return URL(fileURLWithPath: String(cString: buffer)).resolvingSymlinksInPath().path
            }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }()
}
