import DevstackCore
import DevstackSystem
import Foundation

/// A Postgres of devstack's own for a moment, reached only through a socket folder (no TCP): started,
/// waited for until any recovery has replayed the WAL and promoted it, used, and stopped with a
/// checkpoint. Restores are proved and replayed with it, and the initdb cache's database is prepared.
struct SocketServer {
    let postgres: String
    let dataDirectory: String
    let socketDirectory: String
    let user: RunAsUser?
    let role: String
    /// Settings passed as `-c`, after the folder's own.
    let settings: [(String, String)]
    let log: String

    /// Starts the server, waits for the end of recovery, runs `body` with the way to reach it, and stops it.
    func run<T: Sendable>(_ body: (PostgresSession.Endpoint) async throws -> T) async throws -> T {
        let port = Ports.freePort(avoiding: []) ?? 5432
        var arguments = ["-D", dataDirectory, "-p", String(port), "-k", socketDirectory, "-c", "listen_addresses="]
        for (name, value) in settings { arguments += ["-c", "\(name)=\(value)"] }
        unlink(log)
        FileManager.default.createFile(atPath: log, contents: nil)
        user?.own(log)
        guard let logHandle = FileHandle(forWritingAtPath: log) else {
            throw PostgresServiceError(.restoreFailed, "cannot write \(log)", fix: "check the folder's permissions")
        }
        defer { try? logHandle.close() }
        let child = try await ChildLauncher.shared.launch(
            LaunchRequest(
                executable: postgres, arguments: arguments,
                environment: PostgresInstallation.serverEnvironment(),
                workingDirectory: dataDirectory, user: user?.name, standardOutput: logHandle, standardError: logHandle))
        let endpoint = PostgresSession.Endpoint(
            host: "127.0.0.1", port: port, user: role, password: "", database: "postgres", socketDirectory: socketDirectory)
        do {
            try await waitForPromotion(endpoint, child: child)
            let result = try await body(endpoint)
            try await stop(child)
            return result
        } catch {
            child.signalGroup(SIGQUIT)
            _ = await child.waitForExit(within: .seconds(10))
            throw error
        }
    }

    /// Recovery ends when the target is reached and the server promotes; it may take as long as the
    /// WAL since the backup takes to replay. A server that exits instead says why in its log.
    private func waitForPromotion(_ endpoint: PostgresSession.Endpoint, child: ChildProcess) async throws {
        let maintenance = endpoint
        let deadline = ContinuousClock.now + .seconds(600)
        while ContinuousClock.now < deadline {
            if let status = await child.waitForExit(within: .milliseconds(50)) {
                throw PostgresServiceError(
                    .restoreFailed, "the restored Postgres stopped during recovery (\(status)): \(lastLines(of: log))",
                    fix: "see \(log); a target before the first backup or after the last archived change cannot be reached")
            }
            if let inRecovery = try? await PostgresSession.with(maintenance, { try await $0.strings("select pg_is_in_recovery()::text").first }),
                inRecovery == "false"
            {
                return
            }
        }
        throw PostgresServiceError(.restoreFailed, "recovery did not finish within 10 minutes", fix: "see \(log)")
    }

    private func stop(_ child: ChildProcess) async throws {
        // SIGINT: Postgres's fast shutdown, with a checkpoint, so the data is consistent without replay.
        child.signalGroup(SIGINT)
        if await child.waitForExit(within: .seconds(60)) == nil {
            child.signalGroup(SIGKILL)
            _ = await child.waitForExit()
        }
    }

    private func lastLines(of file: String) -> String {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " / ")
    }
}
