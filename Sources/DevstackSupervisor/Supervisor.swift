import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// Runs a plan: starts services in dependency order, watches their health, restarts them by
/// policy, and stops them in reverse order. All mutable state lives here.
public actor Supervisor {
    public enum Event: Sendable {
        case shutdownRequested
        case serviceFailed(String)
    }

    struct Record {
        var phase: ServicePhase = .pending
        var detail: String?
        var child: (any ServiceInstance)?
        var restarts = 0
        var recentRestarts: [ContinuousClock.Instant] = []
        var consecutiveFailures = 0
        var startedAt: Date?
        var healthySince: ContinuousClock.Instant?
        var lastExit: ExitStatus?
        var lastExitReason: RunEnd?
        var stopRequested = false
        /// Set when devstack ends the run itself: the probe's verdict, or the set-up's failure.
        var endedBy: RunEnd?
        var stopWasClean = true
        var lifecycle: Task<Void, Never>?
        /// The running instance's health probe (or running grace), cancelled as soon as a stop begins.
        var prober: Task<Void, Never>?
        var phaseSince = ContinuousClock.now
    }

    public let plan: Plan
    let services: [PlannedService]
    let store: StateStore
    let sink: LogSink
    let console: ConsoleView?
    let guardian: any ProcessGroupWatcher
    let baseEnvironment: [String: String]
    let detached: Bool
    let startedAt = Date()
    /// This process, as state.json names it (pid and kernel start time), read once.
    private let ownPid = getpid()
    private let ownStartTime = ProcessTable.startTime(of: getpid())
    let exitOnFailure: Bool
    let drivers: DriverSet
    let launcher: any ServiceLauncher
    var context: DriverContext { DriverContext(plan: plan, environment: baseEnvironment, sink: sink) }
    private var records: [String: Record] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private let events: AsyncStream<Event>.Continuation
    public nonisolated let eventStream: AsyncStream<Event>
    private var shuttingDown = false
    private var resetting = false
    private var resetQueue: [CheckedContinuation<Void, Never>] = []
    private let stateWriter: StateWriter
    private var persisted = 0

    /// A run that was healthy this long starts its backoff from the beginning again.
    static let healthyStretch: Duration = .seconds(10)
    /// How long a service without a health check must stay up to count as running.
    static let runningGrace: Duration = .milliseconds(200)
    /// How long to wait for the exit after SIGKILL.
    static let killGrace: Duration = .seconds(5)

    private func markRunning(_ name: String, child: any ServiceInstance) {
        guard records[name]?.child === child, records[name]?.phase == .starting else { return }
        set(name, .running)
    }

    public init(
        plan: Plan, services: [PlannedService], store: StateStore, sink: LogSink, console: ConsoleView?, guardian: any ProcessGroupWatcher,
        environment: [String: String], detached: Bool, exitOnFailure: Bool, drivers: DriverSet, launcher: any ServiceLauncher = ProcessLauncher()
    ) {
        self.drivers = drivers
        self.launcher = launcher
        self.plan = plan
        self.services = services
        self.store = store
        self.stateWriter = StateWriter(store: store)
        self.sink = sink
        self.console = console
        self.guardian = guardian
        self.baseEnvironment = environment
        self.detached = detached
        self.exitOnFailure = exitOnFailure
        (eventStream, events) = AsyncStream<Event>.makeStream()
        for service in services { records[service.name] = Record() }
    }

    // MARK: Starting

    /// Starts every service's lifecycle; dependencies gate each one.
    public func startAll() {
        for service in services { startLifecycle(service) }
        persist()
    }

    private func startLifecycle(_ service: PlannedService) {
        records[service.name]?.stopRequested = false
        records[service.name]?.stopWasClean = true
        records[service.name]?.lifecycle = Task { await self.lifecycle(service) }
    }

    /// Resolves once every service has settled (ready, completed or failed).
    public func waitUntilSettled() async -> StatusReport {
        while !services.allSatisfy({ records[$0.name]?.phase.isSettled == true }) { await changed() }
        return status()
    }

    private func lifecycle(_ service: PlannedService) async {
        let name = service.name
        if !service.dependsOn.isEmpty {
            set(name, .waiting, "for " + service.dependsOn.map { "\($0.service) (\($0.condition.rawValue))" }.joined(separator: ", "))
            for dependency in service.dependsOn {
                guard await dependencyMet(dependency) else {
                    if records[name]?.stopRequested == true { return set(name, .stopped) }
                    let phase = records[dependency.service]?.phase
                    return fail(name, .dependency(dependency.service, phase: phase))
                }
            }
        }
        while records[name]?.stopRequested == false && !Task.isCancelled {
            set(name, .starting)
            let child: any ServiceInstance
            let pumps: [OutputPump]
            do {
                (child, pumps) = try await launch(service)
            } catch {
                return fail(name, .launch("\(error)"))
            }
            records[name]?.child = child
            records[name]?.startedAt = Date()
            records[name]?.endedBy = nil
            if let group = child.processGroup { guardian.watch(group: group) }
            persist()
            let runStart = ContinuousClock.now
            // With nothing to probe, a process counts as running once it has stayed up a moment:
            // a command that fails at once must not look ready (`started` dependencies go ahead at launch).
            let prober =
                service.health.map { health in Task { await self.probe(service, health: health, child: child) } }
                ?? Task {
                    try? await Task.sleep(for: Self.runningGrace)
                    if !Task.isCancelled { self.markRunning(name, child: child) }
                }
            records[name]?.prober = prober
            let status = await child.waitForExit()
            prober.cancel()
            records[name]?.prober = nil
            for pump in pumps { await pump.waitUntilDrained() }
            if let group = child.processGroup { guardian.forget(group: group) }
            records[name]?.child = nil
            records[name]?.lastExit = status
            let reason = records[name]?.stopRequested == true ? .stoppedByDevstack : records[name]?.endedBy
            records[name]?.lastExitReason = reason
            persist()
            if case .stoppedByDevstack = reason {
                sink.note(service: name, "stopped (\(status))")
                return set(name, .stopped)
            }
            if case .setUpFailed(let failure) = reason { return fail(name, .setUp(failure)) }
            let failed = !status.succeeded || reason != nil
            switch service.restart.policy {
            case .no:
                sink.note(service: name, "exited (\(status)\(reason.map { ", \($0)" } ?? "")); restart policy is no")
                if failed { return set(name, .exited, status.description) }
                return set(name, .completed)
            case .onFailure where !failed:
                sink.note(service: name, "completed (\(status))")
                return set(name, .completed)
            default: break
            }
            // Crash loop: too many restarts within the window.
            let now = ContinuousClock.now
            let window = Duration.milliseconds(service.restart.windowMs)
            var recent = (records[name]?.recentRestarts ?? []).filter { now - $0 < window }
            recent.append(now)
            records[name]?.recentRestarts = recent
            if recent.count > service.restart.maxRestarts {
                sink.note(service: name, "exited (\(status)); \(recent.count - 1) restarts within \(DurationParser.format(window)): giving up")
                return fail(name, .crashLoop(restarts: recent.count - 1, window: window, last: status))
            }
            if let healthySince = records[name]?.healthySince ?? (service.health == nil ? runStart : nil),
                now - healthySince >= Self.healthyStretch
            {
                records[name]?.consecutiveFailures = 0
            }
            let delay = Self.backoff(attempt: records[name]?.consecutiveFailures ?? 0, restart: service.restart)
            records[name]?.consecutiveFailures += 1
            records[name]?.healthySince = nil
            sink.note(service: name, "exited (\(status)\(reason.map { ", \($0)" } ?? "")); restarting in \(DurationParser.format(delay))")
            set(name, .backoff, "restarting in \(DurationParser.format(delay)) after \(status)")
            do { try await Task.sleep(for: delay) } catch { break }
            records[name]?.restarts += 1
        }
        set(name, .stopped)
    }

    /// Exponential from the initial delay, capped, with ±20% jitter so restarts do not march in step.
    static func backoff(attempt: Int, restart: PlannedRestart) -> Duration {
        let base = Double(restart.initialBackoffMs) * pow(2, Double(min(attempt, 30)))
        let capped = min(base, Double(restart.maxBackoffMs))
        return .milliseconds(Int64(capped * Double.random(in: 0.8...1.2)))
    }

    private func launch(_ service: PlannedService) async throws -> (any ServiceInstance, [OutputPump]) {
        switch try await drivers.driver(for: service).prepare(service, context: context) {
        case .hosted(let hosted):
            return (HostedInstance(hosted, name: service.name, sink: sink), [])
        case .process(let spec):
            return try await launcher.launch(spec, service: service.name, sink: sink)
        }
    }

    // MARK: Health

    /// Fast probes while starting (from 1 ms, growing by a quarter to 2 ms: a service found ready late is
    /// time lost for every `up`, and a probe of something not yet listening costs next to nothing), slow
    /// ones once ready.
    private func probe(_ service: PlannedService, health: PlannedHealth, child: any ServiceInstance) async {
        let name = service.name
        let timeout = Duration.milliseconds(health.timeoutMs)
        let environment = baseEnvironment.merging(service.environment) { $1 }
        let deadline = ContinuousClock.now + .milliseconds(health.startPeriodMs)
        var delay = Duration.milliseconds(1)
        var healthy = false
        while !Task.isCancelled && ContinuousClock.now < deadline {
            if await check(health.probe, timeout: timeout, service: service, environment: environment) {
                healthy = true
                break
            }
            do { try await Task.sleep(for: delay) } catch { return }
            delay = min(delay * 1.25, .milliseconds(2))
        }
        if Task.isCancelled { return }
        guard healthy else {
            return await unhealthy(
                service, child: child, reason: "not healthy within its start period of \(DurationParser.format(.milliseconds(health.startPeriodMs)))")
        }
        do {
            try await drivers.driver(for: service).initialize(service, context: context)
        } catch {
            if Task.isCancelled { return }
            records[name]?.endedBy = .setUpFailed("\(error)")
            sink.note(service: name, "\(error)")
            _ = await terminate(child, stop: service.stop)
            return
        }
        records[name]?.healthySince = ContinuousClock.now
        set(name, .healthy)
        var failures = 0
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(health.intervalMs)) } catch { return }
            if await check(health.probe, timeout: timeout, service: service, environment: environment) {
                if failures > 0 { set(name, .healthy) }
                failures = 0
                continue
            }
            failures += 1
            if Task.isCancelled { return }
            if failures >= health.retries {
                return await unhealthy(service, child: child, reason: "health check failed \(failures) times in a row")
            }
            set(name, .unhealthy, "check failed \(failures)/\(health.retries)")
        }
    }

    private func check(_ probe: PlannedHealth.Probe, timeout: Duration, service: PlannedService, environment: [String: String]) async -> Bool {
        if case .builtIn = probe, let driver = try? drivers.driver(for: service) {
            return await driver.isReady(service, context: context)
        }
        return await HealthProbe.check(probe, timeout: timeout, service: service, environment: environment)
    }

    /// Per its policy: restart (stop it; the lifecycle restarts it) or leave it running, marked unhealthy.
    private func unhealthy(_ service: PlannedService, child: any ServiceInstance, reason: String) async {
        guard service.restart.policy != .no else {
            sink.note(service: service.name, "\(reason); restart policy is no, leaving it running")
            return set(service.name, .unhealthy, reason)
        }
        sink.note(service: service.name, "\(reason): restarting")
        records[service.name]?.endedBy = .unhealthy(reason)
        _ = await terminate(child, stop: service.stop)
    }

    // MARK: Stopping

    /// The stop signal to the whole group; after its timeout the escalation signal, if any, with the
    /// same timeout; then SIGKILL to the group. Every wait is bounded, so a stop ends within the
    /// declared times whatever the service does. True when it stopped on the first signal in time.
    private func terminate(_ child: any ServiceInstance, stop: PlannedStop) async -> Bool {
        let timeout = Duration.milliseconds(stop.timeoutMs)
        child.signalGroup(stop.signal.number)
        let stoppedInTime = await child.waitForExit(within: timeout) != nil
        var exited = stoppedInTime
        if !exited, let next = stop.escalation {
            child.signalGroup(next.number)
            exited = await child.waitForExit(within: timeout) != nil
        }
        if !exited {
            child.signalGroup(SIGKILL)
            // SIGKILL cannot be ignored; the bound only covers a process stuck in the kernel.
            _ = await child.waitForExit(within: Self.killGrace)
        }
        // Anything the service left in its group goes too.
        if let group = child.processGroup, ProcessTable.groupIsAlive(group) { killpg(group, SIGKILL) }
        return stoppedInTime
    }

    /// Stops one service and waits for its lifecycle to end. True when it stopped cleanly.
    @discardableResult
    public func stop(_ name: String) async -> Bool {
        guard let service = services.first(where: { $0.name == name }), var record = records[name] else { return true }
        record.stopRequested = true
        records[name] = record
        if let child = record.child {
            // A probe's verdict must not overwrite `stopping`, nor its failure start a restart.
            record.prober?.cancel()
            set(name, .stopping)
            let inTime = await terminate(child, stop: service.stop)
            let forced = records[name]?.stopWasClean == false
            if forced {
                sink.note(service: name, "killed: the stop was forced")
            } else if !inTime {
                sink.note(service: name, "did not stop within \(service.stop.timeoutMs)ms of SIG\(service.stop.signal.rawValue): killed")
            }
            records[name]?.stopWasClean = inTime && !forced
        } else {
            record.lifecycle?.cancel()
        }
        await records[name]?.lifecycle?.value
        if records[name]?.phase != .failed && records[name]?.phase != .exited && records[name]?.phase != .completed {
            set(name, .stopped)
        }
        return records[name]?.stopWasClean ?? true
    }

    /// Reverse dependency order: a service stops only after everything that depends on it.
    /// Returns whether every service stopped within its timeout.
    public func stopAll() async -> Bool {
        shuttingDown = true
        // A reset in flight finishes first; queued ones see the shutdown and give up.
        await acquireReset()
        releaseReset()
        let wanted = Set(services.map(\.name))
        var clean = true
        for layer in plan.startLayers.reversed() {
            let names = layer.filter(wanted.contains)
            let results = await withTaskGroup(of: Bool.self) { group in
                for name in names { group.addTask { await self.stop(name) } }
                var results: [Bool] = []
                for await result in group { results.append(result) }
                return results
            }
            clean = clean && results.allSatisfy { $0 }
        }
        persist()
        for service in services { await (try? drivers.driver(for: service))?.cleanUp(service, context: context) }
        return clean
    }

    /// A second Ctrl-C: no more waiting. What had to be killed this way did not stop cleanly.
    public func forceKill() {
        for (name, record) in records where record.child != nil {
            records[name]?.stopWasClean = false
            record.child?.signalGroup(SIGKILL)
        }
    }

    public func start(_ name: String) throws {
        guard let service = services.first(where: { $0.name == name }) else { throw unknown(name) }
        guard let phase = records[name]?.phase, !phase.isLaunched, phase != .waiting, phase != .backoff, phase != .stopping else { return }
        records[name]?.recentRestarts = []
        records[name]?.consecutiveFailures = 0
        startLifecycle(service)
    }

    public func restart(_ name: String) async throws {
        guard services.contains(where: { $0.name == name }) else { throw unknown(name) }
        await stop(name)
        try start(name)
    }

    public func stopService(_ name: String) async throws {
        guard services.contains(where: { $0.name == name }) else { throw unknown(name) }
        await stop(name)
    }

    /// Resets every service that keeps state, one reset at a time; refused once the stack is stopping,
    /// and by a protected profile without `force` or a remote one.
    public func reset(to snapshot: String?, force: Bool) async throws -> [ResetOutcome] {
        try StackRunner.checkResetAllowed(plan, force: force)
        guard !shuttingDown else { throw SupervisorError(.refused, "the stack is stopping; nothing was reset") }
        await acquireReset()
        defer { releaseReset() }
        guard !shuttingDown else { throw SupervisorError(.refused, "the stack is stopping; nothing was reset") }
        var outcomes: [ResetOutcome] = []
        for service in services where records[service.name]?.phase.isLaunched == true {
            let driver = try drivers.driver(for: service)
            if let outcome = try await driver.reset(service, context: context, to: snapshot) {
                sink.note(service: service.name, outcome.summary)
                outcomes.append(outcome)
            }
        }
        for service in services where service.restartAfterReset && records[service.name]?.phase.isLaunched == true {
            sink.note(service: service.name, "restarting after the reset, as the stack asks")
            try await restart(service.name)
        }
        return outcomes
    }

    /// Resets take turns: a waiter is handed the turn directly, so none can slip in between.
    private func acquireReset() async {
        if resetting {
            await withCheckedContinuation { resetQueue.append($0) }
        }
        resetting = true
    }

    private func releaseReset() {
        if resetQueue.isEmpty { resetting = false } else { resetQueue.removeFirst().resume() }
    }

    public func requestShutdown() {
        events.yield(.shutdownRequested)
    }

    private func unknown(_ name: String) -> SupervisorError {
        SupervisorError(
            .unknownService, "no service '\(name)' in this stack",
            fix: "services: \(services.map(\.name).joined(separator: ", "))")
    }

    // MARK: State

    private func dependencyMet(_ dependency: PlannedDependency) async -> Bool {
        while true {
            guard let phase = records[dependency.service]?.phase else { return false }
            switch dependency.condition {
            case .started where phase.isLaunched || phase == .completed: return true
            case .healthy where phase == .healthy: return true
            case .completed where phase == .completed: return true
            default: break
            }
            if phase == .failed || phase == .exited || phase == .stopped || shuttingDown { return false }
            if dependency.condition == .healthy && phase == .completed { return false }
            await changed()
        }
    }

    private func changed() async {
        await withCheckedContinuation { waiters.append($0) }
    }

    private func set(_ name: String, _ phase: ServicePhase, _ detail: String? = nil) {
        // Once a stop is under way, a probe that was mid-check when cancelled has no say.
        if records[name]?.stopRequested == true, phase == .healthy || phase == .unhealthy || phase == .running { return }
        records[name]?.phase = phase
        records[name]?.detail = detail
        records[name]?.phaseSince = .now
        let resumed = waiters
        waiters = []
        resumed.forEach { $0.resume() }
        if let console, !console.live, detached == false { console.progress(progressRows()) }
        if phase == .failed || phase == .exited, exitOnFailure, !shuttingDown { events.yield(.serviceFailed(name)) }
    }

    private func fail(_ name: String, _ failure: ServiceFailure) {
        sink.note(service: name, "failed: \(failure)")
        set(name, .failed, failure.description)
    }

    /// The rows of the live progress block.
    public func progressRows() -> [ConsoleView.Row] {
        let now = ContinuousClock.now
        return services.map { service in
            let record = records[service.name] ?? Record()
            let elapsed = now - record.phaseSince
            let symbol: String
            switch record.phase {
            case .healthy, .running, .completed: symbol = "✔"
            case .failed, .exited: symbol = "✘"
            default: symbol = "…"
            }
            let seconds = record.phase.isSettled ? nil : Double(elapsed.milliseconds) / 1000
            return ConsoleView.Row(name: service.name, symbol: symbol, state: record.phase.rawValue, detail: record.detail ?? "", seconds: seconds)
        }
    }

    public func status() -> StatusReport {
        StatusReport(
            stack: plan.stack, profile: plan.profile.name, supervisorPid: getpid(), startedAt: startedAt, detached: detached,
            logDirectory: sink.directory,
            services: services.map { service in
                let record = records[service.name] ?? Record()
                return ServiceStatus(
                    name: service.name, kind: service.kind, phase: record.phase, detail: record.detail, pid: record.child?.processGroup,
                    ports: Dictionary(uniqueKeysWithValues: service.ports.map { ($0.name, $0.number) }),
                    url: service.attributes["url"],
                    health: service.health == nil ? "none" : (record.phase == .healthy ? "healthy" : record.phase == .unhealthy ? "unhealthy" : "-"),
                    restarts: record.restarts, startedAt: record.child == nil ? nil : record.startedAt,
                    lastExit: record.lastExit?.description, lastExitReason: record.lastExitReason?.description)
            })
    }

    /// Writes state.json: pids, process groups, start times, ports.
    private func persist() {
        var children: [String: SupervisorRecord.Child] = [:]
        for service in services {
            guard let child = records[service.name]?.child, let pid = child.processGroup else { continue }
            children[service.name] = SupervisorRecord.Child(
                pid: pid, processGroup: pid, startTime: child.startTime, startedAt: records[service.name]?.startedAt ?? Date(),
                ports: Dictionary(uniqueKeysWithValues: service.ports.map { ($0.name, $0.number) }))
        }
        let record = SupervisorRecord(
            pid: ownPid, startTime: ownStartTime, startedAt: startedAt, stack: plan.stack,
            profile: plan.profile.name, detached: detached, controlSocket: store.controlSocket, children: children,
            ports: Dictionary(
                uniqueKeysWithValues: services.map { service in
                    (service.name, Dictionary(uniqueKeysWithValues: service.ports.map { ($0.name, $0.number) }))
                }), runtimeDirectory: plan.runtimeDirectory)
        persisted += 1
        let number = persisted
        Task { await stateWriter.write(record, number: number) }
    }

    /// No more writes of state.json: the run is over and the file about to go.
    public func closeState() async {
        await stateWriter.close()
    }
}

/// Writes the supervisor's record away from the supervisor's actor, so supervising never waits on
/// the disk or the encoder (the first write of a run takes ~2 ms). Writes are numbered in the order
/// they were asked for; one that arrives after a newer one was written is dropped.
actor StateWriter {
    private let store: StateStore
    private var written = 0
    private var closed = false

    init(store: StateStore) { self.store = store }

    func write(_ record: SupervisorRecord, number: Int) {
        guard !closed, number > written else { return }
        try? store.save(record)
        written = number
    }

    func close() { closed = true }
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
