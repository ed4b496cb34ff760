import Foundation

/// Resolves `${...}` references against everything the planner has worked out.
struct ResolutionContext {
    let planner: Planner
    let ports: [String: [PlannedPort]]
    let profileValues: [String: String]
    let remoteURLs: [String: String]
    var attributes: [String: [String: String]]

    static func knownAttributes(of kind: ServiceKind) -> [String] { ["host", "port", "name"] + kind.descriptor.attributeNames }

    private var diagnostics: DiagnosticCollector { planner.diagnostics }
    private var inputs: PlanInputs { planner.inputs }

    func resolve(_ template: Template, service: ServiceSpec?, source: SourceText?) -> (value: String, explanation: String)? {
        guard let segments = Planner.check(template, source: source, diagnostics: diagnostics) else { return nil }
        var value = ""
        var notes: [String] = []
        var failed = false
        for segment in segments {
            switch segment {
            case .literal(let text): value += text
            case .reference(let reference):
                guard let (resolved, note) = lookUp(reference, service: service, template: template, source: source) else {
                    failed = true
                    continue
                }
                value += resolved
                notes.append(note)
            }
        }
        return failed ? nil : (value, notes.joined(separator: "; "))
    }

    /// For places that cannot see services: profile values and remote URLs.
    static func resolveSimple(
        _ template: Template, planner: Planner, source: SourceText?, what: String, profileValues: [String: String]? = nil
    ) -> String? {
        let context = ResolutionContext(planner: planner, ports: [:], profileValues: profileValues ?? [:], remoteURLs: [:], attributes: [:])
        for reference in template.references {
            let allowed: Bool
            switch reference {
            case .environment, .secret, .devstack: allowed = true
            case .profileValue: allowed = profileValues != nil
            case .service: allowed = false
            }
            if !allowed {
                planner.diagnostics.report(
                    at: template.location, in: source, template.keyPath, "\(reference) cannot be used in \(what)",
                    fix: "\(what) may use ${env:NAME}, ${secret.NAME} and ${devstack.NAME}")
                return nil
            }
        }
        return context.resolve(template, service: nil, source: source)?.value
    }

    /// "derived from db: port from profiles/local.yaml:14:24 (pinned); postgres_password generated (local/secrets)".
    private func explain(_ attribute: String, of target: ServiceSpec) -> String {
        var parts: [String] = []
        let usesPort = ["url", "port"].contains(attribute) || attribute.hasPrefix("port.")
        if usesPort,
            let port = attribute.hasPrefix("port.") ? ports[target.name]?.first(where: { "port.\($0.name)" == attribute }) : ports[target.name]?.first
        {
            parts.append("port \(port.number) from \(port.origin)")
        }
        if let secret = target.kind.descriptor.secret(behind: attribute), let origin = inputs.secrets.origins[secret] {
            parts.append("\(secret) \(origin)")
        }
        if let url = remoteURLs[target.name], attribute == "url" { parts.append("remote url \(url)") }
        return "${\(target.name).\(attribute)} derived" + (parts.isEmpty ? "" : ": " + parts.joined(separator: "; "))
    }

    private func fail(_ template: Template, _ source: SourceText?, _ message: String, fix: String?) -> (String, String)? {
        diagnostics.report(at: template.location, in: source, template.keyPath, message, fix: fix)
        return nil
    }

    private func lookUp(_ reference: Reference, service: ServiceSpec?, template: Template, source: SourceText?) -> (String, String)? {
        let profile = inputs.project.profile
        switch reference {
        case .environment(let name, let fallback):
            if let value = inputs.environment[name] { return (value, "\(reference) from the environment") }
            if let fallback { return (fallback, "\(reference) default, \(name) unset") }
            return fail(template, source, "environment variable \(name) is not set", fix: "export \(name)=..., or write ${env:\(name):-default}")
        case .profileValue(let name):
            if let value = profileValues[name] { return (value, "\(reference) from \(profile.file)") }
            return fail(
                template, source, "profile '\(profile.name)' has no value '\(name)'",
                fix: "add it under 'values:' in \(profile.file); " + Suggestion.didYouMean(name, among: Array(profileValues.keys), noun: "values"))
        case .secret(let name):
            if profile.remote && profile.resolvedEnvironment == .production && Planner.productionOnlySecrets.contains(name) {
                return fail(
                    template, source, "\(reference) is a production secret, and production profiles never wire those into a local environment",
                    fix: "remove this variable in the profile (NAME: null); production secrets stay in the vault")
            }
            if let value = inputs.secrets.values[name] {
                return (value, "\(reference) \(inputs.secrets.origins[name]?.description ?? "")")
            }
            return fail(
                template, source, "unknown secret '\(name)'",
                fix: "declare it under 'secrets:' in \(profile.file); "
                    + Suggestion.didYouMean(
                        name, among: Array(Set(inputs.secrets.values.keys).union(BuiltInSecret.allCases.map(\.rawValue))), noun: "secrets"))
        case .devstack(let name):
            let paths = inputs.paths
            let known = [
                "bin_dir": paths.binDirectory, "project_dir": paths.projectDirectory,
                "stack_dir": paths.stackDirectory(inputs.project.stack.name), "state_dir": paths.stateDirectory(profile.name),
            ]
            if let value = known[name] { return (value, "\(reference)") }
            return fail(
                template, source, "devstack has no '\(name)'", fix: Suggestion.didYouMean(name, among: Array(known.keys), noun: "known paths"))
        case .service(let name, let attribute):
            let targetName: String
            if name == "self" {
                guard let service else {
                    return fail(template, source, "${self...} only works inside a service", fix: "name the service, e.g. ${db.url}")
                }
                targetName = service.name
            } else {
                targetName = name
            }
            let stack = inputs.project.stack
            guard let target = stack.service(named: targetName) else {
                if stack.invalidServices.contains(targetName) { return nil }
                return fail(
                    template, source, "\(reference) refers to unknown service '\(targetName)'",
                    fix: Suggestion.didYouMean(targetName, among: stack.services.map(\.name), noun: "services in this stack"))
            }
            if attribute.hasPrefix("port.") {
                let portName = String(attribute.dropFirst(5))
                guard target.portNames.contains(portName) else {
                    return fail(
                        template, source, "service '\(target.name)' has no port named '\(portName)'",
                        fix: target.portNames.isEmpty
                            ? "add 'ports: [\(portName)]' to \(target.name)"
                            : Suggestion.didYouMean(portName, among: target.portNames, noun: "its ports"))
                }
            } else if !Self.knownAttributes(of: target.kind).contains(attribute) {
                return fail(
                    template, source, "a \(target.kind.rawValue) service has no attribute '\(attribute)'",
                    fix: Suggestion.didYouMean(attribute, among: Self.knownAttributes(of: target.kind) + ["port.NAME"], noun: "attributes"))
            }
            if profile.remote, profile.resolvedEnvironment == .production, target.kind.descriptor.productionOnlyAttributes.contains(attribute) {
                return fail(
                    template, source, "\(reference) is a production secret, and production profiles never wire those into a local environment",
                    fix: "remove this variable in the profile (NAME: null); production secrets stay in the vault")
            }
            if let value = attributes[target.name]?[attribute] { return (value, explain(attribute, of: target)) }
            if profile.remote {
                return fail(
                    template, source, "\(reference) is unknown: '\(target.name)' has no url in remote profile '\(profile.name)'",
                    fix: "add services.\(target.name).url to \(profile.file), or remove this variable there (NAME: null)")
            }
            if target.portNames.isEmpty {
                return fail(
                    template, source, "\(reference) needs a port, and '\(target.name)' has none", fix: "add 'ports: [http]' to \(target.name)")
            }
            return fail(template, source, "\(reference) is not available", fix: "check the profile's ports and secrets")
        }
    }
}
