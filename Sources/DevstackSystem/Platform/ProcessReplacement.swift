import Foundation

/// Becomes another program (`exec`, not a child): its exit status and signals are exactly its own.
public enum ProcessReplacement {
    public static func exec(_ executable: String, arguments: [String], environment: [String: String]) throws -> Never {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        execve(executable, argv, envp)
        throw SystemError(.launchFailed, "cannot run \(executable): \(String(cString: strerror(errno)))")
    }
}
