import Foundation

/// Waits for a `Process` to exit, waking as it does. Foundation's `waitUntilExit` on Linux looks at
/// the child from a run loop that sleeps 50 ms between looks: a copy of 30 ms took 85 half the time.
/// Made before `run()` (it sets the process's termination handler).
public struct PromptExit: Sendable {
    private let exited = DispatchSemaphore(value: 0)

    public init(_ process: Process) {
        let exited = exited
        process.terminationHandler = { _ in exited.signal() }
    }

    /// Blocks the calling thread until the process has exited (at once if it already has); once only.
    public func wait() { exited.wait() }
}
