import Foundation

/// Keeps the machine awake while an always-on stack serves, where the platform offers a way
/// (`systemd-inhibit`, `caffeinate`). The helper watches devstack's pid and ends by itself when
/// devstack does, however devstack ends: nothing to clean up, nothing left behind.
public enum SleepInhibitor {
    /// Starts the helper for `pid` and says, in a line for the log, whether the machine is kept awake.
    public static func hold(forProcess pid: Int32, reason: String, environment: [String: String]) async -> String {
        guard let command = command(forProcess: pid, reason: reason, environment: environment) else {
            return "devstack: the machine may sleep while the stack serves: \(helperName) was not found (see `devstack doctor`)"
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return "devstack: the machine may sleep while the stack serves: \(helperName) did not start: \(error)" }
        // A helper that cannot hold the lock (no logind, no bus) says so at once and exits.
        for _ in 0..<30 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning {
            return "devstack: keeping the machine awake while the stack serves (\(helperName), pid \(process.processIdentifier))"
        }
        let message = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return
            "devstack: the machine may sleep while the stack serves: \(helperName) refused (\(message.isEmpty ? "exit \(process.terminationStatus)" : message))"
    }
}
