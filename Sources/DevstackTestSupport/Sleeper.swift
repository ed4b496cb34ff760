import DevstackSystem
import Foundation

/// A process that only waits, standing in for a test process that holds something (a lease).
public final class Sleeper: Sendable {
    public let pid: Int32
    private let process: Process

    public init() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["600"]
        try process.run()
        pid = process.processIdentifier
        // `run()` returns after the fork; until the exec the child still shows the test's command line.
        for _ in 0..<500 where ProcessTable.commandLine(of: pid)?.hasPrefix("/bin/sleep") != true { usleep(2000) }
    }

    /// Kills it and returns once it is gone (reaped, or a zombie, which counts as gone).
    public func end() async {
        kill(pid, SIGKILL)
        for _ in 0..<500 where ProcessTable.isAlive(pid) { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
