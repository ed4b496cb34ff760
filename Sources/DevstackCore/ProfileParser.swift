import Foundation

/// Turns `profiles/<name>.yaml` into a `ProfileSpec`, checking its overrides against the stack.
struct ProfileParser {
    let reader: YAMLReader
    let name: String
    let stack: StackSpec?

    static let topLevelKeys = [
        "description", "ports", "host", "data", "protected", "remote", "values", "secrets", "postgres", "restart", "env", "services",
        "audit", "logs", "keep_awake", "alerts", "disk", "backups", "expose", "metrics", "environment",
    ]
    static let overrideKeys = ["env", "settings", "restart", "ports", "url"]

    func parse() -> ProfileSpec? {
        guard let root = reader.root() else { return nil }
        guard let entries = reader.mapping(root, allowed: Self.topLevelKeys) else { return nil }
        var profile = ProfileSpec(name: name, file: reader.source.displayPath, location: root.location)
        for (key, value) in entries {
            switch key {
            case "description": profile.description = reader.string(value)
            case "ports": profile.ports = parsePortMode(value)
            case "host":
                // A mapping names the machine that runs the profile; a bare address is where services listen here.
                if case .mapping = value.node {
                    profile.machine = parseMachine(value).map { Located(value: $0, location: value.location, keyPath: value.path) }
                } else if let host = reader.nonEmptyString(value, what: "an address such as 127.0.0.1") {
                    profile.host = host
                }
            case "data": if let data = reader.oneOf(value, DataMode.self) { profile.data = data }
            case "protected": if let flag = reader.bool(value) { profile.protected = flag }
            case "remote": if let flag = reader.bool(value) { profile.remote = flag }
            case "values": profile.values = parseNamedTemplates(value, what: "value")
            case "secrets": profile.secrets = parseNamedTemplates(value, what: "secret")
            case "postgres": profile.postgres = parsePostgresSettings(value)
            case "restart": profile.restart = parseRestart(value, reader: reader)
            case "env": profile.envOverrides = parseEnv(value, reader: reader, allowRemoval: true)
            case "services": profile.services = parseOverrides(value)
            case "audit": profile.manualChecks = parseManualChecks(value)
            case "logs": profile.logRotation = parseLogRotation(value)
            case "keep_awake": profile.keepAwake = reader.bool(value)
            case "alerts": profile.alertWebhook = parseAlerts(value)
            case "disk": if let bytes = parseMinimumFree(value) { profile.minimumFreeDisk = bytes }
            case "expose": profile.expose = parseExpose(value).map { Located(value: $0, location: value.location, keyPath: value.path) }
            case "environment": profile.environment = reader.oneOf(value, EnvironmentKind.self)
            case "metrics":
                if let entries = reader.mapping(value, allowed: ["port"]), let port = entries.first?.value {
                    profile.metricsPort = reader.int(port, range: 1024...65535)
                }
            case "backups": profile.backups = parseBackups(value).map { Located(value: $0, location: value.location, keyPath: value.path) }
            default: break
            }
        }
        if profile.values.contains(where: { $0.name == "name" }),
            let node = entries.first(where: { $0.key == "values" })?.value
        {
            reader.error(node, "'name' is reserved: ${profile.name} is the profile's own name", fix: "rename the value")
        }
        return profile
    }

    private func parsePortMode(_ node: ConfigNode) -> Located<PortMode>? {
        let fix = "write 'ports: auto' (free ports chosen at start) or 'ports: { base: 54321 }' (fixed, one after another)"
        if case .scalar = node.node {
            if reader.scalarText(node) == "auto" { return Located(value: .auto, location: node.location, keyPath: node.path) }
            reader.error(node, "'\(reader.scalarText(node) ?? "")' is not a port mode", fix: fix)
            return nil
        }
        guard let entries = reader.mapping(node, allowed: ["base"], fix: fix) else { return nil }
        guard let base = entries.first?.value else {
            reader.error(node, "missing 'base'", fix: fix)
            return nil
        }
        return reader.int(base, range: 1024...65000).map { Located(value: .base($0), location: base.location, keyPath: base.path) }
    }

    private func parseNamedTemplates(_ node: ConfigNode, what: String) -> [(name: String, value: Template)] {
        guard let entries = reader.mapping(node) else { return [] }
        return entries.compactMap { key, value in
            guard Naming.isServiceName(key) || Naming.isEnvName(key) else {
                reader.error(value, "'\(key)' is not a valid \(what) name", fix: "use letters, digits and '_'")
                return nil
            }
            guard case .scalar = value.node, !value.isNull else {
                reader.typeError(value, expected: "a string, number or boolean")
                return nil
            }
            return reader.template(value).map { (key, $0) }
        }
    }

    /// `alerts: { webhook: URL }`: where devstack posts an event when something needs a person.
    private func parseAlerts(_ node: ConfigNode) -> String? {
        guard let entries = reader.mapping(node, allowed: ["webhook"]), let value = entries.first?.value else { return nil }
        guard let url = reader.scalarText(value), let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil
        else {
            reader.error(
                value, "'\(reader.scalarText(value) ?? "")' is not an http(s) URL",
                fix: "write the webhook's full URL, e.g. https://hooks.example.com/devstack")
            return nil
        }
        return url
    }

    /// `host: { address: staging.lan, port: 55400 }`: the machine that runs the profile and its control port.
    private func parseMachine(_ node: ConfigNode) -> HostSpec? {
        let fix = "write host: { address: staging.lan, port: \(HostSpec.defaultPort) } (the machine's name or address, and its control port)"
        guard let entries = reader.mapping(node, allowed: ["address", "port"], fix: fix) else { return nil }
        var spec = HostSpec(address: "")
        for (key, value) in entries {
            if key == "address" {
                spec.address = reader.nonEmptyString(value, what: "the machine's name or address") ?? ""
            } else if let port = reader.int(value, range: 1024...65535) {
                spec.port = port
            }
        }
        guard !spec.address.isEmpty else {
            if !entries.contains(where: { $0.key == "address" }) { reader.error(node, "'host' needs an 'address'", fix: fix) }
            return nil
        }
        return spec
    }

    /// `expose: { address: 192.168.1.20, services: [db, auth] }`.
    private func parseExpose(_ node: ConfigNode) -> ExposeSpec? {
        let fix = "write expose: { address: 192.168.1.20, services: [db, auth] } (a LAN or Tailscale address of this machine)"
        guard let entries = reader.mapping(node, allowed: ["address", "services"], fix: fix) else { return nil }
        var address: String?
        var services: [Located<String>] = []
        for (key, value) in entries {
            if key == "address" {
                guard let text = reader.nonEmptyString(value, what: "an address of this machine") else { continue }
                if ["0.0.0.0", "::", "*"].contains(text) {
                    reader.error(
                        value, "'\(text)' would listen on every address of the machine, including ones you did not mean to open",
                        fix: "name the one address other machines use (a LAN or Tailscale address)")
                }
                // Kept even when refused, so the services are checked too and every mistake is told at once.
                address = text
            } else {
                guard let items = reader.sequence(value) else {
                    reader.typeError(value, expected: "a list of service names")
                    continue
                }
                services = items.compactMap { item in
                    reader.nonEmptyString(item, what: "a service name").map { Located(value: $0, location: item.location, keyPath: item.path) }
                }
            }
        }
        guard let address else {
            if entries.contains(where: { $0.key == "address" }) { return nil }
            reader.error(node, "'expose' needs an 'address'", fix: fix)
            return nil
        }
        return ExposeSpec(address: address, services: services)
    }

    /// `backups: { full: weekly, diff: daily, retention: 4, repository: PATH, encrypt: true, service: db }`.
    private func parseBackups(_ node: ConfigNode) -> BackupPolicy? {
        guard let entries = reader.mapping(node, allowed: ["service", "full", "diff", "retention", "repository", "encrypt"]) else { return nil }
        var policy = BackupPolicy()
        let intervalFix = "write weekly, daily, hourly, or a duration of at least a minute such as 12h or 3d"
        for (key, value) in entries {
            switch key {
            case "service": policy.service = reader.nonEmptyString(value, what: "a postgres service's name")
            case "retention": if let count = reader.int(value, range: 1...1000) { policy.retention = count }
            case "repository": policy.repository = reader.nonEmptyString(value, what: "a folder")
            case "encrypt": if let flag = reader.bool(value) { policy.encrypt = flag }
            case "diff" where reader.scalarText(value) == "off" || reader.scalarText(value) == "false": policy.differential = nil
            default:
                guard let text = reader.scalarText(value), let interval = BackupPolicy.interval(text) else {
                    reader.error(
                        value, "'\(reader.scalarText(value) ?? "")' is not a backup interval", fix: intervalFix + (key == "diff" ? ", or off" : ""))
                    continue
                }
                if key == "full" { policy.full = interval } else { policy.differential = interval }
            }
        }
        return policy
    }

    /// `disk: { min_free: 1GB }`.
    private func parseMinimumFree(_ node: ConfigNode) -> Int? {
        guard let entries = reader.mapping(node, allowed: ["min_free"]), let value = entries.first?.value else { return nil }
        guard let text = reader.scalarText(value), let bytes = ByteSize.parse(text) else {
            reader.error(value, "'\(reader.scalarText(value) ?? "")' is not a size", fix: "write a size such as 512MB, 1GB or 10GB")
            return nil
        }
        return bytes
    }

    /// `logs: { max_size: 10MB, keep: 5 }`.
    private func parseLogRotation(_ node: ConfigNode) -> LogRotation {
        var rotation = LogRotation()
        guard let entries = reader.mapping(node, allowed: ["max_size", "keep"]) else { return rotation }
        for (key, value) in entries {
            if key == "keep" {
                if let keep = reader.int(value, range: 0...1000) { rotation.keep = keep }
                continue
            }
            guard let text = reader.scalarText(value), let bytes = ByteSize.parse(text), bytes >= 4096 else {
                reader.error(
                    value, "'\(reader.scalarText(value) ?? "")' is not a log size of at least 4KB", fix: "write a size such as 512KB, 10MB or 1GB")
                continue
            }
            rotation.maxBytes = bytes
        }
        return rotation
    }

    /// `audit: { incident_plan: { by, on, link }, ... }`: what `devstack audit` cannot check, recorded as done.
    private func parseManualChecks(_ node: ConfigNode) -> [ManualCheckRecord] {
        let names = ManualCheck.allCases.map(\.rawValue)
        guard let entries = reader.mapping(node, allowed: names) else { return [] }
        return entries.compactMap { key, value in
            let fix = "write { by: who, on: YYYY-MM-DD, link: where the evidence is }"
            guard let check = ManualCheck(rawValue: key), let fields = reader.mapping(value, allowed: ["by", "on", "link"], fix: fix) else {
                return nil
            }
            var record = ManualCheckRecord(check: check)
            for (field, text) in fields {
                let string = reader.nonEmptyString(text, what: field == "on" ? "a date" : "a name or link")
                switch field {
                case "by": record.by = string
                case "on": record.on = string
                default: record.link = string
                }
            }
            guard record.by != nil, record.on != nil else {
                reader.error(value, "'audit.\(key)' needs 'by' and 'on'", fix: fix)
                return nil
            }
            return record
        }
    }

    private func parsePostgresSettings(_ node: ConfigNode) -> [SettingEntry] {
        guard let entries = reader.mapping(node, expected: "a mapping of Postgres settings (passed as -c name=value)") else { return [] }
        return entries.compactMap { key, value in
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                reader.error(value, "'\(key)' is not a Postgres setting name", fix: "see SHOW ALL in psql for the names")
                return nil
            }
            guard case .scalar = value.node, !value.isNull, let text = reader.scalarText(value) else {
                reader.typeError(value, expected: "a string, number or boolean")
                return nil
            }
            return SettingEntry(key: key, value: .string(text), location: value.location, keyPath: value.path)
        }
    }

    private func parseOverrides(_ node: ConfigNode) -> [ServiceOverride] {
        guard let entries = reader.mapping(node, expected: "a mapping of service names to overrides") else { return [] }
        var overrides: [ServiceOverride] = []
        for (serviceName, value) in entries {
            let service = stack?.service(named: serviceName)
            if let stack, service == nil, !stack.invalidServices.contains(serviceName) {
                reader.error(
                    value.atKey, "the profile overrides service '\(serviceName)', which stack '\(stack.name)' does not have",
                    fix: Suggestion.didYouMean(serviceName, among: stack.services.map(\.name), noun: "services in the stack"))
                continue
            }
            guard let fields = reader.mapping(value, allowed: Self.overrideKeys) else { continue }
            var override = ServiceOverride(name: serviceName, location: value.location, keyPath: value.path)
            for (key, field) in fields {
                switch key {
                case "env": override.env = parseEnv(field, reader: reader, allowRemoval: true)
                case "restart": override.restart = parseRestart(field, reader: reader)
                case "url": override.url = reader.template(field)
                case "ports": override.ports = parsePinnedPorts(field, service: service)
                case "settings": override.settings = parseSettings(field, service: service)
                default: break
                }
            }
            overrides.append(override)
        }
        return overrides
    }

    private func parsePinnedPorts(_ node: ConfigNode, service: ServiceSpec?) -> [String: Located<Int>] {
        guard let entries = reader.mapping(node, expected: "a mapping of port names to numbers") else { return [:] }
        var ports: [String: Located<Int>] = [:]
        for (portName, value) in entries {
            if let service, !service.portNames.contains(portName) {
                reader.error(
                    value, "service '\(service.name)' has no port named '\(portName)'",
                    fix: Suggestion.didYouMean(portName, among: service.portNames, noun: "its ports"))
                continue
            }
            if let number = reader.int(value, range: 1...65535) {
                ports[portName] = Located(value: number, location: value.location, keyPath: value.path)
            }
        }
        return ports
    }

    private func parseSettings(_ node: ConfigNode, service: ServiceSpec?) -> [SettingEntry] {
        guard let service else { return [] }
        let keys = service.kind.settingKeys
        guard !keys.isEmpty else {
            reader.error(node, "a \(service.kind.rawValue) service has no settings", fix: "override 'env' or 'restart' instead")
            return []
        }
        guard let entries = reader.mapping(node, allowed: keys.map(\.name)) else { return [] }
        return entries.compactMap { key, value in
            guard let settingKey = keys.first(where: { $0.name == key }), let setting = reader.setting(value, settingKey) else { return nil }
            return SettingEntry(key: key, value: setting, location: value.location, keyPath: value.path)
        }
    }
}
