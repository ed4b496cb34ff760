import Foundation

/// Turns `stack.yaml` into a `StackSpec`, reporting every mistake it finds.
struct StackParser {
    let reader: YAMLReader
    let name: String
    let directory: String

    func parse() -> StackSpec? {
        guard let root = reader.root() else { return nil }
        guard
            let entries = reader.mapping(
                root, allowed: ["name", "description", "env", "services", "smoke"], expected: "a mapping with a 'services' key")
        else { return nil }
        var stack = StackSpec(name: name, file: reader.source.displayPath, directory: directory, services: [])
        for (key, value) in entries {
            switch key {
            case "description": stack.description = reader.string(value)
            case "name": _ = reader.string(value)
            case "env": stack.env = parseEnv(value, reader: reader, allowRemoval: false)
            case "smoke": stack.smoke = parseSmoke(value)
            case "services":
                guard let services = reader.mapping(value, expected: "a mapping of service names to services") else { continue }
                if services.isEmpty { reader.error(value, "the stack has no services", fix: "add at least one service") }
                for (serviceName, serviceNode) in services {
                    if let service = parseService(serviceName, serviceNode) {
                        stack.services.append(service)
                        stack.services += service.kind.descriptor.companions(of: service)
                    } else {
                        stack.invalidServices.insert(serviceName)
                    }
                }
            default: break
            }
        }
        if !entries.contains(where: { $0.key == "services" }) {
            reader.error(root, "missing required key 'services'", fix: "add a 'services:' mapping; `devstack init` writes a working example")
        }
        return stack
    }

    /// `smoke: { NAME: { url, method, status, body, contains } | { sql, database, contains } }`.
    private func parseSmoke(_ node: ConfigNode) -> [SmokeCheckSpec] {
        let fix = "write NAME: { url: ${gateway.url}/health, status: 200 } or NAME: { sql: select 1 }"
        guard let checks = reader.mapping(node, expected: "a mapping of check names to checks") else { return [] }
        return checks.compactMap { name, value in
            guard let fields = reader.mapping(value, allowed: ["url", "method", "status", "body", "contains", "sql", "database"], fix: fix) else {
                return nil
            }
            let field = { (key: String) in fields.first { $0.key == key }?.value }
            let contains = field("contains").flatMap { reader.string($0) }
            if let query = field("sql") {
                if let other = ["url", "method", "status", "body"].first(where: { field($0) != nil }) {
                    reader.error(value, "check '\(name)' has both 'sql' and '\(other)'", fix: "a check is one HTTP request or one query")
                    return nil
                }
                guard let text = reader.nonEmptyString(query, what: "a SQL query") else { return nil }
                let database = field("database").flatMap { reader.nonEmptyString($0, what: "a postgres service's name") }
                return SmokeCheckSpec(
                    name: name, probe: .sql(query: text, database: database), contains: contains, location: value.location, keyPath: value.path)
            }
            guard let urlNode = field("url"), let url = reader.template(urlNode) else {
                if field("url") == nil { reader.error(value, "check '\(name)' needs 'url' or 'sql'", fix: fix) }
                return nil
            }
            let method = field("method").flatMap { reader.nonEmptyString($0, what: "an HTTP method") }?.uppercased() ?? "GET"
            guard method.allSatisfy({ $0.isLetter }) else {
                reader.error(field("method")!, "'\(method)' is not an HTTP method", fix: "write GET, HEAD, POST, PUT, PATCH or DELETE")
                return nil
            }
            let status = field("status").flatMap { reader.int($0, range: 100...599) } ?? 200
            let body = field("body").flatMap { reader.string($0) }
            return SmokeCheckSpec(
                name: name, probe: .http(method: method, url: url, status: status, body: body), contains: contains, location: value.location,
                keyPath: value.path)
        }
    }

    private func parseService(_ name: String, _ node: ConfigNode) -> ServiceSpec? {
        if !Naming.isServiceName(name) {
            reader.error(
                node.atKey, "'\(name)' is not a valid service name",
                fix:
                    "use lowercase letters, digits, '-' and '_', starting with a letter; 'self', 'env', 'profile', 'secret' and 'devstack' are reserved"
            )
        }
        guard let entries = reader.mapping(node) else { return nil }
        guard let kindNode = entries.first(where: { $0.key == "kind" })?.value else {
            reader.error(
                node.atKey, "missing required key 'kind'",
                fix: "add 'kind:' with one of \(ServiceKind.declarable.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        guard let kind = reader.oneOf(kindNode, ServiceKind.self) else { return nil }
        guard kind.descriptor.declarable else {
            reader.error(
                kindNode, "kind \(kind.rawValue) is added by devstack, not written in a stack",
                fix: "for a connection pooler, set 'pool: true' on the postgres service")
            return nil
        }
        var service = ServiceSpec(name: name, kind: kind, location: node.location, keyPath: node.path)
        let allowed = kind.allowedKeys
        for (key, value) in entries {
            guard allowed.contains(key) else {
                if let owner = ServiceKind.owner(ofKey: key) {
                    reader.error(
                        value.atKey, "key '\(key)' belongs to kind \(owner.rawValue), not \(kind.rawValue)",
                        fix: "remove it, or change this service's kind")
                } else {
                    reader.error(
                        value.atKey, "unknown key '\(key)'",
                        fix: Suggestion.didYouMean(key, among: allowed, noun: "keys of a \(kind.rawValue) service"))
                }
                continue
            }
            switch key {
            case "kind": break
            case "description": service.description = reader.string(value)
            case "depends_on": service.dependsOn = parseDependencies(value)
            case "ports": service.ports = parsePorts(value)
            case "env": service.env = parseEnv(value, reader: reader, allowRemoval: false)
            case "env_file":
                service.envFile = reader.nonEmptyString(value, what: "a path").map {
                    Located(value: $0, location: value.location, keyPath: value.path)
                }
            case "health": service.health = parseHealth(value)
            case "restart": service.restart = parseRestart(value, reader: reader)
            case "stop": service.stop = parseStop(value)
            case "working_dir": service.workingDir = reader.template(value)
            case "command": service.command = parseCommand(value)
            case "restart_after_reset": service.restartAfterReset = reader.bool(value) ?? false
            default:
                if let settingKey = kind.settingKeys.first(where: { $0.name == key }), let setting = reader.setting(value, settingKey) {
                    service.settings.append(SettingEntry(key: key, value: setting, location: value.location, keyPath: value.path))
                }
            }
        }
        for required in kind.settingKeys where required.required && !entries.contains(where: { $0.key == required.name }) {
            reader.error(
                node.atKey, "missing required key '\(required.name)' for \(kind.descriptor.article) \(kind.rawValue) service",
                fix: "add '\(required.name):' (\(required.summary))")
        }
        if kind.descriptor.takesCommand && service.command == nil && entries.contains(where: { $0.key == "kind" }) {
            reader.error(
                node.atKey, "missing required key 'command' for a process service",
                fix: "add 'command:' as a list ([\"./server\", \"--port\", \"${self.port}\"]) or a shell string")
        }
        return service
    }

    private func parseDependencies(_ node: ConfigNode) -> [DependencySpec] {
        if let items = reader.sequence(node) {
            return items.compactMap { item in
                reader.string(item).map { DependencySpec(service: $0, condition: nil, location: item.location, keyPath: item.path) }
            }
        }
        guard let entries = reader.mapping(node, expected: "a list of services, or a mapping of service to condition") else { return [] }
        return entries.compactMap { name, value in
            var conditionNode = value
            if case .mapping = value.node {
                guard let inner = reader.mapping(value, allowed: ["condition"]), let condition = inner.first?.value else {
                    reader.error(value, "missing 'condition'", fix: "write \(name): healthy (or started, completed)")
                    return nil
                }
                conditionNode = condition
            }
            guard let condition = reader.oneOf(conditionNode, DependencyCondition.self) else { return nil }
            return DependencySpec(service: name, condition: condition, location: value.location, keyPath: value.path)
        }
    }

    private func parsePorts(_ node: ConfigNode) -> [Located<String>] {
        guard let items = reader.stringList(node) else { return [] }
        var seen = Set<String>()
        var ports: [Located<String>] = []
        for (name, item) in items {
            guard Naming.isPortName(name) else {
                reader.error(
                    item, "'\(name)' is not a valid port name",
                    fix: "ports are named, e.g. [http, metrics]; numbers are set per profile under services.NAME.ports")
                continue
            }
            guard seen.insert(name).inserted else {
                reader.error(item, "port '\(name)' is listed twice", fix: "remove the duplicate")
                continue
            }
            ports.append(Located(value: name, location: item.location, keyPath: item.path))
        }
        return ports
    }

    private func parseHealth(_ node: ConfigNode) -> HealthSpec? {
        let keys = ["tcp", "http", "exec", "port", "interval", "timeout", "retries", "start_period"]
        guard let entries = reader.mapping(node, allowed: keys) else { return nil }
        let probeKeys = entries.filter { ["tcp", "http", "exec"].contains($0.key) }
        guard probeKeys.count == 1, let probeEntry = probeKeys.first else {
            reader.error(
                node,
                probeKeys.isEmpty
                    ? "a health check needs a probe" : "a health check has one probe, found \(probeKeys.map(\.key).joined(separator: " and "))",
                fix: "use exactly one of tcp: <port name>, http: /path or exec: [command]")
            return nil
        }
        let port = entries.first { $0.key == "port" }.flatMap { entry in
            reader.string(entry.value).map { Located(value: $0, location: entry.value.location, keyPath: entry.value.path) }
        }
        let probe: ProbeSpec
        switch probeEntry.key {
        case "tcp":
            if case .scalar(let scalar) = probeEntry.value.node, let enabled = scalar.plainBool {
                if !enabled { reader.error(probeEntry.value, "tcp: false disables nothing", fix: "remove the health block instead") }
                probe = .tcp(port: port)
            } else if let name = reader.string(probeEntry.value) {
                probe = .tcp(port: Located(value: name, location: probeEntry.value.location, keyPath: probeEntry.value.path))
            } else {
                return nil
            }
        case "http":
            guard let path = reader.template(probeEntry.value) else { return nil }
            if !path.raw.hasPrefix("/") {
                reader.error(probeEntry.value, "the http probe path must start with '/'", fix: "write http: /\(path.raw)")
            }
            probe = .http(path: path, port: port)
        default:
            guard let command = parseCommand(probeEntry.value) else { return nil }
            probe = .exec(command)
        }
        var health = HealthSpec(probe: probe, location: node.location)
        for (key, value) in entries {
            switch key {
            case "interval": health.interval = reader.duration(value)
            case "timeout": health.timeout = reader.duration(value)
            case "start_period": health.startPeriod = reader.duration(value)
            case "retries": health.retries = reader.int(value, range: 1...1000)
            default: break
            }
        }
        return health
    }

    private func parseStop(_ node: ConfigNode) -> StopSpec {
        var stop = StopSpec()
        guard let entries = reader.mapping(node, allowed: ["signal", "timeout"]) else { return stop }
        for (key, value) in entries {
            if key == "timeout" { stop.timeout = reader.duration(value) }
            if key == "signal", let text = reader.string(value) {
                let bare = text.uppercased().hasPrefix("SIG") ? String(text.uppercased().dropFirst(3)) : text.uppercased()
                if let signal = StopSignal(rawValue: bare) {
                    stop.signal = signal
                } else {
                    reader.error(
                        value, "'\(text)' is not a stop signal", fix: "use one of \(StopSignal.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
        }
        return stop
    }

    private func parseCommand(_ node: ConfigNode) -> CommandSpec? {
        if let items = reader.sequence(node) {
            guard !items.isEmpty else {
                reader.error(
                    node, "the command is empty", fix: "give the program and its arguments, e.g. [\"./server\", \"--port\", \"${self.port}\"]")
                return nil
            }
            let parts = items.compactMap { reader.template($0) }
            return parts.count == items.count ? .exec(parts) : nil
        }
        guard case .scalar = node.node else {
            reader.typeError(node, expected: "a list (exec'd as is) or a string (run by /bin/sh -c)")
            return nil
        }
        guard let template = reader.template(node) else { return nil }
        if template.raw.trimmingCharacters(in: .whitespaces).isEmpty {
            reader.error(node, "the command is empty", fix: "give a command line to run with /bin/sh -c")
            return nil
        }
        return .shell(template)
    }
}

/// Parts shared by stack and profile files.
func parseEnv(_ node: ConfigNode, reader: YAMLReader, allowRemoval: Bool) -> [EnvEntry] {
    guard let entries = reader.mapping(node, expected: "a mapping of variable names to values") else { return [] }
    return entries.compactMap { name, value in
        guard Naming.isEnvName(name) else {
            reader.error(value, "'\(name)' is not a valid environment variable name", fix: "use letters, digits and '_', not starting with a digit")
            return nil
        }
        if value.isNull {
            if allowRemoval { return EnvEntry(name: name, value: nil, location: value.location) }
            reader.error(value, "\(name) has no value", fix: "write \(name): \"\" for an empty value")
            return nil
        }
        guard case .scalar = value.node else {
            reader.typeError(value, expected: "a string, number or boolean", fix: "environment values are single strings; quote it")
            return nil
        }
        return reader.template(value).map { EnvEntry(name: name, value: $0, location: value.location) }
    }
}

func parseRestart(_ node: ConfigNode, reader: YAMLReader) -> RestartSpec {
    var restart = RestartSpec()
    if case .scalar = node.node {
        if let policy = reader.oneOf(node, RestartPolicy.self) {
            restart.policy = Located(value: policy, location: node.location, keyPath: node.path)
        }
        return restart
    }
    let keys = ["policy", "backoff", "max_backoff", "max_restarts", "window"]
    guard let entries = reader.mapping(node, allowed: keys, expected: "a policy (no, on-failure, always) or a mapping") else {
        return restart
    }
    for (key, value) in entries {
        switch key {
        case "policy":
            if let policy = reader.oneOf(value, RestartPolicy.self) {
                restart.policy = Located(value: policy, location: value.location, keyPath: value.path)
            }
        case "backoff": restart.initialBackoff = reader.duration(value)
        case "max_backoff": restart.maxBackoff = reader.duration(value)
        case "max_restarts": restart.maxRestarts = reader.int(value, range: 1...10_000)
        case "window": restart.window = reader.duration(value)
        default: break
        }
    }
    return restart
}

enum Naming {
    static let reservedServiceNames: Set = ["self", "env", "profile", "secret", "devstack"]

    static func isServiceName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLowercase else { return false }
        return !reservedServiceNames.contains(name)
            && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "_" }
    }

    static func isPortName(_ name: String) -> Bool { isServiceName(name) }

    /// `[A-Za-z_][A-Za-z0-9_]*`, checked on bytes: asked of every variable, and Character's Unicode
    /// properties cost a sixth of validating a large stack.
    static func isEnvName(_ name: String) -> Bool {
        func letter(_ byte: UInt8) -> Bool { (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95 }
        var bytes = name.utf8.makeIterator()
        guard let first = bytes.next(), letter(first) else { return false }
        while let byte = bytes.next() {
            guard letter(byte) || (byte >= 48 && byte <= 57) else { return false }
        }
        return true
    }
}
