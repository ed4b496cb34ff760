import Foundation

/// Paths the plan is built against.
public struct PlanPaths: Sendable {
    public var projectDirectory: String
    /// Where the devstack executable lives; `${devstack.bin_dir}`.
    public var binDirectory: String
    /// The user's private folder for sockets and throw-away data (chosen and checked by the runtime).
    public var runtimeRoot: String
    /// Another copy of the stack from the same project (`--instance`): its own state, data and free ports.
    public var instance: String?

    public init(projectDirectory: String, binDirectory: String, runtimeRoot: String, instance: String? = nil) {
        self.projectDirectory = projectDirectory
        self.binDirectory = binDirectory
        self.runtimeRoot = runtimeRoot
        self.instance = instance
    }

    public func stackDirectory(_ stack: String) -> String { "\(projectDirectory)/stacks/\(stack)" }
    public func stateDirectory(_ profile: String) -> String {
        "\(projectDirectory)/.devstack/\(profile)" + (instance.map { "@\($0)" } ?? "")
    }

    /// Sockets and throw-away data of one profile: a short path under the user's runtime folder (Unix
    /// socket paths are limited to ~100 bytes, and an unprivileged Postgres must be able to reach it).
    public func runtimeDirectory(_ profile: String) -> String {
        "\(runtimeRoot)/\(StableHash.of(stateDirectory(profile)))"
    }
}

/// Secret values with where each came from.
public struct ResolvedSecrets: Sendable {
    public var values: [String: String]
    public var origins: [String: ValueOrigin]

    public init(values: [String: String] = [:], origins: [String: ValueOrigin] = [:]) {
        self.values = values
        self.origins = origins
    }
}

/// Picks free ports for `ports: auto`; the runtime binds to find them, planning stays pure.
public typealias PortAllocator = @Sendable (_ avoiding: Set<Int>) -> Int?

public struct PlanInputs: Sendable {
    public var project: LoadedProject
    public var environment: [String: String]
    public var secrets: ResolvedSecrets
    public var paths: PlanPaths
    public var portAllocator: PortAllocator?
    /// Ports already in use by a running stack of this profile (kept so `env` matches it under `auto`).
    public var runningPorts: [String: [String: Int]]
    /// Set for a client's plan of a stack that runs on the profile's `host:` machine.
    public var reach: RemoteReach?

    public init(
        project: LoadedProject, environment: [String: String], secrets: ResolvedSecrets, paths: PlanPaths,
        portAllocator: PortAllocator? = nil, runningPorts: [String: [String: Int]] = [:], reach: RemoteReach? = nil
    ) {
        self.reach = reach
        self.project = project
        self.environment = environment
        self.secrets = secrets
        self.paths = paths
        self.portAllocator = portAllocator
        self.runningPorts = runningPorts
    }
}

/// The well-known secret and keys shipped with every local Supabase; never acceptable where it matters.
public enum SupabaseDemo {
    public static let jwtSecret = "super-secret-jwt-token-with-at-least-32-characters-long"
    public static let anonKey =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
    public static let serviceRoleKey =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
}

/// Builds the resolved plan. Pure: everything it needs arrives in `PlanInputs`.
public struct Planner {
    static let defaultRestart = (policy: RestartPolicy.onFailure, backoffMs: 100, maxBackoffMs: 30_000, maxRestarts: 5, windowMs: 60_000)
    static let defaultHealth = (intervalMs: 10_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 60_000)
    static let defaultStopTimeoutMs = 10_000
    /// Secrets a remote profile never wires into a local environment (seeds, rule 2).
    static let productionOnlySecrets: Set = ["jwt_secret", "service_role_key", "postgres_password"]

    /// The profile's `secrets:` entries, interpolated. Only `${env:...}` is allowed there.
    public static func requestedSecrets(
        project: LoadedProject, environment: [String: String]
    ) throws -> [String: (value: String, origin: ValueOrigin)] {
        let profile = project.profile
        let source: SourceText? = project.profileSource
        let diagnostics = DiagnosticCollector()
        var requested: [String: (value: String, origin: ValueOrigin)] = [:]
        for (name, template) in profile.secrets {
            guard let segments = check(template, source: source, diagnostics: diagnostics) else { continue }
            var value = ""
            var fromEnvironment: [String] = []
            var failed = false
            for segment in segments {
                switch segment {
                case .literal(let text): value += text
                case .reference(.environment(let variable, let fallback)):
                    if let found = environment[variable] {
                        value += found
                        fromEnvironment.append(variable)
                    } else if let fallback {
                        value += fallback
                    } else {
                        diagnostics.report(
                            at: template.location, in: source, template.keyPath, "environment variable \(variable) is not set",
                            fix: "export \(variable)=..., or write ${env:\(variable):-default}")
                        failed = true
                    }
                case .reference(let other):
                    diagnostics.report(
                        at: template.location, in: source, template.keyPath, "secrets may only come from the environment, not \(other)",
                        fix: "write ${env:NAME}, or leave the secret out and devstack generates it")
                    failed = true
                }
            }
            // Locally an empty secret means "generate one"; a remote profile keeps what it was given.
            if failed || (value.isEmpty && !profile.remote) { continue }
            if profile.remote, segments.contains(where: { if case .literal = $0 { return true } else { return false } }), fromEnvironment.isEmpty {
                diagnostics.report(
                    at: template.location, in: source, template.keyPath, "a remote profile's secret is written in the file",
                    fix: "never commit production secrets: write ${env:NAME} and keep the value in your vault")
                continue
            }
            let origin =
                fromEnvironment.isEmpty
                ? ValueOrigin(.profile, location: template.location)
                : ValueOrigin(.environment, location: template.location, detail: fromEnvironment.joined(separator: ", "))
            requested[name] = (value, origin)
        }
        if (profile.protected || profile.remote) {
            for (name, demo) in [
                ("jwt_secret", SupabaseDemo.jwtSecret), ("anon_key", SupabaseDemo.anonKey), ("service_role_key", SupabaseDemo.serviceRoleKey),
            ]
            where requested[name]?.value == demo {
                let template = profile.secrets.first { $0.name == name }?.value
                diagnostics.report(
                    at: template?.location ?? profile.location, in: source, "secrets.\(name)",
                    "profile '\(profile.name)' is \(profile.remote ? "remote" : "protected") and refuses the well-known Supabase demo \(name)",
                    fix: "set a secret of your own (at least 32 random bytes: openssl rand -hex 32), or leave it out and devstack generates one")
            }
        }
        // Reading errors go first, so a secret problem never hides them; without secret problems the planner reports them.
        if !diagnostics.isEmpty { throw ConfigError(diagnostics: project.diagnostics + diagnostics.diagnostics) }
        return requested
    }

    let inputs: PlanInputs
    let diagnostics = DiagnosticCollector()
    private var stack: StackSpec { inputs.project.stack }
    private var profile: ProfileSpec { inputs.project.profile }

    public init(inputs: PlanInputs) {
        self.inputs = inputs
        inputs.project.diagnostics.forEach(diagnostics.report)
    }

    /// The settings that trade committed rows for speed (the ci profile's): a protected profile keeps
    /// every committed row through a crash of Postgres or the machine, so it refuses them.
    static let unsafeForDurability: [String: String] = [
        "fsync": "a crash of the machine can corrupt the cluster",
        "full_page_writes": "a crash mid-write can leave torn pages no WAL repairs",
        "synchronous_commit": "rows reported committed are lost when Postgres is killed",
    ]

    private func checkDurability() {
        guard profile.protected && !profile.remote else { return }
        for entry in profile.postgres {
            guard let why = Self.unsafeForDurability[entry.key],
                ["off", "false", "no", "0"].contains(entry.value.description.lowercased())
            else { continue }
            diagnostics.report(
                at: entry.location, in: inputs.project.profileSource, entry.keyPath,
                "profile '\(profile.name)' is protected and refuses \(entry.key) = \(entry.value.description): \(why)",
                fix: "remove it from the profile's postgres settings (it belongs in a throw-away profile such as ci)")
        }
    }

    /// `backups:` needs a postgres service whose data stays: the one named, or the stack's only one.
    private func resolveBackups() -> BackupPolicy? {
        guard let located = profile.backups else { return nil }
        var policy = located.value
        func refuse(_ message: String, fix: String) -> BackupPolicy? {
            diagnostics.report(at: located.location, in: inputs.project.profileSource, located.keyPath, message, fix: fix)
            return nil
        }
        if profile.remote {
            return refuse(
                "profile '\(profile.name)' is remote: its database is not run here, so devstack cannot back it up",
                fix: "remove 'backups:' (the managed service keeps its own backups)")
        }
        if profile.data == .ephemeral {
            return refuse(
                "profile '\(profile.name)' keeps ephemeral data, which goes when the stack stops: there is nothing to back up",
                fix: "use 'data: persistent', or remove 'backups:'")
        }
        let databases = stack.services.filter { $0.kind == .postgres }.map(\.name)
        if let name = policy.service {
            guard databases.contains(name) else {
                return refuse(
                    "backups name service '\(name)', which is not a postgres service of stack '\(stack.name)'",
                    fix: databases.isEmpty ? "add a postgres service" : Suggestion.didYouMean(name, among: databases, noun: "postgres services"))
            }
        } else {
            guard databases.count == 1 else {
                return refuse(
                    databases.isEmpty
                        ? "backups need a postgres service, and stack '\(stack.name)' has none" : "the stack has several postgres services",
                    fix: databases.isEmpty ? "add one, or remove 'backups:'" : "name one: 'service: \(databases[0])'")
            }
            policy.service = databases[0]
        }
        return policy
    }

    /// The stack's smoke checks with their URLs resolved for this profile, and each query's database.
    private func resolveSmoke(context: ResolutionContext) -> [PlannedSmokeCheck] {
        let databases = stack.services.filter { $0.kind == .postgres }.map(\.name)
        return stack.smoke.compactMap { check in
            var planned = PlannedSmokeCheck(name: check.name, contains: check.contains, location: check.location)
            switch check.probe {
            case .http(let method, let url, let status, let body):
                guard let resolved = context.resolve(url, service: nil, source: inputs.project.stackSource) else { return nil }
                (planned.method, planned.url, planned.status, planned.body) = (method, resolved.value, status, body)
            case .sql(let query, let database):
                guard let name = database ?? (databases.count == 1 ? databases[0] : nil), databases.contains(name) else {
                    diagnostics.report(
                        at: check.location, in: inputs.project.stackSource, check.keyPath,
                        database.map { "smoke check '\(check.name)' names database '\($0)', which is not a postgres service of the stack" }
                            ?? "smoke check '\(check.name)' needs 'database:': the stack has \(databases.isEmpty ? "no" : "several") postgres services",
                        fix: databases.isEmpty ? "add a postgres service, or remove the check" : "write database: \(databases[0])")
                    return nil
                }
                (planned.query, planned.database) = (query, name)
            }
            return planned
        }
    }

    /// `expose:`: services of the stack that a kind lets other machines reach, on a profile that runs here.
    private func resolveExposure() -> PlannedExposure? {
        guard let located = profile.expose else { return nil }
        let source = inputs.project.profileSource
        if profile.remote {
            diagnostics.report(
                at: located.location, in: source, located.keyPath, "profile '\(profile.name)' is remote: it runs nothing here to expose",
                fix: "remove 'expose:'")
            return nil
        }
        var names: [String] = []
        for entry in located.value.services {
            guard let service = stack.service(named: entry.value) else {
                if !stack.invalidServices.contains(entry.value) {
                    diagnostics.report(
                        at: entry.location, in: source, entry.keyPath,
                        "expose names service '\(entry.value)', which stack '\(stack.name)' does not have",
                        fix: Suggestion.didYouMean(entry.value, among: stack.services.map(\.name), noun: "services in the stack"))
                }
                continue
            }
            if case .unavailable(let why) = service.kind.descriptor.exposure {
                diagnostics.report(
                    at: entry.location, in: source, entry.keyPath, "\(entry.value) cannot be exposed", fix: why)
                continue
            }
            names.append(entry.value)
        }
        let machine = profile.machine?.value.address
        return PlannedExposure(
            address: located.value.address, services: names, directory: "\(inputs.paths.stateDirectory(profile.name))/tls",
            otherNames: machine.map { $0 == located.value.address ? [] : [$0] } ?? [])
    }

    /// `host:`: a machine that runs the profile must expose what its clients use, and a remote profile runs nowhere devstack knows.
    private func checkMachine() {
        guard let located = profile.machine else { return }
        let source = inputs.project.profileSource
        if profile.remote {
            diagnostics.report(
                at: located.location, in: source, located.keyPath,
                "profile '\(profile.name)' is remote (a managed service): no machine of yours runs it", fix: "remove 'host:' or 'remote: true'")
        } else if profile.expose == nil {
            diagnostics.report(
                at: located.location, in: source, located.keyPath,
                "'host:' needs 'expose:': the machine's clients reach its services through it",
                fix: "add expose: { address: \(located.value.address), services: [db, auth, …] }")
        }
    }

    public func plan() throws -> Plan {
        let ports = planPorts()
        let layers = startLayers()
        let profileValues = resolveProfileValues()
        let remoteURLs = resolveRemoteURLs(profileValues: profileValues)
        var context = ResolutionContext(
            planner: self, ports: ports, profileValues: profileValues, remoteURLs: remoteURLs, attributes: [:])
        context.attributes = Dictionary(uniqueKeysWithValues: stack.services.map { ($0.name, attributes(of: $0, context: context)) })

        var services: [PlannedService] = []
        for name in layers.flatMap({ $0 }) {
            guard let spec = stack.service(named: name) else { continue }
            services.append(planService(spec, context: context))
        }
        let stackEnv = resolveEnv(
            stackEntries: stack.env, profileEntries: profile.envOverrides, service: nil, context: context)
        let postgres = profile.postgres.map {
            PlannedValue(name: $0.key, value: $0.value.description, origin: ValueOrigin(.profile, location: $0.location))
        }
        checkDurability()
        let backups = resolveBackups()
        let exposure = resolveExposure()
        checkMachine()
        let smoke = resolveSmoke(context: context)
        try diagnostics.throwIfAny()
        return Plan(
            stack: stack.name,
            profile: ProfileSummary(
                name: profile.name, file: profile.file, description: profile.description,
                ports: {
                    switch profile.ports?.value {
                    case .auto: return "auto"
                    case .base(let base): return "base \(base)"
                    case nil: return "none"
                    }
                }(), host: profile.host, data: profile.data, protected: profile.protected, remote: profile.remote,
                values: profile.values.compactMap { name, template in
                    profileValues[name].map { PlannedValue(name: name, value: $0, origin: ValueOrigin(.profile, location: template.location)) }
                }, logRotation: profile.logRotation, keepAwake: profile.keepAwake ?? (profile.protected && !profile.remote),
                alertWebhook: profile.alertWebhook, minimumFreeDisk: profile.minimumFreeDisk, backups: backups,
                exposure: exposure, metricsPort: profile.metricsPort,
                environment: profile.resolvedEnvironment, machine: profile.machine?.value, reach: inputs.reach),
            projectDirectory: inputs.paths.projectDirectory,
            stackDirectory: inputs.paths.stackDirectory(stack.name),
            stateDirectory: inputs.paths.stateDirectory(profile.name), instance: inputs.paths.instance,
            runtimeDirectory: inputs.paths.runtimeDirectory(profile.name),
            services: services, smoke: smoke, startLayers: layers, env: stackEnv, postgresSettings: postgres, secrets: inputs.secrets.values)
    }

    // MARK: Ports

    private func planPorts() -> [String: [PlannedPort]] {
        var planned: [String: [PlannedPort]] = [:]
        if profile.remote { return planned }
        var pinned: [Int: (service: String, port: String, location: SourceLocation?)] = [:]
        for service in stack.services {
            for (portName, located) in profile.override(for: service.name)?.ports ?? [:] {
                if let other = pinned[located.value] {
                    diagnostics.report(
                        at: located.location, in: inputs.project.profileSource, located.keyPath,
                        "port \(located.value) is given to both \(other.service).\(other.port) and \(service.name).\(portName)",
                        fix: "give each service its own port")
                }
                pinned[located.value] = (service.name, portName, located.location)
            }
        }
        var used = Set(pinned.keys)
        var next: Int? = {
            if case .base(let base) = profile.ports?.value { return base }
            return nil
        }()
        for service in stack.services {
            var ports: [PlannedPort] = []
            let overrides = profile.override(for: service.name)?.ports ?? [:]
            for portName in service.portNames {
                // An instance runs beside the profile's own stack: pinned and base ports would clash, so all are free ones.
                if let located = overrides[portName], inputs.paths.instance == nil {
                    ports.append(
                        PlannedPort(
                            name: portName, number: located.value, origin: ValueOrigin(.profile, location: located.location, detail: "pinned")))
                    continue
                }
                if let running = inputs.runningPorts[service.name]?[portName] {
                    used.insert(running)
                    ports.append(PlannedPort(name: portName, number: running, origin: ValueOrigin(.derived, detail: "in use by the running stack")))
                    continue
                }
                switch inputs.paths.instance == nil ? profile.ports?.value : .auto {
                case .base:
                    guard var candidate = next else { continue }
                    while used.contains(candidate) { candidate += 1 }
                    used.insert(candidate)
                    next = candidate + 1
                    ports.append(
                        PlannedPort(
                            name: portName, number: candidate, origin: ValueOrigin(.profile, location: profile.ports?.location, detail: "ports.base"))
                    )
                case .auto:
                    guard let allocator = inputs.portAllocator, let free = allocator(used) else {
                        diagnostics.report(
                            at: profile.ports?.location, in: inputs.project.profileSource, "ports",
                            "no free port could be found for \(service.name).\(portName)",
                            fix: "free some ports, or pin this one under services.\(service.name).ports")
                        continue
                    }
                    used.insert(free)
                    ports.append(PlannedPort(name: portName, number: free, origin: ValueOrigin(.generated, detail: "ports: auto")))
                case nil:
                    diagnostics.report(
                        at: profile.location, in: inputs.project.profileSource, "ports",
                        "service \(service.name) needs port '\(portName)' but the profile assigns no ports",
                        fix:
                            "add 'ports: { base: 54321 }' or 'ports: auto' to \(profile.file), or pin it under services.\(service.name).ports.\(portName)"
                    )
                }
            }
            planned[service.name] = ports
        }
        // A companion listens on a port of the service it is part of (a pooler on the database's `pool` port).
        for service in stack.services {
            guard let parent = service.partOf, let shared = service.kind.descriptor.parentPort,
                let port = planned[parent]?.first(where: { $0.name == shared })
            else { continue }
            planned[service.name] = [PlannedPort(name: shared, number: port.number, origin: ValueOrigin(.derived, detail: "\(parent)'s port"))]
        }
        if case .base(let base) = profile.ports?.value, let highest = used.max(), highest > 65535 {
            diagnostics.report(
                at: profile.ports?.location, in: inputs.project.profileSource, "ports.base", "ports from base \(base) run past 65535",
                fix: "choose a lower base")
        }
        return planned
    }

    // MARK: Start order

    /// Kahn's algorithm in stack order; a cycle is reported with its path.
    private func startLayers() -> [[String]] {
        let names = stack.services.map(\.name)
        var remaining = Dictionary(
            uniqueKeysWithValues: stack.services.map { service in
                (service.name, Set(service.dependsOn.map(\.service).filter { names.contains($0) && $0 != service.name }))
            })
        var layers: [[String]] = []
        while !remaining.isEmpty {
            let ready = names.filter { remaining[$0]?.isEmpty == true }
            guard !ready.isEmpty else {
                reportCycle(among: Set(remaining.keys))
                return layers + [names.filter { remaining[$0] != nil }]
            }
            layers.append(ready)
            for name in ready { remaining[name] = nil }
            for key in remaining.keys { remaining[key]?.subtract(ready) }
        }
        return layers
    }

    private func reportCycle(among stuck: Set<String>) {
        // Walk dependencies from any stuck service until one repeats: that loop is the cycle.
        guard let start = stack.services.first(where: { stuck.contains($0.name) })?.name else { return }
        var path = [start]
        var current = start
        while true {
            guard let spec = stack.service(named: current),
                let next = spec.dependsOn.first(where: { stuck.contains($0.service) && $0.service != current })?.service
            else { return }
            if let index = path.firstIndex(of: next) {
                let cycle = Array(path[index...]) + [next]
                let first = stack.service(named: cycle[0])?.dependsOn.first { $0.service == cycle[1] }
                diagnostics.report(
                    at: first?.location, in: inputs.project.stackSource, first?.keyPath ?? "depends_on",
                    "dependency cycle: \(cycle.joined(separator: " → "))",
                    fix: "remove one of these depends_on entries so the services can start in order")
                return
            }
            path.append(next)
            current = next
        }
    }

    // MARK: Services

    private func planService(_ spec: ServiceSpec, context: ResolutionContext) -> PlannedService {
        let override = profile.override(for: spec.name)
        let source = inputs.project.stackSource
        let ports = context.ports[spec.name] ?? []

        var dependencies: [PlannedDependency] = []
        for dependency in spec.dependsOn {
            guard let target = stack.service(named: dependency.service) else {
                if stack.invalidServices.contains(dependency.service) { continue }
                diagnostics.report(
                    at: dependency.location, in: source, dependency.keyPath, "unknown service '\(dependency.service)'",
                    fix: Suggestion.didYouMean(dependency.service, among: stack.services.map(\.name), noun: "services in this stack"))
                continue
            }
            if target.name == spec.name {
                diagnostics.report(
                    at: dependency.location, in: source, dependency.keyPath, "a service cannot depend on itself", fix: "remove this entry")
                continue
            }
            let hasProbe = target.health != nil || target.kind.descriptor.hasBuiltInProbe
            let condition = dependency.condition ?? (hasProbe ? .healthy : .started)
            if condition == .healthy && !hasProbe {
                diagnostics.report(
                    at: dependency.location, in: source, dependency.keyPath,
                    "'\(target.name)' can never be healthy: it has no health check",
                    fix: "add a 'health:' block to \(target.name) (tcp, http or exec), or depend on it with 'started'")
            }
            if condition == .completed {
                let policy = restartPolicy(of: target).policy
                if target.kind != .process {
                    diagnostics.report(
                        at: dependency.location, in: source, dependency.keyPath,
                        "'\(target.name)' is a \(target.kind.rawValue) service and never completes",
                        fix: "depend on it with 'healthy'")
                } else if policy == .always {
                    diagnostics.report(
                        at: dependency.location, in: source, dependency.keyPath, "'\(target.name)' restarts always, so it never completes",
                        fix: "give \(target.name) 'restart: no' or 'on-failure', or depend on it with 'started'")
                }
            }
            dependencies.append(PlannedDependency(service: target.name, condition: condition))
        }

        let workingDirectory: String = {
            guard let template = spec.workingDir, let value = context.resolve(template, service: spec, source: source)?.value else {
                return inputs.paths.projectDirectory
            }
            return absolute(value, relativeTo: inputs.paths.projectDirectory)
        }()

        var command: [String]?
        switch spec.command {
        case .exec(let parts):
            let resolved = parts.compactMap { context.resolve($0, service: spec, source: source)?.value }
            if resolved.count == parts.count { command = resolved }
        case .shell(let template):
            if let line = context.resolve(template, service: spec, source: source)?.value { command = ["/bin/sh", "-c", line] }
        case nil: break
        }

        var settings: [String: PlannedSetting] = [:]
        for entry in spec.settings {
            settings[entry.key] = PlannedSetting(name: entry.key, value: entry.value, origin: ValueOrigin(.stack, location: entry.location))
        }
        for entry in override?.settings ?? [] {
            settings[entry.key] = PlannedSetting(name: entry.key, value: entry.value, origin: ValueOrigin(.profile, location: entry.location))
        }
        validateSettingReferences(spec, settings: settings)

        let restartSpec = restartPolicy(of: spec)
        let restart = PlannedRestart(
            policy: restartSpec.policy,
            initialBackoffMs: Int(restartSpec.spec.initialBackoff?.milliseconds ?? Int64(Self.defaultRestart.backoffMs)),
            maxBackoffMs: Int(restartSpec.spec.maxBackoff?.milliseconds ?? Int64(Self.defaultRestart.maxBackoffMs)),
            maxRestarts: restartSpec.spec.maxRestarts ?? Self.defaultRestart.maxRestarts,
            windowMs: Int(restartSpec.spec.window?.milliseconds ?? Int64(Self.defaultRestart.windowMs)),
            origin: restartSpec.origin)

        let defaultStop = spec.kind.descriptor.defaultStop
        let stop = PlannedStop(
            signal: spec.stop.signal ?? defaultStop.signal,
            timeoutMs: Int(spec.stop.timeout?.milliseconds ?? Int64(Self.defaultStopTimeoutMs)),
            escalation: spec.stop.signal == nil ? defaultStop.escalation : nil)

        let env = resolveEnv(stackEntries: spec.env, profileEntries: override?.env ?? [], service: spec, context: context, envFile: spec.envFile)

        return PlannedService(
            name: spec.name, kind: spec.kind, ports: ports, env: env, command: command, workingDirectory: workingDirectory,
            health: planHealth(spec, ports: ports, context: context), restart: restart, stop: stop, dependsOn: dependencies,
            settings: spec.kind.settingKeys.compactMap { settings[$0.name] }, attributes: context.attributes[spec.name] ?? [:],
            remoteURL: context.remoteURLs[spec.name], restartAfterReset: spec.restartAfterReset,
            fixtures: settings["fixtures"].flatMap { setting in
                inputs.project.fixtures[FilePath.absolute(setting.value.description, relativeTo: inputs.paths.stackDirectory(stack.name))]
            } ?? [], partOf: spec.partOf)
    }

    private func validateSettingReferences(_ spec: ServiceSpec, settings: [String: PlannedSetting]) {
        (spec.kind.descriptor as? any CrossServiceCheck)?.validate(spec, settings: settings, in: self)
    }

    /// A `database:` setting names a database-keeping service of this stack; without one, there must be exactly one.
    func checkDatabaseReference(_ spec: ServiceSpec, settings: [String: PlannedSetting]) {
        guard stack.invalidServices.isEmpty else { return }
        let databases = stack.services.filter { $0.kind.descriptor.keepsDatabase }.map(\.name)
        if case .string(let name)? = settings["database"]?.value {
            if !databases.contains(name) {
                let entry = spec.settings.first { $0.key == "database" }
                diagnostics.report(
                    at: entry?.location ?? spec.location, in: inputs.project.stackSource, entry?.keyPath ?? spec.keyPath,
                    "'\(name)' is not a postgres service of this stack",
                    fix: Suggestion.didYouMean(name, among: databases, noun: "postgres services"))
            }
        } else if databases.count != 1 {
            diagnostics.report(
                at: spec.location, in: inputs.project.stackSource, spec.keyPath,
                databases.isEmpty
                    ? "an auth service needs a postgres service to keep its users in" : "several postgres services: say which one keeps the users",
                fix: databases.isEmpty ? "add a service of kind postgres" : "add 'database: <service>' (one of \(databases.joined(separator: ", ")))")
        }
    }

    private func restartPolicy(of spec: ServiceSpec) -> (policy: RestartPolicy, spec: RestartSpec, origin: ValueOrigin) {
        let merged = (profile.restart ?? RestartSpec()).overlaid(by: spec.restart).overlaid(by: profile.override(for: spec.name)?.restart)
        let policy = merged.policy?.value ?? Self.defaultRestart.policy
        let origin: ValueOrigin = {
            guard let located = merged.policy else { return ValueOrigin(.default) }
            return ValueOrigin(located.location.file == profile.file ? .profile : .stack, location: located.location)
        }()
        return (policy, merged, origin)
    }

    private func planHealth(_ spec: ServiceSpec, ports: [PlannedPort], context: ResolutionContext) -> PlannedHealth? {
        let source = inputs.project.stackSource
        func port(_ located: Located<String>?) -> Int? {
            guard let located else {
                if let first = ports.first { return first.number }
                if !profile.remote {
                    diagnostics.report(
                        at: spec.health?.location ?? spec.location, in: source, "\(spec.keyPath).health", "'\(spec.name)' has no ports to probe",
                        fix: "add 'ports: [http]' to the service, or use an exec probe")
                }
                return nil
            }
            guard let number = ports.first(where: { $0.name == located.value })?.number else {
                if !spec.portNames.contains(located.value) {
                    diagnostics.report(
                        at: located.location, in: source, located.keyPath, "'\(spec.name)' has no port named '\(located.value)'",
                        fix: Suggestion.didYouMean(located.value, among: spec.portNames, noun: "its ports"))
                }
                return nil
            }
            return number
        }
        let probe: PlannedHealth.Probe
        if let health = spec.health {
            switch health.probe {
            case .tcp(let name):
                guard let number = port(name) else { return nil }
                probe = .tcp(port: number)
            case .http(let path, let name):
                guard let number = port(name), let resolved = context.resolve(path, service: spec, source: source) else { return nil }
                probe = .http(port: number, path: resolved.value)
            case .exec(.exec(let parts)):
                let argv = parts.compactMap { context.resolve($0, service: spec, source: source)?.value }
                guard argv.count == parts.count else { return nil }
                probe = .exec(command: argv)
            case .exec(.shell(let template)):
                guard let line = context.resolve(template, service: spec, source: source)?.value else { return nil }
                probe = .exec(command: ["/bin/sh", "-c", line])
            }
        } else if spec.kind.descriptor.hasBuiltInProbe, let first = ports.first {
            probe = .builtIn(kind: spec.kind, port: first.number)
        } else {
            return nil
        }
        let health = spec.health
        return PlannedHealth(
            probe: probe,
            intervalMs: Int(health?.interval?.milliseconds ?? Int64(Self.defaultHealth.intervalMs)),
            timeoutMs: Int(health?.timeout?.milliseconds ?? Int64(Self.defaultHealth.timeoutMs)),
            retries: health?.retries ?? Self.defaultHealth.retries,
            startPeriodMs: Int(health?.startPeriod?.milliseconds ?? Int64(Self.defaultHealth.startPeriodMs)))
    }

    // MARK: Env

    private func resolveEnv(
        stackEntries: [EnvEntry], profileEntries: [EnvEntry], service: ServiceSpec?, context: ResolutionContext, envFile: Located<String>? = nil
    ) -> [PlannedValue] {
        // In first-seen order, found by name in constant time: a stack may set thousands of variables.
        var values: [PlannedValue?] = []
        var positions: [String: Int] = [:]
        func set(_ value: PlannedValue) {
            if let index = positions[value.name] {
                values[index] = value
            } else {
                positions[value.name] = values.count
                values.append(value)
            }
        }
        if let envFile {
            let path = envFile.value
            let full = absolute(path, relativeTo: inputs.paths.stackDirectory(stack.name))
            if let entries = inputs.project.envFiles[full] {
                for (name, value) in entries {
                    set(PlannedValue(name: name, value: value, origin: ValueOrigin(.stack, location: envFile.location, detail: "env_file \(path)")))
                }
            } else {
                diagnostics.report(
                    at: envFile.location, in: inputs.project.stackSource, envFile.keyPath, "env_file '\(path)' does not exist",
                    fix: "create \(full), or remove the env_file key")
            }
        }
        // A profile's `NAME: null` removes the variable before the stack's value is even resolved,
        // so a remote profile can drop what it must never wire.
        let removed = Set(profileEntries.filter { $0.value == nil }.map(\.name))
        for (entries, source, origin) in [
            (stackEntries.filter { !removed.contains($0.name) }, inputs.project.stackSource, ValueOrigin.Source.stack),
            (profileEntries, inputs.project.profileSource, .profile),
        ] {
            for entry in entries {
                guard let template = entry.value else {
                    if let index = positions.removeValue(forKey: entry.name) { values[index] = nil }
                    continue
                }
                guard let resolved = context.resolve(template, service: service, source: source) else { continue }
                set(
                    PlannedValue(
                        name: entry.name, value: resolved.value, origin: ValueOrigin(origin, location: entry.location, detail: resolved.explanation)))
            }
        }
        return values.compactMap { $0 }
    }

    private func resolveProfileValues() -> [String: String] {
        var values: [String: String] = ["name": profile.name]
        for (name, template) in profile.values {
            if let resolved = ResolutionContext.resolveSimple(template, planner: self, source: inputs.project.profileSource, what: "profile values") {
                values[name] = resolved
            }
        }
        return values
    }

    private func resolveRemoteURLs(profileValues: [String: String]) -> [String: String] {
        var urls: [String: String] = [:]
        for override in profile.services {
            guard let template = override.url else { continue }
            if !profile.remote {
                diagnostics.report(
                    at: template.location, in: inputs.project.profileSource, template.keyPath, "'url' is only for remote profiles",
                    fix: "add 'remote: true' to this profile, or remove the url: devstack runs this service itself here")
                continue
            }
            guard
                let value = ResolutionContext.resolveSimple(
                    template, planner: self, source: inputs.project.profileSource, what: "urls", profileValues: profileValues)
            else { continue }
            guard let components = URLComponents(string: value), components.scheme != nil, components.host != nil else {
                diagnostics.report(
                    at: template.location, in: inputs.project.profileSource, template.keyPath, "'\(value)' is not an absolute URL",
                    fix: "write the full address, e.g. https://your-project.supabase.co")
                continue
            }
            urls[override.name] = value
        }
        return urls
    }

    private func attributes(of spec: ServiceSpec, context: ResolutionContext) -> [String: String] {
        if profile.remote {
            guard let url = context.remoteURLs[spec.name], let components = URLComponents(string: url) else { return [:] }
            var attributes = ["url": url, "host": components.host ?? ""]
            let port =
                components.port
                ?? (components.scheme == "https" ? 443 : components.scheme == "postgresql" || components.scheme == "postgres" ? 5432 : 80)
            attributes["port"] = String(port)
            for name in spec.portNames { attributes["port.\(name)"] = String(port) }
            attributes.merge(spec.kind.descriptor.remoteAttributes(components, secrets: inputs.secrets.values)) { _, kind in kind }
            return attributes
        }
        let reach = inputs.reach
        let host = reach?.address ?? ((profile.host == "0.0.0.0" || profile.host == "::") ? "127.0.0.1" : profile.host)
        let ports = context.ports[spec.name] ?? []
        var attributes = ["host": host, "name": spec.name]
        if let first = ports.first { attributes["port"] = String(first.number) }
        for port in ports { attributes["port.\(port.name)"] = String(port.number) }
        let override = profile.override(for: spec.name)
        let inputs = KindAttributeInputs(
            name: spec.name, host: host, ports: ports, baseURL: ports.first.map { "\(reach == nil ? "http" : "https")://\(host):\($0.number)" },
            secrets: self.inputs.secrets.values,
            socketDirectory: "\(self.inputs.paths.runtimeDirectory(profile.name))/\(spec.name)", authorityFile: reach?.authorityFile,
            setting: { key in
                spec.settings.first { $0.key == key }.map(\.value.description)
                    ?? override?.settings.first { $0.key == key }.map(\.value.description)
            })
        attributes.merge(spec.kind.descriptor.attributes(inputs)) { _, kind in kind }
        return attributes
    }

    func absolute(_ path: String, relativeTo base: String) -> String {
        if path.hasPrefix("~/"), let home = inputs.environment["HOME"] { return home + path.dropFirst(1) }
        return FilePath.absolute(path, relativeTo: base)
    }

    static func check(_ template: Template, source: SourceText?, diagnostics: DiagnosticCollector) -> [Template.Segment]? {
        switch template.segments() {
        case .success(let segments): return segments
        case .failure(let error):
            diagnostics.report(at: template.location, in: source, template.keyPath, error.message, fix: error.fix)
            return nil
        }
    }
}
