import DevstackCore
import DevstackSystem
import Foundation

/// Every stack this user runs on the machine, for `devstack ls`: each running stack leaves a pointer
/// to its project in its runtime folder (which goes when it stops), and its state file says whether
/// it still runs.
public enum RunningStacks {
    /// Where a running stack's project is, written into its runtime folder.
    public struct Pointer: Codable, Sendable {
        public var projectDirectory: String
        public var stateDirectory: String
        public var stack: String
        public var profile: String
        public var instance: String?
    }

    /// One stack as `devstack ls` shows it.
    public struct Entry: Codable, Sendable {
        public var project: String
        public var stack: String
        public var profile: String
        public var instance: String?
        public var pid: Int32
        public var startedAt: Date
        public var detached: Bool
        public var ports: [String: [String: Int]]
    }

    static let pointerFile = "stack.json"

    public static func register(_ plan: Plan) throws {
        let pointer = Pointer(
            projectDirectory: plan.projectDirectory, stateDirectory: plan.stateDirectory, stack: plan.stack, profile: plan.profile.name,
            instance: plan.instance)
        if let failure = StateDirectory.replace(
            "\(plan.runtimeDirectory)/\(pointerFile)", with: try StateStore.encoder.encode(pointer), durable: false)
        {
            throw ProjectError(.stateDirectory, failure, fix: "check that \(plan.runtimeDirectory) is writable")
        }
    }

    /// The running ones under `root` (this user's runtime folder), oldest first; pointers left by a
    /// crash are passed over.
    public static func list(root: String = RuntimeFolder.root()) -> [Entry] {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let entries = folders.compactMap { folder -> Entry? in
            guard let data = FileManager.default.contents(atPath: "\(root)/\(folder)/\(pointerFile)"),
                let pointer = try? StateStore.decoder.decode(Pointer.self, from: data),
                let record = StateStore(directory: pointer.stateDirectory).running()
            else { return nil }
            return Entry(
                project: pointer.projectDirectory, stack: pointer.stack, profile: pointer.profile, instance: pointer.instance, pid: record.pid,
                startedAt: record.startedAt, detached: record.detached, ports: record.ports ?? [:])
        }
        return entries.sorted { $0.startedAt < $1.startedAt }
    }
}
