import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// What a runner tells the group it belongs to, and asks of it.
protocol RunnerHost: AnyObject, Sendable {
    /// The runner's state changed; snapshots carry a version, so a late one can be told from a fresh one.
    func publish(_ snapshot: RunnerSnapshot, of service: String) async
    /// Waits until the dependency's condition holds (true) or can no longer hold (false).
    func dependencyMet(_ dependency: PlannedDependency) async -> Bool
    /// Where another service of the group is, for a message.
    func phase(of service: String) async -> ServicePhase?
}

/// One runner's state as the group sees it: enough for `status`, the progress block and state.json.
struct RunnerSnapshot: Sendable {
    var phase: ServicePhase = .pending
    var detail: String?
    var phaseSince = ContinuousClock.now
    /// An instance is running (a child process, or a server hosted in devstack).
    var isRunning = false
    var processGroup: Int32?
    var startTime: UInt64?
    var startedAt: Date?
    var restarts = 0
    /// More restarts within the window than the policy allows; under `always` it goes on at the cap.
    var crashLooping = false
    var lastExit: ExitStatus?
    var lastExitReason: RunEnd?
    /// Grows with every change.
    var version = 0
}

/// One service's life: waits for its dependencies, launches it, probes it, restarts it by its
/// policy and stops it with escalation. It alone moves its service through `ServicePhase`.
actor ServiceRunner {
    let service: PlannedService
    private let context: DriverContext
    private let drivers: DriverSet
    private let launcher: any ServiceLauncher
    private let guardian: any ProcessGroupWatcher
    private let sink: LogSink
    private weak var host: (any RunnerHost)?

    private var state = RunnerSnapshot()
    private var child: (any ServiceInstance)?
    private var recentRestarts: [ContinuousClock.Instant] = []
    private var consecutiveFailures = 0
    private var healthySince: ContinuousClock.Instant?
    private var stopRequested = false
    /// Set when devstack ends the run itself: the probe's verdict, or the set-up's failure.
    private var endedBy: RunEnd?
    private var stopWasClean = true
    private var lifecycle: Task<Void, Never>?
    /// The running instance's health probe (or running grace), cancelled as soon as a stop begins.
    private var prober: Task<Void, Never>?

    /// A run that was healthy this long starts its backoff from the beginning again.
    static let healthyStretch: Duration = .seconds(10)
    /// How long a service without a health check must stay up to count as running.
    static let runningGrace: Duration = .milliseconds(200)
    /// How long to wait for the exit after SIGKILL.
    static let killGrace: Duration = .seconds(5)

    init(
        service: PlannedService, context: DriverContext, drivers: DriverSet, launcher: any ServiceLauncher, guardian: any ProcessGroupWatcher,
        sink: LogSink
    ) {
        self.service = service
        self.context = context
        self.drivers = drivers
        self.launcher = launcher
        self.guardian = guardian
        self.sink = sink
    }

    private var name: String { service.name }

    // MARK: Starting

    /// Starts the lifecycle unless one is under way, reporting to `host`; a start by hand forgets earlier crashes.
    func start(in host: any RunnerHost) {
        self.host = host
        guard !state.phase.isLaunched, ![.waiting, .backoff, .stopping].contains(state.phase) else { return }
        recentRestarts = []
        consecutiveFailures = 0
        stopRequested = false
        stopWasClean = true
        lifecycle = Task { await self.run() }
    }

    private func run() async {
        guard await dependenciesMet(held: false) else { return }
        while !stopRequested && !Task.isCancelled {
            guard await runOnce() else { return }
            // A restart is held (not launched into a crash loop) while a dependency is down, and goes
            // ahead once it is back: a dependant still running is left alone meanwhile.
            if stopRequested { break }
            guard await dependenciesMet(held: true) else { return }
        }
        await set(.stopped)
    }

    /// Waits for every dependency's condition; false (after failing or stopping the service) when one can no longer hold.
    private func dependenciesMet(held: Bool) async -> Bool {
        guard !service.dependsOn.isEmpty else { return true }
        var unmet: [PlannedDependency] = []
        for dependency in service.dependsOn {
            let phase = await host?.phase(of: dependency.service)
            if phase.map({ Self.satisfies($0, dependency) }) != true { unmet.append(dependency) }
        }
        guard !unmet.isEmpty || !held else { return true }
        let waiting = (held ? unmet : service.dependsOn).map { "\($0.service) (\($0.condition.rawValue))" }.joined(separator: ", ")
        await set(.waiting, (held ? "held until " : "for ") + waiting)
        for dependency in service.dependsOn {
            guard await host?.dependencyMet(dependency) == true else {
                if stopRequested {
                    await set(.stopped)
                    return false
                }
                await fail(.dependency(dependency.service, phase: await host?.phase(of: dependency.service)))
                return false
            }
        }
        return true
    }

    /// Whether a dependency in `phase` meets its condition now.
    static func satisfies(_ phase: ServicePhase, _ dependency: PlannedDependency) -> Bool {
        switch dependency.condition {
        case .started: return phase.isLaunched || phase == .completed
        case .healthy: return phase == .healthy
        case .completed: return phase == .completed
        }
    }

    /// One launch, to its exit. True when the policy asks for another.
    private func runOnce() async -> Bool {
        await set(.starting)
        let launched: any ServiceInstance
        let pumps: [OutputPump]
        do {
            (launched, pumps) = try await launch()
        } catch {
            await fail(.launch("\(error)"))
            return false
        }
        child = launched
        state.isRunning = true
        state.processGroup = launched.processGroup
        state.startTime = launched.startTime
        state.startedAt = Date()
        endedBy = nil
        if let group = launched.processGroup { guardian.watch(group: group) }
        await publish()
        let runStart = ContinuousClock.now
        // With nothing to probe, a process counts as running once it has stayed up a moment:
        // a command that fails at once must not look ready (`started` dependencies go ahead at launch).
        prober =
            service.health.map { health in Task { await self.probe(health, child: launched) } }
            ?? Task {
                try? await Task.sleep(for: Self.runningGrace)
                if !Task.isCancelled { await self.markRunning(launched) }
            }
        let status = await launched.waitForExit()
        prober?.cancel()
        prober = nil
        for pump in pumps { await pump.waitUntilDrained() }
        if let group = launched.processGroup { guardian.forget(group: group) }
        child = nil
        state.isRunning = false
        state.processGroup = nil
        state.startTime = nil
        state.lastExit = status
        let reason = stopRequested ? .stoppedByDevstack : endedBy
        state.lastExitReason = reason
        await publish()
        if case .stoppedByDevstack = reason {
            sink.note(service: name, "stopped (\(status))")
            await set(.stopped)
            return false
        }
        if case .setUpFailed(let failure) = reason {
            await fail(.setUp(failure))
            return false
        }
        let failed = !status.succeeded || reason != nil
        switch service.restart.policy {
        case .no:
            sink.note(service: name, "exited (\(status)\(reason.map { ", \($0)" } ?? "")); restart policy is no")
            await set(failed ? .exited : .completed, failed ? status.description : nil)
            return false
        case .onFailure where !failed:
            sink.note(service: name, "completed (\(status))")
            await set(.completed)
            return false
        default: break
        }
        // Crash loop: too many restarts within the window.
        let now = ContinuousClock.now
        let window = Duration.milliseconds(service.restart.windowMs)
        recentRestarts = recentRestarts.filter { now - $0 < window } + [now]
        if recentRestarts.count > service.restart.maxRestarts && service.restart.policy == .always {
            // An always-on stack runs for weeks unattended: a crash loop is retried at the cap, never given up on.
            let delay = Self.backoff(attempt: 30, restart: service.restart)
            let loop = ServiceFailure.crashLoop(restarts: recentRestarts.count - 1, window: window, last: status)
            state.crashLooping = true
            healthySince = nil
            sink.note(service: name, "exited (\(status)); \(loop); restart: always retries it every \(DurationParser.format(delay))")
            await set(.backoff, "\(loop); retrying in \(DurationParser.format(delay))")
            do { try await Task.sleep(for: delay) } catch { return true }
            state.restarts += 1
            return true
        }
        if recentRestarts.count > service.restart.maxRestarts {
            sink.note(service: name, "exited (\(status)); \(recentRestarts.count - 1) restarts within \(DurationParser.format(window)): giving up")
            await fail(.crashLoop(restarts: recentRestarts.count - 1, window: window, last: status))
            return false
        }
        if let since = healthySince ?? (service.health == nil ? runStart : nil), now - since >= Self.healthyStretch {
            consecutiveFailures = 0
            state.crashLooping = false
        }
        let delay = Self.backoff(attempt: consecutiveFailures, restart: service.restart)
        consecutiveFailures += 1
        healthySince = nil
        sink.note(service: name, "exited (\(status)\(reason.map { ", \($0)" } ?? "")); restarting in \(DurationParser.format(delay))")
        await set(.backoff, "restarting in \(DurationParser.format(delay)) after \(status)")
        // A stop during the wait cancels it; the loop then sees the stop.
        do { try await Task.sleep(for: delay) } catch { return true }
        state.restarts += 1
        return true
    }

    /// Exponential from the initial delay, capped, with ±20% jitter so restarts do not march in step.
    static func backoff(attempt: Int, restart: PlannedRestart) -> Duration {
        let base = Double(restart.initialBackoffMs) * pow(2, Double(min(attempt, 30)))
        let capped = min(base, Double(restart.maxBackoffMs))
        return .milliseconds(Int64(capped * Double.random(in: 0.8...1.2)))
    }

    private func launch() async throws -> (any ServiceInstance, [OutputPump]) {
        switch try await drivers.driver(for: service).prepare(service, context: context) {
        case .hosted(let hosted):
            return (HostedInstance(hosted, name: name, sink: sink), [])
        case .process(let spec):
            return try await launcher.launch(spec, service: name, sink: sink)
        }
    }

    private func markRunning(_ launched: any ServiceInstance) async {
        guard child === launched, state.phase == .starting else { return }
        await set(.running)
    }

    // MARK: Health

    /// Fast probes while starting (from 1 ms, growing by a quarter to 2 ms: a service found ready late is
    /// time lost for every `up`, and a probe of something not yet listening costs next to nothing), slow
    /// ones once ready.
    private func probe(_ health: PlannedHealth, child launched: any ServiceInstance) async {
        let timeout = Duration.milliseconds(health.timeoutMs)
        let environment = context.environment.merging(service.environment) { $1 }
        let deadline = ContinuousClock.now + .milliseconds(health.startPeriodMs)
        var delay = Duration.milliseconds(1)
        var healthy = false
        while !Task.isCancelled && ContinuousClock.now < deadline {
            if await timedCheck(health.probe, timeout: timeout, environment: environment) {
                healthy = true
                break
            }
            do { try await Task.sleep(for: delay) } catch { return }
            delay = min(delay * 1.25, .milliseconds(2))
        }
        if Task.isCancelled { return }
        guard healthy else {
            return await unhealthy(
                launched, reason: "not healthy within its start period of \(DurationParser.format(.milliseconds(health.startPeriodMs)))")
        }
        do {
            try await drivers.driver(for: service).initialize(service, context: context)
        } catch {
            if Task.isCancelled { return }
            endedBy = .setUpFailed("\(error)")
            sink.note(service: name, "\(error)")
            _ = await terminate(launched)
            return
        }
        healthySince = ContinuousClock.now
        await set(.healthy)
        var failures = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(health.intervalMs)) } catch { return }
            if await timedCheck(health.probe, timeout: timeout, environment: environment) {
                if failures > 0 { await set(.healthy) }
                failures = 0
                if state.crashLooping, let since = healthySince, ContinuousClock.now - since >= Self.healthyStretch {
                    state.crashLooping = false
                    await publish()
                }
                continue
            }
            failures += 1
            if Task.isCancelled { return }
            if failures >= health.retries {
                return await unhealthy(launched, reason: "health check failed \(failures) times in a row")
            }
            await set(.unhealthy, "check failed \(failures)/\(health.retries)")
        }
    }

    /// How long the last health probe took, for `/metrics`.
    private(set) var lastProbeLatency: Duration?

    private func timedCheck(_ probe: PlannedHealth.Probe, timeout: Duration, environment: [String: String]) async -> Bool {
        let began = ContinuousClock.now
        let passed = await check(probe, timeout: timeout, environment: environment)
        lastProbeLatency = ContinuousClock.now - began
        return passed
    }

    private func check(_ probe: PlannedHealth.Probe, timeout: Duration, environment: [String: String]) async -> Bool {
        if case .builtIn = probe, let driver = try? drivers.driver(for: service) {
            return await driver.isReady(service, context: context)
        }
        return await HealthProbe.check(probe, timeout: timeout, service: service, environment: environment)
    }

    /// Per its policy: restart (stop it; the lifecycle restarts it) or leave it running, marked unhealthy.
    private func unhealthy(_ launched: any ServiceInstance, reason: String) async {
        guard service.restart.policy != .no else {
            sink.note(service: name, "\(reason); restart policy is no, leaving it running")
            return await set(.unhealthy, reason)
        }
        sink.note(service: name, "\(reason): restarting")
        endedBy = .unhealthy(reason)
        _ = await terminate(launched)
    }

    // MARK: Stopping

    /// The stop signal to the whole group; after its timeout the escalation signal, if any, with the
    /// same timeout; then SIGKILL to the group. Every wait is bounded, so a stop ends within the
    /// declared times whatever the service does. True when it stopped on the first signal in time.
    private func terminate(_ launched: any ServiceInstance) async -> Bool {
        let stop = service.stop
        let timeout = Duration.milliseconds(stop.timeoutMs)
        launched.signalGroup(stop.signal.number)
        let stoppedInTime = await launched.waitForExit(within: timeout) != nil
        var exited = stoppedInTime
        if !exited, let next = stop.escalation {
            launched.signalGroup(next.number)
            exited = await launched.waitForExit(within: timeout) != nil
        }
        if !exited {
            launched.signalGroup(SIGKILL)
            // SIGKILL cannot be ignored; the bound only covers a process stuck in the kernel.
            _ = await launched.waitForExit(within: Self.killGrace)
        }
        // Anything the service left in its group goes too.
        if let group = launched.processGroup, ProcessTable.groupIsAlive(group) { killpg(group, SIGKILL) }
        return stoppedInTime
    }

    /// Stops the service and waits for its lifecycle to end. True when it stopped cleanly.
    @discardableResult
    func stop() async -> Bool {
        stopRequested = true
        if let running = child {
            // A probe's verdict must not overwrite `stopping`, nor its failure start a restart.
            prober?.cancel()
            await set(.stopping)
            let inTime = await terminate(running)
            if !stopWasClean {
                sink.note(service: name, "killed: the stop was forced")
            } else if !inTime {
                sink.note(service: name, "did not stop within \(service.stop.timeoutMs)ms of SIG\(service.stop.signal.rawValue): killed")
            }
            stopWasClean = inTime && stopWasClean
        } else {
            lifecycle?.cancel()
        }
        await lifecycle?.value
        if ![.failed, .exited, .completed].contains(state.phase) { await set(.stopped) }
        return stopWasClean
    }

    /// A second Ctrl-C: no more waiting. What had to be killed this way did not stop cleanly.
    func forceKill() {
        guard let running = child else { return }
        stopWasClean = false
        running.signalGroup(SIGKILL)
    }

    // MARK: State

    private func set(_ phase: ServicePhase, _ detail: String? = nil) async {
        // Once a stop is under way, a probe that was mid-check when cancelled has no say.
        if stopRequested, [.healthy, .unhealthy, .running].contains(phase) { return }
        state.phase = phase
        state.detail = detail
        state.phaseSince = .now
        await publish()
    }

    private func fail(_ failure: ServiceFailure) async {
        sink.note(service: name, "failed: \(failure)")
        await set(.failed, failure.description)
    }

    private func publish() async {
        state.version += 1
        await host?.publish(state, of: name)
    }
}

/// Why devstack ended a service's run, when it was devstack (otherwise the process just exited).
enum RunEnd: Sendable, Equatable, CustomStringConvertible {
    case stoppedByDevstack
    /// The health probe's verdict, which a restart answers.
    case unhealthy(String)
    /// Its set-up (migrations, seed …) failed once it was ready: restarting would not fix it.
    case setUpFailed(String)

    var description: String {
        switch self {
        case .stoppedByDevstack: return "stopped by devstack"
        case .unhealthy(let reason): return reason
        case .setUpFailed: return "set-up failed"
        }
    }
}

/// Why a service ended up `failed`.
enum ServiceFailure: Sendable, CustomStringConvertible {
    case dependency(String, phase: ServicePhase?)
    case launch(String)
    case setUp(String)
    case crashLoop(restarts: Int, window: Duration, last: ExitStatus)

    var description: String {
        switch self {
        case .dependency(let name, let phase): return "dependency \(name) is \(phase?.rawValue ?? "missing")"
        case .launch(let message), .setUp(let message): return message
        case .crashLoop(let restarts, let window, let last):
            return "crash loop: \(restarts) restarts within \(DurationParser.format(window)), last \(last)"
        }
    }
}
