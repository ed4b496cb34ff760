import Foundation

/// Copying a folder tree as cheaply as the file system allows (a reflink or clone where it can).
public enum FileTree {
    /// Copies `source` to `destination`, which must not exist yet. `makingHoles`: turn runs of zeros
    /// into holes (for a tree kept long, such as the initdb cache); otherwise the source's holes are kept.
    public static func clone(_ source: String, to destination: String, makingHoles: Bool = false) throws {
        let process = Process()
        let command = cloneCommand(makingHoles: makingHoles)
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + [source, destination]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let exit = PromptExit(process)
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        exit.wait()
        guard process.terminationStatus == 0 else {
            throw SystemError(
                .stateDirectory, "cannot copy \(source) to \(destination): \(message.trimmingCharacters(in: .whitespacesAndNewlines))",
                fix: "check the free space and permissions there")
        }
    }

    /// `clone`, as a child that dies with devstack (work done in the background must not outlive it).
    public static func cloneDyingWithUs(_ source: String, to destination: String) async throws {
        let command = cloneCommand(makingHoles: false)
        let child = try await ChildLauncher.shared.launch(
            LaunchRequest(
                executable: command[0], arguments: Array(command.dropFirst()) + [source, destination], environment: [:],
                workingDirectory: "/"))
        let status = await child.waitForExit()
        guard status.succeeded else {
            throw SystemError(
                .stateDirectory, "cannot copy \(source) to \(destination): cp \(status)", fix: "check the free space and permissions there")
        }
    }

    /// Bytes in the tree (files only).
    public static func size(_ path: String) -> Int {
        let enumerator = FileManager.default.enumerator(atPath: path)
        var total = 0
        while let name = enumerator?.nextObject() as? String {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: "\(path)/\(name)"),
                attributes[.type] as? FileAttributeType == .typeRegular
            {
                total += (attributes[.size] as? NSNumber)?.intValue ?? 0
            }
        }
        return total
    }

    /// Everything written so far, onto the disk (`sync(2)`): once per cache entry, so its cost does not matter.
    public static func sync() {
        Foundation.sync()
    }
}
