import DevstackCore
import DevstackSystem
import Foundation

/// pgBackRest for one Postgres cluster: its configuration file, and its commands, run as the user
/// Postgres runs as (the repository and the data must belong to the same user).
public struct PgBackRest: Sendable {
    /// Where one cluster's backups live: the configuration, pgBackRest's log, lock and spool, and the
    /// scratch folder restores are verified in.
    public struct Layout: Sendable {
        public let root: String
        public let repository: String

        public init(root: String, repository: String) {
            self.root = root
            self.repository = repository
        }

        var configurationFile: String { "\(root)/pgbackrest.conf" }
        var scratch: String { "\(root)/scratch" }
        var verifications: String { "\(root)/verifications.json" }
    }

    public let executable: String
    public let stanza: String
    public let layout: Layout
    public let dataDirectory: String
    public let socketDirectory: String
    public let port: Int
    public let role: String
    public let user: RunAsUser?
    public let retention: Int
    public let cipherKey: String?

    public init(
        executable: String, stanza: String, layout: Layout, dataDirectory: String, socketDirectory: String, port: Int, role: String,
        user: RunAsUser?, retention: Int, cipherKey: String?
    ) {
        self.executable = executable
        self.stanza = stanza
        self.layout = layout
        self.dataDirectory = dataDirectory
        self.socketDirectory = socketDirectory
        self.port = port
        self.role = role
        self.user = user
        self.retention = retention
        self.cipherKey = cipherKey
    }

    /// The machine's pgbackrest, or an error saying how to install it.
    public static func find(environment: [String: String]) throws -> String {
        if let found = ExecutableLookup.resolve("pgbackrest", workingDirectory: "/", environment: environment) { return found }
        throw PostgresServiceError(
            .backupToolMissing, "the profile asks for backups, and pgBackRest is not installed (no pgbackrest on PATH)",
            fix: "install it (Debian/Ubuntu: apt-get install pgbackrest; macOS: brew install pgbackrest), or remove 'backups:' from the profile")
    }

    /// What Postgres runs for each finished WAL segment: the copy into the repository.
    public var archiveCommand: String {
        "\(Self.quoted(executable)) --config=\(Self.quoted(layout.configurationFile)) --stanza=\(stanza) archive-push %p"
    }

    /// The Postgres settings that turn on WAL archiving into the repository.
    public var serverSettings: [(String, String)] {
        [("archive_mode", "on"), ("archive_command", archiveCommand), ("wal_level", "replica")]
    }

    /// Folders owned by Postgres's user and a configuration file only it reads (it may hold the cipher key).
    public func writeConfiguration() throws {
        for folder in [layout.root, layout.repository, "\(layout.root)/log", "\(layout.root)/lock", "\(layout.root)/spool"] {
            if mkdir(folder, 0o700) != 0 && errno != EEXIST {
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                } catch {
                    throw PostgresServiceError(
                        .backupFailed, "cannot create the backup folder \(folder): \(error.localizedDescription)",
                        fix: "check the folder's permissions, or set 'repository:' under the profile's backups")
                }
            }
            chmod(folder, 0o700)
            user?.own(folder)
        }
        var lines = [
            "# Written by devstack at every start; edits are overwritten.", "[global]", "repo1-path=\(layout.repository)",
            "repo1-retention-full=\(retention)", "log-path=\(layout.root)/log", "lock-path=\(layout.root)/lock", "spool-path=\(layout.root)/spool",
            "log-level-console=off", "log-level-stderr=error", "log-level-file=info", "start-fast=y", "compress-type=lz4", "process-max=2",
        ]
        if let cipherKey { lines += ["repo1-cipher-type=aes-256-cbc", "repo1-cipher-pass=\(cipherKey)"] }
        lines += [
            "", "[\(stanza)]", "pg1-path=\(dataDirectory)", "pg1-port=\(port)", "pg1-socket-path=\(socketDirectory)", "pg1-user=\(role)", "",
        ]
        let file = layout.configurationFile
        let temporary = "\(file).new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0, Descriptor.writeAll(descriptor, Data(lines.joined(separator: "\n").utf8)) else {
            if descriptor >= 0 { close(descriptor) }
            throw PostgresServiceError(
                .backupFailed, "cannot write \(file): \(String(cString: strerror(errno)))", fix: "check the folder's permissions")
        }
        close(descriptor)
        user?.own(temporary)
        rename(temporary, file)
    }

    /// The stanza (pgBackRest's name for a cluster's part of the repository) exists once created.
    public var stanzaExists: Bool {
        FileManager.default.fileExists(atPath: "\(layout.repository)/backup/\(stanza)/backup.info")
    }

    /// Runs `pgbackrest --stanza=… COMMAND ARGUMENTS`; throws with pgBackRest's own words when it fails.
    @discardableResult
    public func run(_ command: String, _ arguments: [String] = [], failure: PostgresErrorCode = .backupFailed) async throws -> String {
        let output = Pipe()
        let errors = Pipe()
        let child = try await ChildLauncher.shared.launch(
            LaunchRequest(
                executable: executable, arguments: ["--config=\(layout.configurationFile)", "--stanza=\(stanza)", command] + arguments,
                environment: PostgresInstallation.serverEnvironment().merging(["TZ": "UTC"]) { $1 },
                workingDirectory: layout.root, user: user?.name, standardOutput: output.fileHandleForWriting,
                standardError: errors.fileHandleForWriting))
        try? output.fileHandleForWriting.close()
        try? errors.fileHandleForWriting.close()
        async let text = ToolOutput.text(of: output.fileHandleForReading)
        async let complaint = ToolOutput.text(of: errors.fileHandleForReading)
        let status = await child.waitForExit()
        let (stdout, stderr) = await (text, complaint)
        guard status.succeeded else {
            let said = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw PostgresServiceError(
                failure, "pgbackrest \(command) failed (\(status))" + (said.isEmpty ? "" : ": \(said)"),
                fix: "see \(layout.root)/log for pgBackRest's own log")
        }
        return stdout
    }

    /// The backups in the repository, oldest first.
    public func backups() async throws -> [Info] {
        guard stanzaExists else { return [] }
        let text = try await run("info", ["--output=json"])
        let stanzas = try JSONDecoder().decode([StanzaInfo].self, from: Data(text.utf8))
        return stanzas.first?.backup ?? []
    }

    struct StanzaInfo: Decodable {
        let backup: [Info]
    }

    /// One backup as `pgbackrest info --output=json` describes it.
    public struct Info: Decodable, Sendable {
        public struct Timestamps: Decodable, Sendable {
            public let start: Int
            public let stop: Int
        }
        public struct Sizes: Decodable, Sendable {
            public struct Repository: Decodable, Sendable {
                public let delta: Int
            }
            public let size: Int
            public let repository: Repository
        }
        public let label: String
        public let type: String
        public let timestamp: Timestamps
        public let info: Sizes
        public let annotation: [String: String]?
    }

    private static func quoted(_ text: String) -> String {
        text.allSatisfy({ $0.isLetter || $0.isNumber || "/._-".contains($0) }) ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
