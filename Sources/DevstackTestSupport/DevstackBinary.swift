import DevstackSystem
import Foundation

/// The `devstack` executable built beside the tests, and a way to run it.
public enum DevstackBinary {
    /// Beside the test bundle (SwiftPM builds every product into the same folder).
    public static var path: String {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        // On macOS the tests run inside an .xctest bundle: climb out of it.
        while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("devstack").path) {
            folder = folder.deletingLastPathComponent()
        }
        if folder.path != "/" { return folder.appendingPathComponent("devstack").path }
        return packageRoot + "/.build/debug/devstack"
    }

    /// The checkout this test support was built from.
    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs devstack to completion with exactly `environment` (plus PATH and HOME).
    public static func run(
        _ arguments: [String], in directory: String, environment: [String: String] = [:]
    ) throws -> Result {
        try runProcess(path, arguments, in: directory, environment: environment)
    }

    public static func runProcess(
        _ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:]
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var base = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "NO_COLOR": "1"]
        if let home = ProcessInfo.processInfo.environment["HOME"] { base["HOME"] = home }
        process.environment = base.merging(environment) { $1 }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let exit = PromptExit(process)
        try process.run()
        // Read both pipes concurrently so a chatty child cannot fill one and block.
        let errorData = LockedData()
        let reader = Thread { errorData.set(error.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        exit.wait()
        while !errorData.isSet { usleep(1000) }
        return Result(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData.value, as: UTF8.self))
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    func set(_ value: Data) { lock.withLock { data = value } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
