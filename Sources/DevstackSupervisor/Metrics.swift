import DevstackSystem
import Foundation

/// The supervisor's view in Prometheus's text format (version 0.0.4), for `GET /metrics`.
struct Metrics {
    var report: StatusReport
    /// How long each service's last health probe took.
    var probeLatency: [String: Duration]
    var resources: ProcessResources
    /// Free bytes where the stack keeps its state (and persistent data).
    var diskFree: Int?
    var diskLow = false
    var backups: BackupStatus?
    var now = Date()

    func render() -> String {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            guard !samples.isEmpty else { return }
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
                lines.append("\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(Self.number(sample.value))")
            }
        }
        let services = report.services
        metric(
            "devstack_info", "gauge", "The stack and profile this supervisor runs.", [([("stack", report.stack), ("profile", report.profile)], 1)])
        metric(
            "devstack_service_up", "gauge", "1 while the service is healthy (or running, when it has no health check).",
            services.map { ([("service", $0.name), ("kind", $0.kind.rawValue)], $0.phase.isUp ? 1 : 0) })
        metric(
            "devstack_service_state", "gauge", "1 for the state the service is in, 0 for the others.",
            services.flatMap { service in
                ServicePhase.allCases.map { ([("service", service.name), ("state", $0.rawValue)], service.phase == $0 ? 1 : 0) }
            })
        metric(
            "devstack_service_restarts_total", "counter", "Restarts of the service since the stack started.",
            services.map { ([("service", $0.name)], Double($0.restarts)) })
        metric(
            "devstack_service_crash_looping", "gauge", "1 while the service restarts more often than its policy's window allows.",
            services.map { ([("service", $0.name)], $0.crashLooping ? 1 : 0) })
        metric(
            "devstack_service_uptime_seconds", "gauge", "Seconds since the service's current run started.",
            services.compactMap { service in service.startedAt.map { ([("service", service.name)], now.timeIntervalSince($0)) } })
        metric(
            "devstack_service_probe_seconds", "gauge", "How long the service's last health probe took.",
            services.compactMap { service in
                probeLatency[service.name].map {
                    ([("service", service.name)], Double($0.components.attoseconds) / 1e18 + Double($0.components.seconds))
                }
            })
        metric(
            "devstack_service_last_exit_info", "gauge", "How the service's last run ended, and why.",
            services.compactMap { service in
                service.lastExit.map { ([("service", service.name), ("exit", $0), ("reason", service.lastExitReason ?? "")], 1) }
            })
        metric(
            "devstack_supervisor_resident_bytes", "gauge", "The supervisor's resident memory.", [([], Double(resources.residentBytes))])
        metric("devstack_supervisor_cpu_seconds_total", "counter", "The supervisor's CPU time, user and system.", [([], resources.cpuSeconds)])
        metric(
            "devstack_supervisor_uptime_seconds", "gauge", "Seconds since the supervisor started.",
            [([], now.timeIntervalSince(report.startedAt))])
        if let diskFree {
            metric("devstack_disk_free_bytes", "gauge", "Free bytes on the file system holding the stack's state and data.", [([], Double(diskFree))])
        }
        metric("devstack_disk_low", "gauge", "1 while free space is under the profile's disk.min_free.", [([], diskLow ? 1 : 0)])
        if let backups {
            let service = [("service", backups.service)]
            metric("devstack_backups", "gauge", "Backups in the repository.", [(service, Double(backups.count))])
            if let last = backups.last {
                metric(
                    "devstack_backup_last_age_seconds", "gauge", "Seconds since the newest backup ended.",
                    [(service, now.timeIntervalSince(last.stopped))])
                metric(
                    "devstack_backup_last_verified", "gauge",
                    "1 when the newest backup was restored and matched, 0 when it failed, -1 when never restored.",
                    [(service, last.verification.map { $0.ok ? 1 : 0 } ?? -1)])
            }
            metric("devstack_backup_failures_total", "counter", "Backups that failed since the stack started.", [(service, Double(backups.failures))])
            metric(
                "devstack_backups_paused", "gauge", "1 while scheduled backups are held by the disk guard.",
                [(service, backups.paused == nil ? 0 : 1)])
            metric("devstack_backup_overdue", "gauge", "1 while a scheduled backup is overdue.", [(service, backups.overdue ? 1 : 0)])
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Label values escape backslash, double quote and newline.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.6f", value)
    }
}
