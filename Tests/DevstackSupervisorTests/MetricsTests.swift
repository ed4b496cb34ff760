import DevstackCore
import DevstackSystem
import Foundation
import Testing

@testable import DevstackSupervisor

/// `GET /metrics`: Prometheus's text format, from a status report.
@Suite struct MetricsTests {
    static let started = Date(timeIntervalSince1970: 1_800_000_000)

    static func service(_ name: String, _ kind: ServiceKind, _ phase: ServicePhase, restarts: Int = 0, lastExit: String? = nil) -> ServiceStatus {
        ServiceStatus(
            name: name, kind: kind, phase: phase, detail: nil, pid: nil, ports: [:], url: nil, health: "-", restarts: restarts,
            startedAt: phase == .healthy ? started : nil, lastExit: lastExit, lastExitReason: lastExit.map { _ in "the \"probe\" failed\ntwice" })
    }

    static let text: String = {
        let services = [service("db", .postgres, .healthy), service("api", .process, .backoff, restarts: 3, lastExit: "exit 1")]
        let report = StatusReport(
            stack: "default", profile: "staging", supervisorPid: 1, startedAt: started, detached: true, logDirectory: "/tmp", services: services)
        let resources = ProcessResources(residentBytes: 35_000_000, cpuSeconds: 1.5)
        let metrics = Metrics(
            report: report, probeLatency: ["db": .milliseconds(2)], resources: resources, diskFree: 1 << 30, now: started.addingTimeInterval(90))
        return metrics.render()
    }()

    @Test func everySampleHasItsHelpAndType() {
        let lines = Self.text.split(separator: "\n").map(String.init)
        let names = Set(lines.filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != "{" && $0 != " " }) })
        for name in names {
            #expect(lines.contains { $0.hasPrefix("# HELP \(name) ") }, "\(name)")
            #expect(lines.contains { $0.hasPrefix("# TYPE \(name) ") }, "\(name)")
        }
        #expect(lines.contains("# TYPE devstack_service_restarts_total counter"))
        #expect(lines.contains("# TYPE devstack_supervisor_cpu_seconds_total counter"))
    }

    @Test func servicesStatesAndTheSupervisor() {
        let lines = Set(Self.text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"devstack_info{stack="default",profile="staging"} 1"#))
        #expect(lines.contains(#"devstack_service_up{service="db",kind="postgres"} 1"#))
        #expect(lines.contains(#"devstack_service_up{service="api",kind="process"} 0"#))
        #expect(lines.contains(#"devstack_service_state{service="api",state="backoff"} 1"#))
        #expect(lines.contains(#"devstack_service_state{service="api",state="healthy"} 0"#))
        #expect(lines.contains(#"devstack_service_restarts_total{service="api"} 3"#))
        #expect(lines.contains(#"devstack_service_uptime_seconds{service="db"} 90"#))
        #expect(lines.contains(#"devstack_service_probe_seconds{service="db"} 0.002000"#))
        #expect(lines.contains(#"devstack_supervisor_resident_bytes 35000000"#))
        #expect(lines.contains(#"devstack_supervisor_cpu_seconds_total 1.500000"#))
        #expect(lines.contains(#"devstack_disk_free_bytes 1073741824"#))
    }

    @Test func labelValuesAreEscaped() {
        #expect(Self.text.contains(#"devstack_service_last_exit_info{service="api",exit="exit 1",reason="the \"probe\" failed\ntwice"} 1"#))
    }
}
