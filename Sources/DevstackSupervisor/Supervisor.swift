import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// Runs a plan: one `ServiceRunner` per service, started together (dependencies gate each one) and
/// stopped in reverse dependency order; resets take turns. It keeps the group's view of its runners
/// for `status`, the progress block, dependency waits and state.json.
public actor Supervisor: RunnerHost {
    public enum Event: Sendable {
        case shutdownRequested
        case serviceFailed(String)
    }

    public let plan: Plan
    let services: [PlannedService]
    let store: StateStore
    let console: ConsoleView?
    let detached: Bool
    let startedAt = Date()
    /// This process, as state.json names it (pid and kernel start time), read once.
    private let ownPid = getpid()
    private let ownStartTime = ProcessTable.startTime(of: getpid())
    let exitOnFailure: Bool
    let drivers: DriverSet
    let sink: LogSink
    let context: DriverContext
    private var runners: [String: ServiceRunner] = [:]
    var snapshots: [String: RunnerSnapshot] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private let events: AsyncStream<Event>.Continuation
    public nonisolated let eventStream: AsyncStream<Event>
    private(set) var shuttingDown = false
    private var resetting = false
    private var resetQueue: [CheckedContinuation<Void, Never>] = []
    private let stateWriter: StateWriter
    private var persisted = 0
    let leaseDesk: LeaseDesk
    /// Where test processes lease databases over loopback TCP (with the run's token), once listening.
    private var leaseURL: String?
    let alerts: AlertSender
    /// The profile's backups, when it asks for them.
    let backupDesk: BackupDesk?
    /// Free space where the data is fell below the profile's `disk.min_free` at the last look.
    private var diskLow = false

    public init(
        plan: Plan, services: [PlannedService], store: StateStore, sink: LogSink, console: ConsoleView?, guardian: any ProcessGroupWatcher,
        environment: [String: String], detached: Bool, exitOnFailure: Bool, drivers: DriverSet, launcher: any ServiceLauncher = ProcessLauncher()
    ) {
        self.drivers = drivers
        self.plan = plan
        self.services = services
        self.store = store
        self.stateWriter = StateWriter(store: store)
        self.console = console
        self.detached = detached
        self.exitOnFailure = exitOnFailure
        self.sink = sink
        let context = DriverContext(plan: plan, environment: environment, sink: sink)
        self.context = context
        (eventStream, events) = AsyncStream<Event>.makeStream()
        leaseDesk = LeaseDesk { service, line in sink.note(service: service, line) }
        alerts = AlertSender(plan: plan)
        let alerts = alerts
        backupDesk = plan.profile.backups.map { policy in
            BackupDesk(policy: policy, alerts: alerts) { line in sink.note(service: policy.service ?? "backups", line) }
        }
        for service in services {
            snapshots[service.name] = RunnerSnapshot()
            runners[service.name] = ServiceRunner(
                service: service, context: context, drivers: drivers, launcher: launcher, guardian: guardian, sink: sink)
        }
    }

    // MARK: Starting

    /// Starts every service's runner; dependencies gate each one.
    public func startAll() async {
        for service in services { await runners[service.name]?.start(in: self) }
        persist()
        Task {
            _ = await waitUntilSettled()
            for service in services { await (try? drivers.driver(for: service))?.stackSettled(service, context: context) }
        }
    }

    /// Resolves once every service has settled (ready, completed or failed).
    public func waitUntilSettled() async -> StatusReport {
        while !services.allSatisfy({ snapshots[$0.name].map { $0.phase.isSettled || $0.crashLooping } == true }) { await changed() }
        return status()
    }

    // MARK: Stopping

    /// Reverse dependency order: a service stops only after everything that depends on it.
    /// Returns whether every service stopped within its timeout.
    public func stopAll() async -> Bool {
        shuttingDown = true
        wakeWaiters()
        // A reset in flight finishes first; queued ones see the shutdown and give up.
        await acquireReset()
        releaseReset()
        // A backup or verification in flight finishes first; none starts after.
        await backupDesk?.acquire("stopping")
        // Leases are dropped while their servers still run, and the copies kept ready with them.
        await leaseDesk.close()
        for service in services {
            guard snapshots[service.name]?.phase.isLaunched == true else { continue }
            await (try? drivers.driver(for: service))?.leasing(service, context: context)?.close()
        }
        var clean = true
        for layer in plan.startLayers.reversed() {
            let layerRunners = layer.compactMap { runners[$0] }
            let results = await withTaskGroup(of: Bool.self) { group in
                for runner in layerRunners { group.addTask { await runner.stop() } }
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

    /// A second Ctrl-C: no more waiting.
    public func forceKill() async {
        for runner in runners.values { await runner.forceKill() }
    }

    public func start(_ name: String) async throws {
        try await runner(name).start(in: self)
    }

    public func restart(_ name: String) async throws {
        let runner = try runner(name)
        await runner.stop()
        await runner.start(in: self)
    }

    public func stopService(_ name: String) async throws {
        try await runner(name).stop()
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
        let launched = services.filter { snapshots[$0.name]?.phase.isLaunched == true }
        var paused: [PlannedService] = []
        do {
            for service in launched.reversed() {
                try await drivers.driver(for: service).pauseForReset(service, context: context)
                paused.append(service)
            }
            for service in launched {
                let driver = try drivers.driver(for: service)
                if let outcome = try await driver.reset(service, context: context, to: snapshot) {
                    sink.note(service: service.name, outcome.summary)
                    outcomes.append(outcome)
                }
            }
        } catch {
            for service in paused.reversed() { await (try? drivers.driver(for: service))?.resumeAfterReset(service, context: context) }
            throw error
        }
        for service in paused.reversed() { await (try? drivers.driver(for: service))?.resumeAfterReset(service, context: context) }
        if !outcomes.isEmpty { await leaseDesk.releaseAll(because: "the stack was reset") }
        for service in services where service.restartAfterReset && snapshots[service.name]?.phase.isLaunched == true {
            sink.note(service: service.name, "restarting after the reset, as the stack asks")
            try await restart(service.name)
        }
        return outcomes
    }

    // MARK: Leases

    /// A fresh database for a test process, from `service` (or the stack's only service that leases).
    /// `holder`: the process the lease lives with.
    public func lease(service name: String?, holder: Int32?) async throws -> LeaseRecord {
        guard !shuttingDown else { throw SupervisorError(.refused, "the stack is stopping; no database was leased") }
        let (service, provider) = try leasingService(named: name)
        guard let phase = snapshots[service.name]?.phase, phase == .healthy || phase == .running else {
            throw SupervisorError(
                .serviceFailed, "\(service.name) is \(snapshots[service.name]?.phase.rawValue ?? "not started"), not ready: no database was leased",
                fix: "see `devstack status` and `devstack logs \(service.name)`")
        }
        return try await leaseDesk.lease(service: service.name, from: provider, holder: holder)
    }

    public func releaseLease(_ name: String) async throws {
        try await leaseDesk.release(name)
    }

    public func leases() async -> [LeaseRecord] {
        await leaseDesk.records
    }

    /// The run's lease API on loopback TCP, recorded in state.json for `env` and `exec` when a
    /// service of the stack hands out databases.
    public func setLeaseURL(_ url: String) {
        guard services.contains(where: { (try? drivers.driver(for: $0))?.leasing($0, context: context) != nil }) else { return }
        leaseURL = url
        persist()
    }

    private func leasingService(named name: String?) throws -> (PlannedService, any DatabaseLeasing) {
        let offering = services.compactMap { service in
            (try? drivers.driver(for: service))?.leasing(service, context: context).map { (service, $0) }
        }
        if let name {
            if let match = offering.first(where: { $0.0.name == name }) { return match }
            let known = services.contains { $0.name == name }
            throw SupervisorError(
                .unknownService, known ? "\(name) hands out no databases" : "this stack has no service '\(name)'",
                fix: offering.isEmpty ? "only postgres services lease databases" : "lease from \(offering.map(\.0.name).joined(separator: " or "))")
        }
        guard offering.count == 1, let only = offering.first else {
            throw SupervisorError(
                .unknownService, offering.isEmpty ? "this stack runs no database that leases" : "this stack has several databases",
                fix: offering.isEmpty ? "add a postgres service" : "name one: --service \(offering.map(\.0.name).joined(separator: " or --service "))"
            )
        }
        return only
    }

    /// Resets take turns: a waiter is handed the turn directly, so none can slip in between.
    func acquireReset() async {
        if resetting {
            await withCheckedContinuation { resetQueue.append($0) }
        }
        resetting = true
    }

    func releaseReset() {
        if resetQueue.isEmpty { resetting = false } else { resetQueue.removeFirst().resume() }
    }

    public func requestShutdown() {
        events.yield(.shutdownRequested)
    }

    func runner(_ name: String) throws -> ServiceRunner {
        guard let runner = runners[name] else {
            throw SupervisorError(
                .unknownService, "no service '\(name)' in this stack",
                fix: "services: \(services.map(\.name).joined(separator: ", "))")
        }
        return runner
    }

    // MARK: The runners' view

    func publish(_ snapshot: RunnerSnapshot, of service: String) {
        guard let previous = snapshots[service], snapshot.version > previous.version else { return }
        snapshots[service] = snapshot
        if snapshot.crashLooping && !previous.crashLooping {
            let detail = snapshot.detail ?? "crash loop"
            Task { await alerts.send("crash_loop", service: service, detail: detail) }
        }
        if snapshot.phase == .failed && previous.phase != .failed && !shuttingDown {
            let detail = snapshot.detail ?? "failed"
            Task { await alerts.send("service_failed", service: service, detail: detail) }
        }
        wakeWaiters()
        if previous.processGroup != snapshot.processGroup || previous.startTime != snapshot.startTime { persist() }
        guard previous.phase != snapshot.phase || previous.detail != snapshot.detail else { return }
        if let console, !console.live, detached == false { console.progress(progressRows()) }
        if snapshot.phase.isFailure, previous.phase != snapshot.phase, exitOnFailure, !shuttingDown { events.yield(.serviceFailed(service)) }
    }

    func phase(of service: String) -> ServicePhase? { snapshots[service]?.phase }

    func dependencyMet(_ dependency: PlannedDependency) async -> Bool {
        while true {
            guard let phase = snapshots[dependency.service]?.phase else { return false }
            if ServiceRunner.satisfies(phase, dependency) { return true }
            if phase == .failed || phase == .exited || phase == .stopped || shuttingDown { return false }
            if dependency.condition == .healthy && phase == .completed { return false }
            await changed()
        }
    }

    /// Waits until `name` is up again after a start (it passes through `stopped` and `starting`);
    /// false once it fails or the stack stops.
    func waitUntilUp(_ name: String) async -> Bool {
        while true {
            guard let phase = snapshots[name]?.phase else { return false }
            if phase.isUp { return true }
            if phase == .failed || phase == .exited || shuttingDown { return false }
            await changed()
        }
    }

    private func changed() async {
        await withCheckedContinuation { waiters.append($0) }
    }

    private func wakeWaiters() {
        let resumed = waiters
        waiters = []
        resumed.forEach { $0.resume() }
    }

    /// The rows of the live progress block.
    public func progressRows() -> [ConsoleView.Row] {
        let now = ContinuousClock.now
        return services.map { service in
            let snapshot = snapshots[service.name] ?? RunnerSnapshot()
            let symbol: String
            switch snapshot.phase {
            case .healthy, .running, .completed: symbol = "✔"
            case .failed, .exited: symbol = "✘"
            default: symbol = "…"
            }
            let seconds = snapshot.phase.isSettled ? nil : Double((now - snapshot.phaseSince).milliseconds) / 1000
            return ConsoleView.Row(
                name: service.name, symbol: symbol, state: snapshot.phase.rawValue, detail: snapshot.detail ?? "", seconds: seconds)
        }
    }

    public func status() -> StatusReport {
        StatusReport(
            stack: plan.stack, profile: plan.profile.name, supervisorPid: getpid(), startedAt: startedAt, detached: detached,
            logDirectory: sink.directory,
            services: services.map { service in
                let snapshot = snapshots[service.name] ?? RunnerSnapshot()
                return ServiceStatus(
                    name: service.name, kind: service.kind, phase: snapshot.phase, detail: snapshot.detail, pid: snapshot.processGroup,
                    ports: Dictionary(uniqueKeysWithValues: service.ports.map { ($0.name, $0.number) }),
                    url: service.attributes["url"],
                    health: service.health == nil
                        ? "none" : (snapshot.phase == .healthy ? "healthy" : snapshot.phase == .unhealthy ? "unhealthy" : "-"),
                    restarts: snapshot.restarts, crashLooping: snapshot.crashLooping, startedAt: snapshot.isRunning ? snapshot.startedAt : nil,
                    lastExit: snapshot.lastExit?.description, lastExitReason: snapshot.lastExitReason?.description)
            })
    }

    /// The disk guard's look: below the profile's minimum, a warning and an alert once, and again once
    /// there is room; nothing is ever deleted. Returns the line to show when the state changed.
    func checkDisk() -> String? {
        guard let free = ProcessResources.freeBytes(at: plan.stateDirectory) else { return nil }
        let low = free < plan.profile.minimumFreeDisk
        guard low != diskLow else { return nil }
        diskLow = low
        let amount = String(format: "%.1f GiB", Double(free) / Double(1 << 30))
        let minimum = String(format: "%.1f GiB", Double(plan.profile.minimumFreeDisk) / Double(1 << 30))
        let line =
            low
            ? "devstack: disk low: \(amount) free where the data is (\(plan.stateDirectory)), under the profile's \(minimum); nothing is deleted, free some space"
            : "devstack: disk has room again: \(amount) free where the data is"
        let alerts = alerts
        Task { await alerts.send(low ? "disk_low" : "disk_ok", detail: line.replacingOccurrences(of: "devstack: ", with: "")) }
        return line
    }

    /// `GET /metrics`: the status, each runner's last probe, and what the supervisor itself costs.
    public func metrics() async -> String {
        var latency: [String: Duration] = [:]
        for (name, runner) in runners {
            if let last = await runner.lastProbeLatency { latency[name] = last }
        }
        return Metrics(
            report: status(), probeLatency: latency, resources: .current(), diskFree: ProcessResources.freeBytes(at: plan.stateDirectory),
            diskLow: diskLow, backups: await backupDesk?.status(service: plan.profile.backups?.service ?? "")
        ).render()
    }

    /// Writes state.json: pids, process groups, start times, ports.
    private func persist() {
        var children: [String: SupervisorRecord.Child] = [:]
        for service in services {
            guard let snapshot = snapshots[service.name], let pid = snapshot.processGroup else { continue }
            children[service.name] = SupervisorRecord.Child(
                pid: pid, processGroup: pid, startTime: snapshot.startTime, startedAt: snapshot.startedAt ?? Date(),
                ports: Dictionary(uniqueKeysWithValues: service.ports.map { ($0.name, $0.number) }))
        }
        let record = SupervisorRecord(
            pid: ownPid, startTime: ownStartTime, startedAt: startedAt, stack: plan.stack,
            profile: plan.profile.name, detached: detached, controlSocket: store.controlSocket, children: children,
            ports: Dictionary(
                uniqueKeysWithValues: services.map { service in
                    (service.name, Dictionary(uniqueKeysWithValues: service.ports.map { ($0.name, $0.number) }))
                }), runtimeDirectory: plan.runtimeDirectory, leaseEndpoint: leaseURL)
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
