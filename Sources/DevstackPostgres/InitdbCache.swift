import Crypto
import DevstackCore
import DevstackSystem
import Foundation

/// One pristine `initdb` result per machine for each Postgres installation and set of initdb
/// options, so a first start copies a cluster (~0.1 s) instead of making one (~1 s). An entry is
/// made once, under a lock, in a folder beside its final name and renamed into place only when
/// complete: a copy cut short is never used, and its leftovers go at the next fill. A cluster copied
/// from here gets the profile's password when it first starts.
public struct InitdbCache: Sendable {
    public let root: String

    public init(root: String = "\(CacheFolder.root())/initdb") { self.root = root }

    /// What makes two initdb results interchangeable.
    public struct Key: Sendable {
        public var majorVersion: Int
        public var binDirectory: String
        public var options: [String]
        /// The prepared database's contents (`PreparedDatabase.fingerprint`).
        public var prepared: String

        public init(majorVersion: Int, binDirectory: String, options: [String], prepared: String) {
            self.majorVersion = majorVersion
            self.binDirectory = binDirectory
            self.options = options
            self.prepared = prepared
        }

        /// `pg15-1a2b3c4d5e6f`: the version for people, a digest of the rest for the machine.
        public var name: String {
            let digest = SHA256.hash(data: Data(([binDirectory] + options + [prepared]).joined(separator: "\n").utf8)).hexEncoded.prefix(12)
            return "pg\(majorVersion)-\(digest)"
        }
    }

    /// The cache could not be used (a folder that cannot be written, a full disk): nothing is lost,
    /// the cluster is made without it. `filled` is the cluster made before the copy into the cache failed.
    public struct Unavailable: Error, CustomStringConvertible {
        public var reason: String
        public var filled: String?
        public var description: String { reason }
    }

    public struct Entry: Codable, Sendable {
        public var name: String
        public var bytes: Int
        public var createdAt: Date
        /// A copy made ahead is waiting for the next first start of persistent data.
        public var spare: Bool
    }

    /// The complete entry for `key`: made by `fill` (which runs initdb and returns the folder it made)
    /// when there is none yet, while holding the key's lock so concurrent first starts make it once.
    /// Returns the entry and whether this call filled it (the caller may then use its own folder).
    /// Throws `Unavailable` when the cache folder cannot be used; the caller then runs initdb itself.
    public func entry(_ key: Key, fill: () async throws -> String) async throws -> (path: String, filled: Bool) {
        let path = "\(root)/\(key.name)"
        let lock: Lock
        do {
            try StateDirectory.create(root)
            if FileManager.default.fileExists(atPath: "\(path)/PG_VERSION") { return (path, false) }
            lock = try await Lock.acquire("\(path).lock")
        } catch {
            throw Unavailable(reason: "\(error)")
        }
        defer { lock.release() }
        if FileManager.default.fileExists(atPath: "\(path)/PG_VERSION") { return (path, false) }
        removeLeftovers(of: key.name)
        // A folder under the entry's name without a cluster in it is no entry: something else made it.
        try? FileManager.default.removeItem(atPath: path)
        let made = try await fill()
        let partial = "\(path).partial-\(getpid())"
        do {
            try FileTree.clone(made, to: partial, makingHoles: true)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw Unavailable(reason: "\(error)", filled: made)
        }
        // On disk before it gets its name: a crash must not leave an entry of empty files for every later start.
        FileTree.sync()
        guard rename(partial, path) == 0 else {
            try? FileManager.default.removeItem(atPath: partial)
            throw PostgresServiceError(
                .initdbFailed, "cannot put the initdb cache entry in place at \(path): \(String(cString: strerror(errno)))",
                fix: "remove \(root) (`devstack cache clear`) and start again")
        }
        return (path, true)
    }

    public func list() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { !$0.contains(".") }.sorted().compactMap { name in
            let path = "\(root)/\(name)"
            guard FileManager.default.fileExists(atPath: "\(path)/PG_VERSION") else { return nil }
            let created = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date ?? Date()
            return Entry(
                name: name, bytes: FileTree.size(path), createdAt: created, spare: FileManager.default.fileExists(atPath: "\(path).spare/PG_VERSION"))
        }
    }

    /// Removes every entry (running stacks use copies, so nothing they need goes); how many went.
    @discardableResult
    public func clear() throws -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var removed = 0
        for name in names {
            try FileManager.default.removeItem(atPath: "\(root)/\(name)")
            if !name.contains(".") { removed += 1 }
        }
        return removed
    }

    /// Moves the entry's spare copy (made ahead, complete and on disk) to `destination` by a rename: a
    /// first start with persistent data then writes no files at all. False when there is none, or it
    /// is on another file system than `destination`; the caller copies the entry then.
    public func takeSpare(_ key: Key, to destination: String) -> Bool {
        rename("\(root)/\(key.name).spare", destination) == 0
    }

    /// Makes the spare copy when there is none (after a first start took it): copied beside its name,
    /// synced, renamed into place, so a copy cut short is never taken. Skipped while another process
    /// holds the key's lock (a fill, or another refill).
    public func refillSpare(_ key: Key) async {
        let entry = "\(root)/\(key.name)"
        let spare = "\(entry).spare"
        guard FileManager.default.fileExists(atPath: "\(entry)/PG_VERSION"), !FileManager.default.fileExists(atPath: spare),
            let lock = Lock.attempt("\(entry).lock")
        else { return }
        defer { lock.release() }
        removeLeftovers(of: key.name)
        let partial = "\(entry).partial-spare-\(getpid())"
        do {
            try await FileTree.cloneDyingWithUs(entry, to: partial)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            return
        }
        FileTree.sync()
        if rename(partial, spare) != 0 { try? FileManager.default.removeItem(atPath: partial) }
    }

    /// Partial copies that a killed fill left behind.
    private func removeLeftovers(of name: String) {
        for leftover in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []) where leftover.hasPrefix("\(name).partial-") {
            try? FileManager.default.removeItem(atPath: "\(root)/\(leftover)")
        }
    }

    /// An exclusive `flock`, waited for without holding a thread.
    struct Lock {
        let descriptor: Int32

        static func acquire(_ path: String) async throws -> Lock {
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw PostgresServiceError(.initdbFailed, "cannot open \(path): \(String(cString: strerror(errno)))")
            }
            while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            return Lock(descriptor: descriptor)
        }

        /// The lock if no one holds it now.
        static func attempt(_ path: String) -> Lock? {
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { return nil }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                close(descriptor)
                return nil
            }
            return Lock(descriptor: descriptor)
        }

        func release() {
            flock(descriptor, LOCK_UN)
            close(descriptor)
        }
    }
}
