import Foundation

/// The human form of a plan, for `devstack config`.
public struct PlanRenderer {
    public var explain: Bool
    public var revealSecrets: Bool
    /// Values never printed unless asked: the plan's secrets.
    public var secretValues: Set<String>

    public init(explain: Bool, revealSecrets: Bool, secretValues: Set<String>) {
        self.explain = explain
        self.revealSecrets = revealSecrets
        self.secretValues = secretValues
    }

    public func render(_ plan: Plan) -> String {
        var lines: [String] = []
        let profile = plan.profile
        var flags = ["ports \(profile.ports)", "data \(profile.data.rawValue)"]
        if profile.protected { flags.append("protected") }
        if profile.remote { flags.append("remote") }
        lines.append("stack \(plan.stack) · profile \(profile.name) (\(profile.file)) · \(flags.joined(separator: " · "))")
        lines.append("state: \(plan.stateDirectory)")
        lines.append("start order: " + plan.startLayers.map { $0.joined(separator: ", ") }.joined(separator: " → "))
        if !profile.values.isEmpty {
            lines.append("values:")
            lines += profile.values.map { "  \(line(for: $0))" }
        }
        if !plan.postgresSettings.isEmpty {
            lines.append("postgres settings:")
            lines += plan.postgresSettings.map { "  \(line(for: $0))" }
        }
        for service in plan.services {
            lines.append("")
            lines.append("\(service.name) (\(service.kind.rawValue))" + (service.remoteURL.map { " at \($0)" } ?? ""))
            if !service.ports.isEmpty {
                let ports = service.ports.map { "\($0.name)=\($0.number)" + (explain ? " [\($0.origin)]" : "") }
                lines.append("  ports: " + ports.joined(separator: ", "))
            }
            if let url = service.attributes["url"], service.remoteURL == nil { lines.append("  url: \(mask(url))") }
            if !service.dependsOn.isEmpty {
                lines.append("  depends on: " + service.dependsOn.map { "\($0.service) (\($0.condition.rawValue))" }.joined(separator: ", "))
            }
            if let command = service.command {
                lines.append("  command: " + command.map { EnvFormat.shellQuoted(mask($0)) }.joined(separator: " "))
                lines.append("  working dir: \(service.workingDirectory)")
            }
            if let health = service.health { lines.append("  health: \(describe(health))") }
            let restart = service.restart
            lines.append(
                "  restart: \(restart.policy.rawValue), backoff \(restart.initialBackoffMs)ms up to \(restart.maxBackoffMs)ms, failed after \(restart.maxRestarts) in \(restart.windowMs)ms"
                    + (explain ? " [\(restart.origin)]" : ""))
            lines.append(
                "  stop: SIG\(service.stop.signal.rawValue)" + (service.stop.escalation.map { ", then SIG\($0.rawValue)" } ?? "")
                    + ", then SIGKILL, \(service.stop.timeoutMs)ms apart")
            if !service.settings.isEmpty {
                lines.append("  settings:")
                lines += service.settings.map { "    \($0.name)=\($0.value)" + (explain ? " [\($0.origin)]" : "") }
            }
            if !service.env.isEmpty {
                lines.append("  env:")
                lines += service.env.map { "    \(line(for: $0))" }
            }
        }
        if !plan.env.isEmpty {
            lines.append("")
            lines.append("env for other tools (devstack env, devstack exec):")
            lines += plan.env.map { "  \(line(for: $0))" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The plan as JSON (snake_case keys), secrets masked unless revealed.
    public func json(_ plan: Plan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let text = String(decoding: (try? encoder.encode(plan)) ?? Data(), as: UTF8.self)
        return mask(text) + "\n"
    }

    private func line(for value: PlannedValue) -> String {
        "\(value.name)=\(mask(value.value))" + (explain ? "  [\(value.origin)]" : "")
    }

    /// Replaces every secret inside `text`, so URLs with passwords are masked too.
    func mask(_ text: String) -> String {
        guard !revealSecrets else { return text }
        var masked = text
        for secret in secretValues where secret.count >= 8 {
            masked = masked.replacingOccurrences(of: secret, with: "•••\(secret.suffix(4))")
        }
        return masked
    }

    private func describe(_ health: PlannedHealth) -> String {
        let probe: String
        switch health.probe {
        case .tcp(let port): probe = "tcp \(port)"
        case .http(let port, let path): probe = "http GET :\(port)\(path)"
        case .exec(let command): probe = "exec " + command.map(EnvFormat.shellQuoted).joined(separator: " ")
        case .builtIn(let kind, let port): probe = "built-in \(kind.rawValue) check on \(port)"
        }
        return
            "\(probe), every \(health.intervalMs)ms once ready, timeout \(health.timeoutMs)ms, \(health.retries) retries, \(health.startPeriodMs)ms to start"
    }
}
