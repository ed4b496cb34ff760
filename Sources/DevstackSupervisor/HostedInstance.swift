import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation
import Logging
import ServiceLifecycle

/// A running service, whether a child process or hosted inside devstack.
public protocol ServiceInstance: AnyObject, Sendable {
    /// The process group signals go to; nil for a service hosted inside devstack.
    var processGroup: Int32? { get }
    var startTime: UInt64? { get }
    func waitForExit() async -> ExitStatus
    /// The exit status, or nil when it has not exited within `timeout`.
    func waitForExit(within timeout: Duration) async -> ExitStatus?
    /// Asks it to stop: any signal but SIGKILL is a graceful stop for a hosted service.
    func signalGroup(_ signal: Int32)
}

extension ChildProcess: ServiceInstance {}

/// A service run inside the devstack process (an HTTP server on its own port), supervised like a child:
/// a stop signal becomes a graceful shutdown, SIGKILL a cancellation, and a thrown error a crash.
final class HostedInstance: ServiceInstance, @unchecked Sendable {
    let processGroup: Int32? = nil
    let startTime: UInt64? = nil
    private let group: ServiceGroup
    private let exit = ExitLatch()
    private let task: Task<Void, Never>

    init(_ service: any Service, name: String, sink: LogSink) {
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: SinkLogHandler.logger(service: name, sink: sink)))
        self.group = group
        let exit = self.exit
        task = Task {
            do {
                try await group.run()
                exit.resolve(.exited(0))
            } catch {
                sink.note(service: name, "stopped: \(error)")
                exit.resolve(.exited(1))
            }
        }
    }

    func waitForExit() async -> ExitStatus { await exit.wait() }

    func waitForExit(within timeout: Duration) async -> ExitStatus? { await exit.wait(within: timeout) }

    func signalGroup(_ signal: Int32) {
        if signal == SIGKILL {
            // A server stuck in its graceful shutdown may not heed the cancellation either: as with a
            // child's SIGKILL, it is gone for the supervisor now.
            task.cancel()
            exit.resolve(.signalled(SIGKILL))
        } else {
            let group = self.group
            Task { await group.triggerGracefulShutdown() }
        }
    }
}

/// swift-log output of a hosted service, into that service's log like a child's stdout. Cheap to give
/// metadata (HTTP servers set a request id on every request), unlike swift-log's stream handler.
struct SinkLogHandler: LogHandler {
    static func logger(service: String, sink: LogSink) -> Logger {
        var logger = Logger(label: "devstack.\(service)") { _ in SinkLogHandler(service: service, sink: sink) }
        logger.logLevel = .notice
        return logger
    }

    let service: String
    let sink: LogSink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let suffix = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        sink.write(
            service: service, stream: event.level >= .warning ? .stderr : .stdout, lines: [Data("\(event.level) \(event.message)\(suffix)".utf8)])
    }
}
