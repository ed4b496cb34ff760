import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

@testable import DevstackSupervisor

/// A group of one: records every phase its runner publishes; dependencies are always met.
actor RecordingHost: RunnerHost {
    private(set) var phases: [ServicePhase] = []
    private var latest = 0

    func publish(_ snapshot: RunnerSnapshot, of service: String) {
        guard snapshot.version > latest else { return }
        latest = snapshot.version
        if phases.last != snapshot.phase { phases.append(snapshot.phase) }
    }

    func dependencyMet(_ dependency: PlannedDependency) async -> Bool { true }
    func phase(of service: String) -> ServicePhase? { nil }

    func waitFor(_ phase: ServicePhase) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while phases.last != phase {
            guard ContinuousClock.now < deadline else {
                Issue.record("never \(phase); phases \(phases)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// One runner on its own, and the group's rules around runners, with fake processes.
@Suite struct ServiceRunnerTests {
    let logic = SupervisorLogicTests()

    func runner(_ h: SupervisorLogicTests.Harness) async -> ServiceRunner {
        let supervisor = h.supervisor
        return ServiceRunner(
            service: await supervisor.services[0], context: await supervisor.context, drivers: await supervisor.drivers, launcher: h.launcher,
            guardian: NoWatcher(), sink: await supervisor.sink)
    }

    /// The harness's first service in a runner of its own, started and healthy.
    func healthyRunner(_ h: SupervisorLogicTests.Harness) async throws -> (ServiceRunner, RecordingHost) {
        let runner = await runner(h)
        let host = RecordingHost()
        await runner.start(in: host)
        try await host.waitFor(.healthy)
        return (runner, host)
    }

    @Test func aRunnerGoesThroughItsPhasesInOrder() async throws {
        let h = try logic.harness("  api: { kind: inference, model: instant }\n")
        defer { h.directory.remove() }
        let (runner, host) = try await healthyRunner(h)
        #expect(await runner.stop())
        #expect(await host.phases == [.starting, .healthy, .stopping, .stopped])
        #expect(h.launcher.instances("api").count == 1)
    }

    @Test func aStopEscalatesThroughTheKindsSecondSignalBeforeKilling() async throws {
        let h = try logic.harness("  api: { kind: inference, model: instant, stop: { signal: TERM, timeout: 10ms } }\n", heeds: [SIGQUIT]) {
            $0.services[0].stop.escalation = .quit
        }
        defer { h.directory.remove() }
        let (runner, _) = try await healthyRunner(h)
        #expect(await runner.stop() == false, "a stop that needed the second signal was not in time")
        #expect(h.launcher.instances("api")[0].signals == [SIGTERM, SIGQUIT])
    }

    @Test func aStartWhileRunningIsIgnoredAndAStartAfterAStopLaunchesAgain() async throws {
        let h = try logic.harness("  api: { kind: inference, model: instant }\n")
        defer { h.directory.remove() }
        let (runner, host) = try await healthyRunner(h)
        await runner.start(in: host)
        #expect(h.launcher.instances("api").count == 1)
        await runner.stop()
        await runner.start(in: host)
        try await host.waitFor(.healthy)
        #expect(h.launcher.instances("api").count == 2)
        await runner.stop()
    }

    @Test func aFailedSetUpFailsTheServiceWithoutARestart() async throws {
        let h = try logic.harness("  api: { kind: inference, model: instant, restart: { policy: always, backoff: 1ms } }\n")
        defer { h.directory.remove() }
        h.driver.failSetUp("migration 0002 failed")
        await h.supervisor.startAll()
        let report = try await logic.until(h.supervisor, "failed") { logic.phase($0, "api") == .failed }
        #expect(report.services[0].detail?.contains("migration 0002 failed") == true)
        #expect(h.launcher.instances("api").count == 1, "restarting would not fix a failed set-up")
        _ = await logic.finish(h)
    }

    @Test func aDependantOfAServiceThatExitedFailsAndNamesIt() async throws {
        let h = try logic.harness(
            """
              db: { kind: inference, model: instant, restart: { policy: "no" } }
              api: { kind: inference, model: instant, depends_on: { db: healthy } }
            """, ready: false)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await logic.until(h.supervisor, "db launched") { _ in h.launcher.instances("db").count == 1 }
        h.launcher.instances("db")[0].crash(code: 2)
        let report = try await logic.until(h.supervisor, "api failed") { logic.phase($0, "api") == .failed }
        #expect(report.services[1].detail == "dependency db is exited")
        #expect(h.launcher.instances("api").isEmpty)
        _ = await logic.finish(h)
    }

    @Test func aStartedDependencyGoesAheadAtLaunchAndACompletedOneAtTheCleanExit() async throws {
        let h = try logic.harness(
            """
              migrate: { kind: process, command: "true", restart: { policy: on-failure } }
              db: { kind: inference, model: instant }
              api: { kind: inference, model: instant, depends_on: { db: started, migrate: completed } }
            """, ready: false)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await logic.until(h.supervisor, "both launched") { _ in
            h.launcher.instances("db").count == 1 && h.launcher.instances("migrate").count == 1
        }
        try await Task.sleep(for: .milliseconds(20))
        #expect(h.launcher.instances("api").isEmpty, "launched before migrate completed")
        h.launcher.instances("migrate")[0].crash(code: 0)
        try await logic.until(h.supervisor, "api launched") { _ in h.launcher.instances("api").count == 1 }
        _ = await logic.finish(h)
    }

    @Test func aLatePublicationDoesNotUndoANewerOne() async throws {
        let h = try logic.harness("  api: { kind: inference, model: instant }\n")
        defer { h.directory.remove() }
        var newer = RunnerSnapshot(phase: .healthy)
        newer.version = 2
        var older = RunnerSnapshot(phase: .starting)
        older.version = 1
        await h.supervisor.publish(newer, of: "api")
        await h.supervisor.publish(older, of: "api")
        #expect(logic.phase(await h.supervisor.status(), "api") == .healthy)
        await h.supervisor.closeState()
    }
}
