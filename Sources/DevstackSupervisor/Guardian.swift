import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// A small process (`devstack __guardian`) holding a pipe from the supervisor. When the pipe
/// closes — the supervisor exited, however it died — it stops every process group it was told
/// about. It covers grandchildren, which the parent-death signal does not reach, and it is the
/// only mechanism there is on macOS.
public final class Guardian: ProcessGroupWatcher, @unchecked Sendable {
    private let process: Process
    private let input: FileHandle
    private let lock = NSLock()
    private let spawn: Task<Void, any Error>
    private let exited: PromptExit

    /// Starts the guardian and returns at once: the spawn (~1 ms) runs beside whatever comes next,
    /// and lines sent meanwhile wait in the pipe. Launched directly, not through the launcher: a
    /// parent-death signal would kill the guardian at the very moment it is needed.
    public init(executable: String = SelfInvocation.guardian.executable) {
        let pipe = Pipe()
        _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        let process = Process()
        // At the lowest priority: its start (a whole devstack process) would otherwise take CPU from the
        // services starting beside it, and it only has work to do once the supervisor is gone.
        let nice = "/usr/bin/nice"
        let lowPriority = FileManager.default.isExecutableFile(atPath: nice)
        process.executableURL = URL(fileURLWithPath: lowPriority ? nice : executable)
        process.arguments = (lowPriority ? ["-n", "19", executable] : []) + SelfInvocation.guardian.arguments
        process.standardInput = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        self.process = process
        exited = PromptExit(process)
        input = pipe.fileHandleForWriting
        let readEnd = pipe.fileHandleForReading
        spawn = Task.detached {
            defer { try? readEnd.close() }
            do {
                try process.run()
            } catch {
                throw SupervisorError(
                    .launchFailed, "cannot start the guardian (\(executable) __guardian): \(error)",
                    fix: "check that \(executable) is still there and executable")
            }
        }
    }

    /// Returns once the guardian runs; throws if it could not be started.
    public func started() async throws { try await spawn.value }

    public func watch(group: Int32) { send("+\(group)\n") }
    public func forget(group: Int32) { send("-\(group)\n") }

    /// A clean stop: the guardian exits without touching anything.
    public func dismiss() async {
        send("exit\n")
        lock.withLock { try? input.close() }
        guard (try? await spawn.value) != nil else { return }
        exited.wait()
    }

    private func send(_ line: String) {
        lock.withLock { try? input.write(contentsOf: Data(line.utf8)) }
    }

    /// The guardian's own main loop.
    public static func runGuardian() -> Never {
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        var groups = Set<Int32>()
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        reading: while true {
            let count = read(STDIN_FILENO, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            buffer.append(contentsOf: chunk[0..<count])
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                if line == "exit" { exit(0) }
                if let group = Int32(line.dropFirst()) {
                    if line.hasPrefix("+") { groups.insert(group) } else { groups.remove(group) }
                }
            }
        }
        // The supervisor is gone: ask politely, then make sure, all within the 2 s promise.
        for group in groups { killpg(group, SIGTERM) }
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline && groups.contains(where: ProcessTable.groupIsAlive) { usleep(20_000) }
        for group in groups where ProcessTable.groupIsAlive(group) { killpg(group, SIGKILL) }
        exit(0)
    }
}

/// Whatever stops the services' process groups should the supervisor die (the guardian); injected,
/// so the supervisor's logic runs in tests without one.
public protocol ProcessGroupWatcher: Sendable {
    func watch(group: Int32)
    func forget(group: Int32)
}
