import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

public struct UpOptions: Sendable {
    public var services: [String]
    public var detach: Bool
    public var waitTimeout: Duration
    public var exitOnFailure: Bool
    /// This process is the background supervisor that `up --detach` started.
    public var isBackgroundSupervisor: Bool
    /// Arguments that select the project, passed on to the background supervisor.
    public var projectArguments: [String]

    public init(
        services: [String], detach: Bool, waitTimeout: Duration, exitOnFailure: Bool, isBackgroundSupervisor: Bool, projectArguments: [String]
    ) {
        self.services = services
        self.detach = detach
        self.waitTimeout = waitTimeout
        self.exitOnFailure = exitOnFailure
        self.isBackgroundSupervisor = isBackgroundSupervisor
        self.projectArguments = projectArguments
    }
}

/// `up` and `down`: everything between a plan and running (or stopped) processes.
public enum StackRunner {
    /// Runs the stack in this process until it is told to stop. Returns the exit status.
    public static func runForeground(
        workspace: Workspace, options: UpOptions, environment: [String: String], drivers: DriverSet, hosted: HostedActions? = nil
    ) async throws -> Int32 {
        let store = StateStore(directory: workspace.stateDirectory)
        try StateDirectory.create(store.directory)
        guard let lock = try ProjectLock.acquire(store.lockFile) else { throw alreadyRunning(store) }
        defer { lock.release() }
        let background = options.isBackgroundSupervisor
        let recovered = recoverStale(store)
        // The launcher's thread and the guardian start while the plan is read, not when the first service launches.
        ChildLauncher.start()
        let guardian = Guardian()
        let plan: Plan
        let services: [PlannedService]
        var exposed: ExposureProxy?
        do {
            // The background supervisor runs the plan `up --detach` made and checked (its ports, its
            // secrets), handed over on standard input: planning again would be ~5 ms of every `up`.
            if background, let handed = HandedPlan.read() {
                (plan, services) = (handed.plan, handed.services)
            } else {
                (plan, services) = try await planWithFreePorts(workspace: workspace, selecting: options.services, environment: environment)
            }
            if let exposure = plan.profile.exposure { try ProfileCertificates.ensure(exposure, profile: plan.profile.name) }
            try RuntimeFolder.prepare(plan.runtimeDirectory)
            try RunningStacks.register(plan)
            try await guardian.started()
            // Other machines' way in, before any service starts: an address or port it cannot have starts nothing.
            if let exposure = plan.profile.exposure {
                exposed = try await ExposureProxy.start(exposure, services: services, loopback: plan.profile.host)
            }
        } catch {
            await guardian.dismiss()
            throw error
        }
        let view = background ? nil : ConsoleView(services: services.map(\.name), showLogs: true, environment: environment)
        // The background supervisor's output is its log file; nothing may sit in a buffer.
        let say: @Sendable (String) -> Void = { line in
            if let view { view.message(line) } else { Descriptor.writeAll(STDOUT_FILENO, Data((line + "\n").utf8)) }
        }
        recovered.forEach(say)
        let sink = try LogSink(directory: store.logDirectory, console: view, rotation: plan.profile.logRotation)
        defer { sink.close() }
        let supervisor = Supervisor(
            plan: plan, services: services, store: store, sink: sink, console: view, guardian: guardian, environment: environment,
            detached: background, exitOnFailure: options.exitOnFailure, drivers: drivers)
        let signals = SignalListener.listen(to: [SIGINT, SIGTERM, SIGHUP])
        let began = ContinuousClock.now
        // The services need not wait for the control socket to be listening.
        async let listening = ControlServer(
            socket: store.controlSocket, supervisor: supervisor, metricsPort: plan.profile.metricsPort, hosted: plan.instance == nil ? hosted : nil)
        await supervisor.startAll()
        let control = try await listening
        await supervisor.setLeaseURL(control.leaseURL)

        let ticker = view.flatMap { view in view.live ? Task { await tick(supervisor, view) } : nil }
        if plan.profile.keepAwake {
            Task {
                say(
                    await SleepInhibitor.hold(
                        forProcess: getpid(), reason: "devstack: \(plan.stack) (\(plan.profile.name)) serves", environment: environment))
            }
        }
        // The disk guard: a look at start, then every 30 s; the background supervisor's own log rotates then too.
        let diskGuard = Task {
            while !Task.isCancelled {
                if let line = await supervisor.checkDisk() { say(line) }
                if background { SupervisorLog.rotateIfNeeded(directory: store.logDirectory, rotation: plan.profile.logRotation) }

                try? await Task.sleep(for: .seconds(30))
            }
        }
        // The backup schedule: a look once the stack has settled, then every minute.
        let backupSchedule =
            plan.profile.backups == nil
            ? nil
            : Task {
                _ = await supervisor.waitUntilSettled()
                while !Task.isCancelled {
                    await supervisor.runBackupSchedule()
                    try? await Task.sleep(for: .seconds(60))
                }
            }
        let notifier = ServiceManagerNotifier(environment: environment)
        let reporting = notifier.isListening ? Task { await reportToServiceManager(supervisor, notifier) } : nil
        let settled = Task {
            let report = await supervisor.waitUntilSettled()
            ticker?.cancel()
            if let view {
                if view.live { view.progress(await supervisor.progressRows()) }
                view.finishProgress()
                view.message(Summary.text(report, plan: plan, elapsed: ContinuousClock.now - began, detached: false))
            }
        }

        // Wait for a reason to stop: Ctrl-C, SIGTERM, the terminal going away, `devstack down`, or (with --exit-on-failure) a failure.
        let reasons = AsyncStream<ShutdownReason> { continuation in
            let forwardSignals = Task {
                for await signal in signals {
                    if signal == SIGHUP && background { continue }
                    continuation.yield(.signal(signal))
                }
            }
            let forwardEvents = Task {
                for await event in supervisor.eventStream {
                    switch event {
                    case .shutdownRequested: continuation.yield(.down)
                    case .serviceFailed(let name): continuation.yield(.serviceFailed(name))
                    }
                }
            }
            continuation.onTermination = { _ in
                forwardSignals.cancel()
                forwardEvents.cancel()
            }
        }
        var iterator = reasons.makeAsyncIterator()
        let reason = await iterator.next() ?? .down
        ticker?.cancel()
        settled.cancel()
        view?.finishProgress()
        reporting?.cancel()
        diskGuard.cancel()
        backupSchedule?.cancel()
        notifier.stopping(status: "stopping (\(reason))")
        say("devstack: stopping (\(reason))" + (background ? "" : "; press Ctrl-C again to force"))
        // A second signal while stopping forces.
        let force = Task {
            while let next = await iterator.next() {
                guard case .signal = next else { continue }
                await supervisor.forceKill()
            }
        }
        await exposed?.stop()
        let clean = await supervisor.stopAll()
        force.cancel()
        await control.stop()
        await guardian.dismiss()
        await supervisor.closeState()
        store.remove()
        unlink(store.controlSocket)
        try? FileManager.default.removeItem(atPath: plan.runtimeDirectory)
        let report = await supervisor.status()
        let failures = report.services.filter { $0.phase == .failed }.map(\.name)
        say(
            clean
                ? "devstack: stopped cleanly" + (failures.isEmpty ? "" : " (failed before: \(failures.joined(separator: ", ")))")
                : "devstack: stopped, but some services had to be killed")
        if case .serviceFailed = reason { return 1 }
        return clean ? 0 : 1
    }

    /// Run as a service of the machine (systemd, `Type=notify`): READY once every service is healthy,
    /// a STATUS line whenever the count changes, and the watchdog's sign of life, sent only after the
    /// supervisor answered, so a wedged supervisor gets restarted.
    private static func reportToServiceManager(_ supervisor: Supervisor, _ notifier: ServiceManagerNotifier) async {
        let watchdog = notifier.watchdogInterval.map { interval in
            Task {
                while !Task.isCancelled {
                    _ = await supervisor.status()
                    notifier.alive()
                    try? await Task.sleep(for: interval)
                }
            }
        }
        defer { watchdog?.cancel() }
        var readySent = false
        var lastStatus = ""
        while !Task.isCancelled {
            let report = await supervisor.status()
            let healthy = report.services.filter { $0.phase.isUp }.count
            var status = "\(healthy)/\(report.services.count) services healthy"
            let failing = report.services.filter { [.failed, .backoff, .unhealthy, .exited].contains($0.phase) }.map(\.name)
            if !failing.isEmpty { status += "; not healthy: \(failing.joined(separator: ", "))" }
            if let backups = await supervisor.backupStatus() { status += "; " + backups.summary() }
            if !readySent && healthy == report.services.count {
                notifier.ready(status: status)
                readySent = true
            } else if status != lastStatus {
                notifier.status(status)
            }
            lastStatus = status
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    private static func tick(_ supervisor: Supervisor, _ view: ConsoleView) async {
        while !Task.isCancelled {
            view.progress(await supervisor.progressRows())
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The plan, its selected services, and ports that are free right now. `auto` ports taken in
    /// the meantime are picked again; fixed ones in use are an error naming port, service and holder.
    static func planWithFreePorts(workspace: Workspace, selecting names: [String], environment: [String: String]) async throws -> (
        Plan, [PlannedService]
    ) {
        for _ in 0..<5 {
            let plan = try await workspace.plan(environment: environment)
            if plan.profile.remote {
                throw SupervisorError(
                    .refused, "profile '\(plan.profile.name)' is remote: devstack starts nothing there",
                    fix: "use it for `devstack env` and `devstack config`; run the stack with --profile local, ci or staging")
            }
            let unknown = names.filter { plan.service(named: $0) == nil }
            if !unknown.isEmpty {
                throw SupervisorError(
                    .unknownService, "no service \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in stack '\(plan.stack)'",
                    fix: "services: \(plan.services.map(\.name).joined(separator: ", "))")
            }
            let services = names.isEmpty ? plan.services : plan.closure(of: names)
            let busy = services.flatMap { service in service.ports.map { (service, $0) } }.filter {
                !Ports.isFree($0.1.number, host: plan.profile.host)
            }
            if busy.isEmpty { return (plan, services) }
            if plan.profile.ports == "auto" && busy.allSatisfy({ $0.1.origin.source == .generated }) { continue }
            let lines = busy.map { service, port in
                "port \(port.number) for \(service.name).\(port.name) is in use"
                    + (ProcessTable.listener(onPort: port.number).map { " by \($0)" }
                        ?? " (no listening process devstack can see: often an outgoing connection's own port, which the kernel hands out from the same range and frees when the connection closes)")
            }
            throw SupervisorError(
                .portInUse, lines.joined(separator: "\n       ") + "\n       nothing was started",
                fix:
                    "stop what holds it, pin another port under services.NAME.ports in \(plan.profile.file), or use a profile with 'ports: auto' (--profile ci)"
            )
        }
        throw SupervisorError(.portInUse, "could not find free ports after 5 tries", fix: "free some ports and try again")
    }

    /// The supervisor holding this profile's lock when it is not `pid`, once its state file names it (it
    /// writes the file a moment after taking the lock).
    private static func otherSupervisor(_ store: StateStore, than pid: Int32) async -> SupervisorRecord? {
        let deadline = ContinuousClock.now + .seconds(2)
        while ProjectLock.isHeld(store.lockFile) && ContinuousClock.now < deadline {
            if let record = store.running(), record.pid != pid { return record }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    static func alreadyRunning(_ store: StateStore) -> SupervisorError {
        alreadyRunning(store.load())
    }

    static func alreadyRunning(_ record: SupervisorRecord?) -> SupervisorError {
        let since = record.map { " since \(LogSink.timestamp($0.startedAt))" } ?? ""
        return SupervisorError(
            .alreadyRunning, "already running (pid \(record.map { String($0.pid) } ?? "?")\(since))",
            fix: "see it with `devstack status`, stop it with `devstack down`")
    }

    /// After a crash the state file names what ran. Whatever is still that process (pid and start time match) is stopped.
    static func recoverStale(_ store: StateStore) -> [String] {
        guard let record = store.load() else { return [] }
        var lines = ["devstack: the last supervisor (pid \(record.pid)) did not stop cleanly; recovering"]
        var stopped: [Int32] = []
        // A live process group whose leader is gone is still ours: Unix never reuses a pid that names a live group.
        for (name, child) in record.children.sorted(by: { $0.key < $1.key })
        where ProcessTable.isSameProcess(child.pid, startTime: child.startTime) || ProcessTable.groupIsAlive(child.processGroup) {
            killpg(child.processGroup, SIGTERM)
            stopped.append(child.processGroup)
            lines.append("devstack: stopping leftover \(name) (pid \(child.pid))")
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && stopped.contains(where: ProcessTable.groupIsAlive) { usleep(20_000) }
        for group in stopped where ProcessTable.groupIsAlive(group) { killpg(group, SIGKILL) }
        // Sockets and throw-away data (the ci profile's database) went with the run; only persistent data stays.
        if let runtime = record.runtimeDirectory, FileManager.default.fileExists(atPath: runtime) {
            lines.append(
                StateDirectory.removeTree(runtime)
                    ? "devstack: removed the last run's sockets and throw-away data (\(runtime))"
                    : "devstack: could not remove \(runtime); remove it by hand")
        }
        store.remove()
        unlink(record.controlSocket)
        return lines
    }

    // MARK: Detached

    /// Starts a background supervisor and returns once every service is ready, or fails naming the failing one.
    public static func runDetached(
        workspace: Workspace, options: UpOptions, environment: [String: String], drivers: DriverSet
    ) async throws -> String {
        let store = StateStore(directory: workspace.stateDirectory)
        try StateDirectory.create(store.directory)
        if store.running() != nil { throw alreadyRunning(store) }
        // Check the files and ports here, so mistakes show in this terminal with the right exit status.
        let (plan, services) = try await planWithFreePorts(workspace: workspace, selecting: options.services, environment: environment)
        try RuntimeFolder.prepare(plan.runtimeDirectory)
        try StateDirectory.create(store.logDirectory)
        let logPath = "\(store.logDirectory)/supervisor.log"
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let process = Process()
        let invocation = SelfInvocation.backgroundSupervisor(
            projectArguments: options.projectArguments, exitOnFailure: options.exitOnFailure, services: options.services)
        process.executableURL = URL(fileURLWithPath: invocation.executable)
        process.arguments = invocation.arguments
        process.environment = environment
        let handover = Pipe()
        process.standardInput = handover
        process.standardOutput = FileHandle(fileDescriptor: log, closeOnDealloc: true)
        process.standardError = FileHandle(fileDescriptor: log, closeOnDealloc: false)
        try process.run()
        try? handover.fileHandleForWriting.write(contentsOf: try JSONEncoder().encode(HandedPlan(plan: plan, services: services)))
        try? handover.fileHandleForWriting.close()

        let began = ContinuousClock.now
        let deadline = began + options.waitTimeout
        var report: StatusReport?
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                // Two `up --detach` at once: the loser's supervisor found the lock taken. Say who won.
                if let winner = await otherSupervisor(store, than: process.processIdentifier) { throw alreadyRunning(winner) }
                throw SupervisorError(
                    .serviceFailed, "the background supervisor exited (status \(process.terminationStatus)) before the stack was up",
                    fix: "see \(logPath)")
            }
            if let record = store.load(), record.pid == process.processIdentifier,
                let current = try? await ControlClient(socket: record.controlSocket).settledStatus(within: deadline - ContinuousClock.now)
            {
                report = current
                if current.settled { break }
            }
            // Until the control socket answers (a few milliseconds into the supervisor's start).
            try await Task.sleep(for: .milliseconds(5))
        }
        // Timed out: what the services are doing now, for the message.
        if report?.settled != true, let record = store.load(), let current = try? await ControlClient(socket: record.controlSocket).status() {
            report = current
        }
        guard let report, report.settled, report.failed.isEmpty else {
            let message: String
            if let report, !report.failed.isEmpty {
                message = report.failed.map { failure in
                    "\(failure.name) is \(failure.phase.rawValue)" + (failure.detail.map { ": \($0)" } ?? "") + "\n"
                        + LogReader.lastLines(of: failure.name, count: 20, directory: store.logDirectory).map { "    \($0)" }.joined(separator: "\n")
                }.joined(separator: "\n")
            } else {
                let waiting = report?.services.filter { !$0.phase.isSettled }.map { "\($0.name) (\($0.phase.rawValue))" } ?? []
                message =
                    "timed out after \(DurationParser.format(options.waitTimeout))"
                    + (waiting.isEmpty ? "" : " waiting for \(waiting.joined(separator: ", "))")
            }
            try? await stop(store: store, timeout: .seconds(60))
            throw SupervisorError(.serviceFailed, message + "\nthe stack was stopped", fix: "logs: \(store.logDirectory)")
        }
        return Summary.text(report, plan: plan, elapsed: ContinuousClock.now - began, detached: true)
    }

    /// `down`: asks the running supervisor to stop and waits for it; cleans up after a crashed one.
    public static func down(workspace: Workspace, timeout: Duration) async throws -> String {
        let store = StateStore(directory: workspace.stateDirectory)
        if store.running() != nil {
            try await stop(store: store, timeout: timeout)
            return "devstack: stopped"
        }
        let recovered = ProjectLock.isHeld(store.lockFile) ? [] : recoverStale(store)
        return recovered.isEmpty ? "devstack: not running" : (recovered + ["devstack: cleaned up"]).joined(separator: "\n")
    }

    static func stop(store: StateStore, timeout: Duration) async throws {
        guard let record = store.running() else { return }
        try await ControlClient(socket: record.controlSocket).down()
        let deadline = ContinuousClock.now + timeout
        while ProjectLock.isHeld(store.lockFile) {
            guard ContinuousClock.now < deadline else {
                throw SupervisorError(
                    .timeout, "the supervisor (pid \(record.pid)) did not stop within \(DurationParser.format(timeout))", fix: "kill \(record.pid)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// What `up` prints once the stack is ready: where everything is and how to stop it.
enum Summary {
    static func text(_ report: StatusReport, plan: Plan, elapsed: Duration, detached: Bool) -> String {
        let seconds = DurationParser.seconds(elapsed, fractionDigits: 2)
        var lines: [String] = []
        if report.failed.isEmpty {
            lines.append(
                "devstack: \(report.services.count) service\(report.services.count == 1 ? "" : "s") ready in \(seconds) (stack \(plan.stack), profile \(plan.profile.name))"
            )
        } else {
            lines.append("devstack: \(report.failed.map(\.name).joined(separator: ", ")) failed; the rest is up (\(seconds))")
        }
        let width = report.services.map(\.name.count).max() ?? 0
        for service in report.services {
            var line = "  \(service.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(service.phase.rawValue)"
            if let url = plan.service(named: service.name)?.attributes["url"] { line += "  \(url)" }
            lines.append(line)
        }
        if let anon = plan.secrets["anon_key"], plan.services.contains(where: { $0.attributes["anon_key"] != nil }) {
            lines.append("  anon key: \(anon)")
        }
        if let exposure = plan.profile.exposure, !exposure.services.isEmpty {
            lines.append(
                "  exposed on \(exposure.address) over TLS: \(exposure.services.joined(separator: ", ")); clients trust \(exposure.authorityFile) (`devstack ca`)"
            )
        }
        if let machine = plan.profile.machine, plan.instance == nil {
            lines.append("  control API for other machines on \(machine.endpoint) over TLS, with a token (`devstack token create NAME`)")
        }
        lines.append("  logs: \(report.logDirectory)")
        lines.append(detached ? "Stop with `devstack down`." : "Stop with Ctrl-C, or `devstack down` from another terminal.")
        return lines.joined(separator: "\n")
    }
}

/// The background supervisor writes to `supervisor.log` through its standard output and error (the
/// file `up --detach` opened for it): past the profile's `logs.max_size` the file is rotated like a
/// service's, and a new one takes the place of both descriptors.
enum SupervisorLog {
    static let name = "supervisor"

    static func rotateIfNeeded(
        directory: String, rotation: LogRotation, descriptors: [Int32] = [STDOUT_FILENO, STDERR_FILENO]
    ) {
        let path = LogFiles.path(directory: directory, service: name)
        var own = stat()
        var named = stat()
        // Only the file `up --detach` gave it (not a terminal, not a service manager's journal).
        guard let first = descriptors.first, fstat(first, &own) == 0, stat(path, &named) == 0, own.st_ino == named.st_ino,
            own.st_dev == named.st_dev, Int(own.st_size) > rotation.maxBytes
        else { return }
        LogFiles.rotate(directory: directory, service: name, keep: rotation.keep)
        let fresh = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fresh >= 0 else { return }
        for descriptor in descriptors { dup2(fresh, descriptor) }
        close(fresh)
    }
}

// MARK: Reset

extension StackRunner {
    /// Protected profiles reset only with --force; remote ones never.
    public static func checkResetAllowed(_ plan: Plan, force: Bool) throws {
        if plan.profile.remote {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' is remote: devstack never resets it",
                fix: "production data is reset by nobody; reset a local, ci or staging stack instead")
        }
        if plan.profile.protected && !force {
            throw SupervisorError(
                .refused, "profile '\(plan.profile.name)' is protected: a reset would throw away its data",
                fix: "if you really mean it, run `devstack reset --profile \(plan.profile.name) --force`")
        }
    }

    /// Like `withRunningStack`, for work the supervisor does with its own plan (a reset): a running
    /// stack is reached by its lock and socket alone, without planning again or reading its state,
    /// which would be most of a `devstack reset`'s time.
    public static func withSupervisor<T: Sendable>(
        workspace: Workspace, environment: [String: String], drivers: DriverSet, check: (Plan) throws -> Void,
        _ body: @Sendable (ControlClient) async throws -> T
    ) async throws -> (T, startedForThis: Bool) {
        let store = StateStore(directory: workspace.stateDirectory)
        if ProjectLock.isHeld(store.lockFile) { return (try await body(ControlClient(socket: store.controlSocket)), false) }
        return try await withRunningStack(workspace: workspace, environment: environment, drivers: drivers, check: check) { _, record in
            try await body(ControlClient(socket: record.controlSocket))
        }
    }

    /// Runs `body` against a running stack: the running one, or its databases started for the
    /// occasion (and stopped again). Returns the body's result and whether it started them.
    /// `check` runs on the plan before anything is started, and may refuse.
    public static func withRunningStack<T: Sendable>(
        workspace: Workspace, environment: [String: String], drivers: DriverSet, check: (Plan) throws -> Void = { _ in },
        _ body: @Sendable (Plan, SupervisorRecord) async throws -> T
    ) async throws -> (T, startedForThis: Bool) {
        let store = StateStore(directory: workspace.stateDirectory)
        let (plan, running) = try await workspace.planMatchingRunningStack(environment: environment)
        try check(plan)
        if let running { return (try await body(plan, running), false) }
        let databases = plan.services.filter { $0.kind.descriptor.keepsDatabase }.map(\.name)
        let options = UpOptions(
            services: databases, detach: true, waitTimeout: .seconds(120), exitOnFailure: false, isBackgroundSupervisor: false,
            projectArguments: ["--stack", workspace.stack, "--profile", workspace.profile, "--project-dir", workspace.projectDirectory])
        _ = try await runDetached(workspace: workspace, options: options, environment: environment, drivers: drivers)
        do {
            let (started, record) = try await workspace.planMatchingRunningStack(environment: environment)
            guard let record else { throw SupervisorError(.notRunning, "the databases did not stay up") }
            let result = try await body(started, record)
            try await stop(store: store, timeout: .seconds(60))
            return (result, true)
        } catch {
            try? await stop(store: store, timeout: .seconds(60))
            throw error
        }
    }
}

/// Why a running stack stops.
enum ShutdownReason: Sendable, CustomStringConvertible {
    case signal(Int32)
    /// `devstack down`, through the control API.
    case down
    /// With `--exit-on-failure`: the service that failed.
    case serviceFailed(String)

    var description: String {
        switch self {
        case .signal(let number): return signalName(number)
        case .down: return "devstack down"
        case .serviceFailed(let name): return "\(name) failed"
        }
    }
}

/// The plan `up --detach` hands to the background supervisor it starts, on its standard input.
struct HandedPlan: Codable {
    var plan: Plan
    var services: [PlannedService]

    /// What the parent wrote, once it closed the pipe; nil when standard input holds no plan.
    static func read() -> HandedPlan? {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        // Foundation's default coding, which gives back exactly what it was given (keys, names and all).
        return data.isEmpty ? nil : try? JSONDecoder().decode(HandedPlan.self, from: data)
    }
}
