import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

@testable import DevstackSupervisor

/// A process that is not one: it exits when told, or on a signal it heeds.
final class FakeInstance: ServiceInstance, @unchecked Sendable {
    let processGroup: Int32? = nil
    let startTime: UInt64? = nil
    private let exit = ExitLatch()
    private let lock = NSLock()
    private var received: [Int32] = []
    /// Signals it dies of; SIGKILL always.
    let heeds: Set<Int32>

    init(heeds: Set<Int32>) { self.heeds = heeds }

    var signals: [Int32] { lock.withLock { received } }
    func waitForExit() async -> DevstackSystem.ExitStatus { await exit.wait() }
    func waitForExit(within timeout: Duration) async -> DevstackSystem.ExitStatus? { await exit.wait(within: timeout) }

    func signalGroup(_ signal: Int32) {
        lock.withLock { received.append(signal) }
        if signal == SIGKILL || heeds.contains(signal) { exit.resolve(.signalled(signal)) }
    }

    func crash(code: Int32 = 1) { exit.resolve(.exited(code)) }
}

/// Launches fake instances and remembers them, per service, in launch order.
final class FakeLauncher: ServiceLauncher, @unchecked Sendable {
    private let lock = NSLock()
    private var launched: [String: [FakeInstance]] = [:]
    let heeds: Set<Int32>

    init(heeds: Set<Int32> = [SIGTERM, SIGINT]) { self.heeds = heeds }

    func launch(_ spec: LaunchSpec, service: String, sink: LogSink) async throws -> (any ServiceInstance, [OutputPump]) {
        let instance = FakeInstance(heeds: heeds)
        lock.withLock { launched[service, default: []].append(instance) }
        return (instance, [])
    }

    func instances(_ service: String) -> [FakeInstance] { lock.withLock { launched[service] ?? [] } }
}

/// Fake instances have no process group to watch.
struct NoWatcher: ProcessGroupWatcher {
    func watch(group: Int32) {}
    func forget(group: Int32) {}
}

/// A driver whose readiness the test decides.
final class FakeDriver: ServiceDriver, @unchecked Sendable {
    private let lock = NSLock()
    private var ready: [String: Bool] = [:]
    private var setUpFailure: String?

    func setReady(_ service: String, _ value: Bool) { lock.withLock { ready[service] = value } }
    func failSetUp(_ message: String) { lock.withLock { setUpFailure = message } }

    func prepare(_ service: PlannedService, context: DriverContext) async throws -> ServiceLaunch {
        .process(LaunchSpec(executable: "/fake/\(service.name)", arguments: [], environment: [:], workingDirectory: "/"))
    }

    func isReady(_ service: PlannedService, context: DriverContext) async -> Bool { lock.withLock { ready[service.name] ?? true } }

    func initialize(_ service: PlannedService, context: DriverContext) async throws {
        if let message = lock.withLock({ setUpFailure }) { throw SupervisorError(.refused, message) }
    }
}

/// The supervisor's decisions (restarts, backoff, crash loops, liveness, dependencies, stops) with fake
/// processes and a fake driver: no process, port or Postgres, milliseconds each.
@Suite struct SupervisorLogicTests {
    struct Harness {
        let supervisor: Supervisor
        let launcher: FakeLauncher
        let driver: FakeDriver
        let directory: TemporaryDirectory
    }

    /// Services are `kind: inference` (a kind with a built-in probe, here answered by the fake driver),
    /// probed every 5 ms and restarted after `retries` failed checks, or `kind: process` without a probe.
    func harness(
        _ services: String, heeds: Set<Int32> = [SIGTERM, SIGINT], ready: Bool = true, retries: Int = 1, adjust: (inout Plan) -> Void = { _ in }
    ) throws -> Harness {
        let directory = try TemporaryDirectory()
        do {
            return try harness(services, in: directory, heeds: heeds, ready: ready, retries: retries, adjust: adjust)
        } catch {
            directory.remove()
            throw error
        }
    }

    private func harness(
        _ services: String, in directory: TemporaryDirectory, heeds: Set<Int32>, ready: Bool, retries: Int, adjust: (inout Plan) -> Void
    ) throws -> Harness {
        let project = try TestProject(directory: directory, stack: "services:\n\(services)", profiles: ["local": "ports: auto\n"])
        var plan = try project.plan()
        for index in plan.services.indices {
            plan.services[index].health?.intervalMs = 5
            plan.services[index].health?.retries = retries
        }
        adjust(&plan)
        let store = StateStore(directory: "\(directory.path)/.devstack/local")
        try StateDirectory.create(store.directory)
        let sink = try LogSink(directory: store.logDirectory, console: nil)
        let launcher = FakeLauncher(heeds: heeds)
        let driver = FakeDriver()
        for service in plan.services { driver.setReady(service.name, ready) }
        let supervisor = Supervisor(
            plan: plan, services: plan.services, store: store, sink: sink, console: nil, guardian: NoWatcher(), environment: [:],
            detached: true, exitOnFailure: false, drivers: DriverSet([.inference: driver, .process: driver]), launcher: launcher)
        return Harness(supervisor: supervisor, launcher: launcher, driver: driver, directory: directory)
    }

    /// Polls the status until `condition` holds (a bound, not a speed assertion: fails only if it never
    /// does; generous, as a whole-suite run on 2 cores once took over 10 s to see a probe pass).
    @discardableResult
    func until(_ supervisor: Supervisor, _ what: String, _ condition: @escaping (StatusReport) -> Bool) async throws -> StatusReport {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let report = await supervisor.status()
            if condition(report) { return report }
            try await Task.sleep(for: .milliseconds(2))
        }
        Issue.record("never: \(what); last: \(await supervisor.status().services.map { "\($0.name) \($0.phase.rawValue)" })")
        throw CancellationError()
    }

    /// Stops everything and lets the last state write land, so the folder can go: whether the stop was clean.
    func finish(_ h: Harness) async -> Bool {
        let clean = await h.supervisor.stopAll()
        await h.supervisor.closeState()
        return clean
    }

    func phase(_ report: StatusReport, _ name: String) -> ServicePhase? { report.services.first { $0.name == name }?.phase }

    @Test func aCrashIsRestartedAfterABackoffAndACleanExitCompletes() async throws {
        let h = try harness(
            """
              api:
                kind: inference
                model: instant
                restart: { policy: on-failure, backoff: 5ms, max_backoff: 20ms, max_restarts: 10, window: 1m }
            """)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await until(h.supervisor, "healthy") { phase($0, "api") == .healthy }
        h.launcher.instances("api")[0].crash(code: 3)
        let restarted = try await until(h.supervisor, "restarted and healthy") { $0.services[0].restarts == 1 && phase($0, "api") == .healthy }
        #expect(restarted.services[0].lastExit == "exit code 3")
        #expect(h.launcher.instances("api").count == 2)
        h.launcher.instances("api")[1].crash(code: 0)
        try await until(h.supervisor, "completed") { phase($0, "api") == .completed }
        #expect(h.launcher.instances("api").count == 2, "a clean exit under on-failure is not restarted")
        _ = await finish(h)
    }

    @Test func tooManyRestartsInTheWindowIsACrashLoopThatOnFailureGivesUp() async throws {
        let h = try harness(
            """
              api:
                kind: inference
                model: instant
                restart: { policy: on-failure, backoff: 1ms, max_backoff: 2ms, max_restarts: 3, window: 1m }
            """)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        for round in 0..<4 {
            try await until(h.supervisor, "launch \(round + 1)") { _ in h.launcher.instances("api").count == round + 1 }
            h.launcher.instances("api")[round].crash()
        }
        let report = try await until(h.supervisor, "failed") { phase($0, "api") == .failed }
        #expect(report.services[0].detail?.hasPrefix("crash loop: 3 restarts within 1m") == true)
        #expect(h.launcher.instances("api").count == 4)
        _ = await finish(h)
    }

    @Test func underAlwaysACrashLoopIsRetriedAtTheCapAndNeverGivenUp() async throws {
        let h = try harness(
            """
              api:
                kind: inference
                model: instant
                restart: { policy: always, backoff: 1ms, max_backoff: 3ms, max_restarts: 2, window: 1m }
            """)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        for round in 0..<7 {
            try await until(h.supervisor, "launch \(round + 1)") { _ in h.launcher.instances("api").count == round + 1 }
            h.launcher.instances("api")[round].crash()
        }
        let looping = try await until(h.supervisor, "launched an eighth time") { _ in h.launcher.instances("api").count == 8 }
        #expect(looping.services[0].crashLooping)
        #expect(looping.services[0].phase != .failed)
        #expect(h.directory.read(".devstack/local/logs/api.log")?.contains("restart: always retries it every") == true)
        let healthy = try await until(h.supervisor, "healthy again") { phase($0, "api") == .healthy }
        #expect(healthy.services[0].restarts == 7)
        #expect(await h.supervisor.metrics().contains(#"devstack_service_crash_looping{service="api"} 1"#))
        _ = await finish(h)
    }

    @Test func backoffGrowsDoublingWithinTwentyPercentAndStopsAtTheCap() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let project = try TestProject(
            directory: directory,
            stack: "services:\n  api: { kind: inference, model: instant, restart: { policy: always, backoff: 100ms, max_backoff: 1600ms } }\n",
            profiles: ["local": "ports: auto\n"])
        let restart = try project.plan().services[0].restart
        for attempt in 0..<8 {
            let expected = min(100.0 * pow(2, Double(attempt)), 1600)
            for _ in 0..<50 {
                let delay = Double(ServiceRunner.backoff(attempt: attempt, restart: restart).milliseconds)
                #expect(delay >= (expected * 0.8).rounded(.down) && delay <= (expected * 1.2).rounded(.up), "attempt \(attempt): \(delay)")
            }
        }
        let samples = Set((0..<50).map { _ in ServiceRunner.backoff(attempt: 2, restart: restart).milliseconds })
        #expect(samples.count > 5, "jitter spreads restarts")
    }

    @Test func aFailingLivenessCheckRestartsTheService() async throws {
        let h = try harness(
            """
              api:
                kind: inference
                model: instant
                restart: { policy: on-failure, backoff: 1ms }
            """, retries: 2)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await until(h.supervisor, "healthy") { phase($0, "api") == .healthy }
        h.driver.setReady("api", false)
        try await until(h.supervisor, "stopped for its health") { _ in h.launcher.instances("api").count == 2 }
        h.driver.setReady("api", true)
        let report = try await until(h.supervisor, "healthy again") { phase($0, "api") == .healthy && $0.services[0].restarts == 1 }
        #expect(report.services[0].lastExitReason == "health check failed 2 times in a row")
        #expect(h.launcher.instances("api")[0].signals.first == SIGTERM)
        _ = await finish(h)
    }

    @Test func aDependantWaitsForItsDependencyToBeHealthy() async throws {
        let h = try harness(
            """
              db:
                kind: inference
                model: instant
              api:
                kind: inference
                model: instant
                depends_on: { db: healthy }
            """, ready: false)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await until(h.supervisor, "db starting") { phase($0, "db") == .starting }
        try await Task.sleep(for: .milliseconds(30))
        #expect(h.launcher.instances("api").isEmpty, "launched before its dependency was healthy")
        #expect(phase(await h.supervisor.status(), "api") == .waiting)
        h.driver.setReady("db", true)
        try await until(h.supervisor, "api launched") { _ in h.launcher.instances("api").count == 1 }
        _ = await finish(h)
    }

    @Test func aDependantThatExitsWhileItsDependencyIsDownIsHeldNotRestartedIntoIt() async throws {
        let h = try harness(
            """
              db:
                kind: inference
                model: instant
                restart: { policy: always, backoff: 1ms }
              api:
                kind: inference
                model: instant
                depends_on: { db: healthy }
                restart: { policy: always, backoff: 1ms }
            """)
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await until(h.supervisor, "both healthy") { phase($0, "db") == .healthy && phase($0, "api") == .healthy }
        // The database goes down and does not come back healthy: api keeps running, untouched.
        h.driver.setReady("db", false)
        h.launcher.instances("db")[0].crash()
        try await until(h.supervisor, "db restarted, not healthy") { _ in h.launcher.instances("db").count == 2 }
        #expect(h.launcher.instances("api")[0].signals.isEmpty, "a dependant was stopped because its dependency went down")
        // api exits meanwhile: its restart waits for the database instead of launching into it.
        h.launcher.instances("api")[0].crash()
        let held = try await until(h.supervisor, "api held") { phase($0, "api") == .waiting }
        #expect(held.services.first { $0.name == "api" }?.detail == "held until db (healthy)")
        try await Task.sleep(for: .milliseconds(30))
        #expect(h.launcher.instances("api").count == 1)
        h.driver.setReady("db", true)
        try await until(h.supervisor, "api back") { phase($0, "api") == .healthy && h.launcher.instances("api").count == 2 }
        _ = await finish(h)
    }

    @Test func aServiceThatIgnoresItsStopSignalIsKilledAfterTheTimeout() async throws {
        let h = try harness(
            """
              api:
                kind: inference
                model: instant
                stop: { signal: TERM, timeout: 20ms }
            """, heeds: [])
        defer { h.directory.remove() }
        await h.supervisor.startAll()
        try await until(h.supervisor, "healthy") { phase($0, "api") == .healthy }
        let clean = await finish(h)
        #expect(!clean, "a stop that needed SIGKILL is not clean")
        #expect(h.launcher.instances("api")[0].signals == [SIGTERM, SIGKILL])
        #expect(phase(await h.supervisor.status(), "api") == .stopped)
    }
}
