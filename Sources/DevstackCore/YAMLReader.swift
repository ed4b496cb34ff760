import Foundation
import Yams

/// A YAML node with the file and key path it came from, so every message can point at it.
struct ConfigNode {
    let node: Node
    let path: String
    let location: SourceLocation
    /// Where the key of this entry is written, for messages about the key itself.
    var keyLocation: SourceLocation?

    func child(_ key: String, _ node: Node, source: SourceText, keyNode: Node? = nil) -> ConfigNode {
        ConfigNode(
            node: node, path: path.isEmpty ? key : "\(path).\(key)", location: source.location(of: node),
            keyLocation: keyNode.map { source.location(of: $0) })
    }

    /// This entry, located at its key.
    var atKey: ConfigNode { ConfigNode(node: node, path: path, location: keyLocation ?? location, keyLocation: keyLocation) }

    var kindName: String {
        switch node {
        case .scalar(let scalar):
            if isNull { return "null" }
            if node.int != nil && scalar.style == .plain { return "a number" }
            if scalar.plainBool != nil { return "a boolean" }
            return "a string"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// Asked of every value read, so it looks at the text alone (Yams's integer parsing is far dearer).
    var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        switch scalar.string {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }
}

extension Node.Scalar {
    /// The booleans of YAML 1.1, in the spellings Yams's default resolver knows, for a plain scalar.
    var plainBool: Bool? {
        guard style == .plain else { return nil }
        switch string {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }
}

extension SourceText {
    func location(of node: Node) -> SourceLocation {
        location(line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }
}

/// Reads typed values out of YAML nodes, reporting every mismatch instead of stopping at the first.
struct YAMLReader {
    let source: SourceText
    let diagnostics: DiagnosticCollector

    /// Parses the file; a syntax error is reported and yields nil.
    func root() -> ConfigNode? {
        do {
            // Scalars are typed where they are read, so Yams resolves no tags and builds no values: its
            // default resolver compiles seven regular expressions on first use, ~2 ms of every start.
            guard let node = try Yams.compose(yaml: source.text, .basic, Constructor([:], [:], [:]), .utf8) else {
                diagnostics.report(
                    at: source.location(line: 1, column: 1), in: source, "", "the file is empty",
                    fix: "see `devstack schema` or the README for the file format")
                return nil
            }
            return ConfigNode(node: node, path: "", location: source.location(of: node))
        } catch let error as YamlError {
            reportSyntax(error)
            return nil
        } catch {
            diagnostics.report(at: nil, in: source, "", "cannot parse YAML: \(error)")
            return nil
        }
    }

    private func reportSyntax(_ error: YamlError) {
        if case .duplicatedKeysInMapping(let duplicates, let context) = error {
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            diagnostics.report(
                at: source.location(line: context.mark.line, column: context.mark.column), in: source, "",
                "duplicate key \(keys) in one mapping", fix: "keep one entry per key: the second would silently replace the first")
            return
        }
        let (problem, mark, context): (String, Mark?, YamlError.Context?) = {
            switch error {
            case .scanner(let context, let problem, let mark, _): return (problem, mark, context)
            case .parser(let context, let problem, let mark, _): return (problem, mark, context)
            case .composer(let context, let problem, let mark, _): return (problem, mark, context)
            case .reader(let problem, _, _, _): return (problem, nil, nil)
            default: return ("\(error)", nil, nil)
            }
        }()
        let location = mark.map { source.location(line: $0.line, column: $0.column) }
        // Where the parser noticed is often the line after the mistake: say where the construct began too,
        // as PyYAML does ("while parsing a flow sequence started at 4:9").
        let started = context.map { " (\($0.text) started at \($0.mark.line):\($0.mark.column))" } ?? ""
        let message = "YAML syntax error: \(problem)" + started
        diagnostics.report(
            at: location, in: source, "", message,
            fix: "check indentation and quoting near this spot; values containing ': ' or starting with '{', '[', '*', '&' or '@' need quotes")
    }

    func error(_ node: ConfigNode, _ message: String, fix: String? = nil) {
        diagnostics.report(at: node.location, in: source, node.path, message, fix: fix)
    }

    func typeError(_ node: ConfigNode, expected: String, fix: String? = nil) {
        error(node, "expected \(expected), found \(node.kindName)", fix: fix)
    }

    /// The entries of a mapping in file order. Unknown keys (when `allowed` is given) and duplicates are reported.
    func mapping(
        _ node: ConfigNode, allowed: [String]? = nil, expected: String = "a mapping", fix: String? = nil
    ) -> [(key: String, value: ConfigNode)]? {
        guard case .mapping(let mapping) = node.node else {
            typeError(node, expected: expected, fix: fix)
            return nil
        }
        var entries: [(key: String, value: ConfigNode)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else {
                error(node.child("?", keyNode, source: source), "keys must be plain strings")
                continue
            }
            let child = node.child(key, valueNode, source: source, keyNode: keyNode)
            if let allowed, !allowed.contains(key) {
                let hint = Suggestion.didYouMean(key, among: allowed, noun: "allowed keys here")
                error(child.atKey, "unknown key '\(key)'", fix: hint)
                continue
            }
            entries.append((key, child))
        }
        return entries
    }

    func keyLocation(_ node: ConfigNode) -> SourceLocation { node.location }

    func scalarText(_ node: ConfigNode) -> String? {
        guard case .scalar(let scalar) = node.node else { return nil }
        return scalar.string
    }

    func string(_ node: ConfigNode, fix: String? = nil) -> String? {
        guard case .scalar(let scalar) = node.node, !node.isNull else {
            typeError(node, expected: "a string", fix: fix)
            return nil
        }
        return scalar.string
    }

    func nonEmptyString(_ node: ConfigNode, what: String = "a non-empty string") -> String? {
        guard let value = string(node) else { return nil }
        if value.isEmpty {
            error(node, "expected \(what), found an empty string")
            return nil
        }
        return value
    }

    func int(_ node: ConfigNode, range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar = node.node, let value = node.node.int else {
            typeError(node, expected: "a whole number")
            return nil
        }
        if let range, !range.contains(value) {
            error(node, "\(value) is out of range", fix: "use a number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    func bool(_ node: ConfigNode) -> Bool? {
        guard case .scalar(let scalar) = node.node else {
            typeError(node, expected: "true or false")
            return nil
        }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            typeError(node, expected: "true or false")
            return nil
        }
    }

    func oneOf<T: RawRepresentable>(_ node: ConfigNode, _ type: T.Type) -> T?
    where T: CaseIterable, T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node.node, !node.isNull else {
            typeError(node, expected: "one of \(allowed.joined(separator: ", "))")
            return nil
        }
        if let value = T(rawValue: scalar.string) { return value }
        error(
            node, "'\(scalar.string)' is not one of \(allowed.joined(separator: ", "))",
            fix: Suggestion.closest(to: scalar.string, among: allowed).map { "did you mean '\($0)'?" })
        return nil
    }

    /// Durations: `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
    func duration(_ node: ConfigNode) -> Duration? {
        guard case .scalar(let scalar) = node.node, !node.isNull else {
            typeError(node, expected: "a duration such as 500ms, 5s or 2m")
            return nil
        }
        if let value = DurationParser.parse(scalar.string) { return value }
        error(node, "'\(scalar.string)' is not a duration", fix: "write a number with a unit: 500ms, 5s, 2m or 1h")
        return nil
    }

    func stringList(_ node: ConfigNode) -> [(String, ConfigNode)]? {
        guard case .sequence(let sequence) = node.node else {
            typeError(node, expected: "a list of strings")
            return nil
        }
        var items: [(String, ConfigNode)] = []
        for (index, item) in sequence.enumerated() {
            let child = node.child("\(index)", item, source: source)
            let indexed = ConfigNode(node: item, path: "\(node.path)[\(index)]", location: child.location)
            if let text = string(indexed) { items.append((text, indexed)) }
        }
        return items
    }

    func sequence(_ node: ConfigNode) -> [ConfigNode]? {
        guard case .sequence(let sequence) = node.node else { return nil }
        return sequence.enumerated().map { index, item in
            ConfigNode(node: item, path: "\(node.path)[\(index)]", location: source.location(of: item))
        }
    }

    func template(_ node: ConfigNode) -> Template? {
        guard case .scalar(let scalar) = node.node, !node.isNull else {
            typeError(node, expected: "a string")
            return nil
        }
        return Template(scalar.string, location: node.location, keyPath: node.path)
    }
}

public enum DurationParser {
    /// How long something has been up, for tables: `4.2s`, `3m12s`, `5h07m`.
    public static func uptime(_ seconds: TimeInterval) -> String {
        if seconds < 60 { return Self.seconds(.seconds(seconds), fractionDigits: 1) }
        if seconds < 3600 { return "\(Int(seconds) / 60)m\(Int(seconds) % 60)s" }
        return "\(Int(seconds) / 3600)h\(Int(seconds) % 3600 / 60)m"
    }

    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            guard let value = Double(number), value >= 0 else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0 else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    /// Seconds with `fractionDigits` decimals (0 to 3), rounded half up: "0.05s". Integer arithmetic, not
    /// `String(format:)`, whose first use in a process costs ~0.2 ms of runtime type lookups: `up` prints
    /// this at the moment the stack is ready.
    public static func seconds(_ duration: Duration, fractionDigits: Int) -> String {
        let digits = min(max(fractionDigits, 0), 3)
        let scale = [1, 10, 100, 1000][digits] as Int64
        let milliseconds = duration.milliseconds
        let units = (abs(milliseconds) * scale + 500) / 1000
        let fraction = String(units % scale)
        let sign = milliseconds < 0 && units > 0 ? "-" : ""
        let decimals = digits == 0 ? "" : "." + String(repeating: "0", count: digits - fraction.count) + fraction
        return sign + String(units / scale) + decimals + "s"
    }
}

extension Duration {
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Fractional milliseconds, for figures below one.
    public var fractionalMilliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
