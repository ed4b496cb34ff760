import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// Where a service is in its life. The supervisor moves each service through these, and nothing else.
public enum ServicePhase: String, Codable, Sendable, CaseIterable {
    case pending, waiting, starting, running, healthy, unhealthy, backoff, exited, completed, failed, stopping, stopped

    /// Settled: `up` has nothing more to wait for on this service.
    var isSettled: Bool { [.running, .healthy, .completed, .exited, .failed, .stopped].contains(self) }
    var isLaunched: Bool { [.starting, .running, .healthy, .unhealthy].contains(self) }
    var isFailure: Bool { self == .failed || self == .exited }
    /// Serving: healthy, running (no health check) or done (a task that completed).
    public var isUp: Bool { [.healthy, .running, .completed].contains(self) }
}

/// One service as `status` reports it.
public struct ServiceStatus: Codable, Sendable {
    public var name: String
    public var kind: ServiceKind
    public var phase: ServicePhase
    public var detail: String?
    public var pid: Int32?
    public var ports: [String: Int]
    public var url: String?
    public var health: String
    public var restarts: Int
    /// Restarting more often than its policy's window allows (under `restart: always`, retried at the cap).
    public var crashLooping = false
    public var startedAt: Date?
    public var lastExit: String?
    public var lastExitReason: String?
}

public struct StatusReport: Codable, Sendable {
    public var stack: String
    public var profile: String
    public var supervisorPid: Int32
    public var startedAt: Date
    public var detached: Bool
    public var logDirectory: String
    public var services: [ServiceStatus]
    /// The profile's backups, when it takes them (over the control API).
    public var backups: BackupStatus?

    /// Every service is up (healthy, running or completed).
    public var allReady: Bool { services.allSatisfy { $0.phase.isUp } }
    /// Failed, exited, or crash-looping (which `restart: always` goes on retrying).
    public var failed: [ServiceStatus] { services.filter { $0.phase.isFailure || $0.crashLooping } }
    public var settled: Bool { services.allSatisfy { $0.phase.isSettled || $0.crashLooping } }
}

extension StatusReport {
    /// The table `devstack status` prints.
    public func table(now: Date = Date()) -> String {
        var rows = [["SERVICE", "STATE", "PID", "PORTS", "HEALTH", "RESTARTS", "UPTIME", "LAST EXIT"]]
        for service in services {
            rows.append([
                service.name, service.phase.rawValue + (service.detail.map { " (\($0))" } ?? ""), service.pid.map(String.init) ?? "-",
                service.ports.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",").ifEmpty("-"),
                service.health, String(service.restarts),
                service.startedAt.map { Self.format(now.timeIntervalSince($0)) } ?? "-",
                service.lastExit.map { $0 + (service.lastExitReason.map { " (\($0))" } ?? "") } ?? "-",
            ])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        let header =
            "stack \(stack) · profile \(profile) · supervisor pid \(supervisorPid)\(detached ? " (detached)" : "") · up \(Self.format(now.timeIntervalSince(startedAt)))"
        return
            ([header]
            + rows.map { row in row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") })
            .joined(separator: "\n") + "\n"
    }

    static func format(_ seconds: TimeInterval) -> String { DurationParser.uptime(seconds) }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
