import Foundation

/// What a short-lived tool prints (`postgres --version`, `pg_config --bindir`, `ps`, `lsof`).
public enum ToolOutput {
    /// Its standard output, trimmed; nil when it cannot be run or fails.
    public static func read(_ executable: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let exit = PromptExit(process)
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        exit.wait()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Everything a child writes to `handle` until it closes, read on a thread of its own: initdb or a
    /// backup runs for a second or more, too long to hold one of the few threads every task shares.
    public static func text(of handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)) }
        }
    }

    /// Its exit status and everything it printed (both streams), for tools whose failures the user must see.
    public static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let exit = PromptExit(process)
        guard (try? process.run()) != nil else { return (127, "cannot run \(executable)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        exit.wait()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
