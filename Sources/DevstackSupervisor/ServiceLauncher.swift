import DevstackDriverKit
import DevstackSystem
import Foundation

/// Starts a service's process for the supervisor. Injected, so the supervisor's logic (restarts,
/// backoff, crash loops, health, dependencies, stops) is tested with fake processes in milliseconds.
public protocol ServiceLauncher: Sendable {
    /// The running instance and the pumps carrying its output into the service's log.
    func launch(_ spec: LaunchSpec, service: String, sink: LogSink) async throws -> (any ServiceInstance, [OutputPump])
}

/// Real child processes, from the launcher thread, their output piped into the log.
public struct ProcessLauncher: ServiceLauncher {
    public init() {}

    public func launch(_ spec: LaunchSpec, service: String, sink: LogSink) async throws -> (any ServiceInstance, [OutputPump]) {
        let output = Pipe()
        let errors = Pipe()
        for pipe in [output, errors] {
            // Only the child's copies (dup'ed onto 1 and 2) may survive exec, or a sibling holding a
            // write end would keep this pipe from ever reaching end-of-file.
            _ = fcntl(pipe.fileHandleForReading.fileDescriptor, F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        }
        let child = try await ChildLauncher.shared.launch(
            LaunchRequest(
                executable: spec.executable, arguments: spec.arguments, environment: spec.environment,
                workingDirectory: spec.workingDirectory, user: spec.user, standardOutput: output.fileHandleForWriting,
                standardError: errors.fileHandleForWriting))
        try? output.fileHandleForWriting.close()
        try? errors.fileHandleForWriting.close()
        let pumps = [
            OutputPump(service: service, stream: .stdout, reading: output.fileHandleForReading, into: sink),
            OutputPump(service: service, stream: .stderr, reading: errors.fileHandleForReading, into: sink),
        ]
        return (child, pumps)
    }
}
