import Foundation
import Yams

/// One deterministic answer of a mock inference server, read from `fixtures/*.yaml`.
public struct InferenceFixture: Sendable, Codable, Hashable {
    /// How a text is matched.
    public enum TextMatch: Sendable, Codable, Hashable {
        case equals(String)
        case contains(String)
        case regex(String)

        public func matches(_ text: String) -> Bool {
            switch self {
            case .equals(let value): return text == value
            case .contains(let value): return text.contains(value)
            case .regex(let pattern): return text.range(of: pattern, options: .regularExpression) != nil
            }
        }
    }

    public struct ToolCall: Sendable, Codable, Hashable {
        public var id: String?
        public var name: String
        /// JSON text, as the API carries it.
        public var arguments: String

        public init(id: String? = nil, name: String, arguments: String) {
            self.id = id
            self.name = name
            self.arguments = arguments
        }
    }

    public struct Failure: Sendable, Codable, Hashable {
        public var status: Int
        public var message: String?
        public var type: String?
        public var code: String?
        public var retryAfterMs: Int?

        public init(status: Int, message: String? = nil, type: String? = nil, code: String? = nil, retryAfterMs: Int? = nil) {
            self.status = status
            self.message = message
            self.type = type
            self.code = code
            self.retryAfterMs = retryAfterMs
        }
    }

    /// Ways a request can go wrong besides an error status.
    public enum Fault: String, Sendable, Codable, Hashable, CaseIterable {
        /// Never answer (until the client gives up).
        case hang
        /// Close the connection in the middle of a stream (or before a non-streaming body).
        case disconnect
        /// Send a chunk that is not JSON.
        case malformedChunk = "malformed_chunk"
        /// Send an error event in the middle of a stream.
        case errorEvent = "error_event"
    }

    public var name: String
    public var location: SourceLocation
    public var model: String?
    public var lastUserMessage: TextMatch?
    public var system: TextMatch?
    public var scenario: String?
    public var content: String?
    public var reasoning: String?
    public var toolCalls: [ToolCall]
    public var finishReason: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var timeToFirstTokenMs: Int?
    public var tokenDelayMs: Int?
    public var failure: Failure?
    public var fault: Fault?

    public init(
        name: String, location: SourceLocation, model: String? = nil, lastUserMessage: TextMatch? = nil, system: TextMatch? = nil,
        scenario: String? = nil, content: String? = nil, reasoning: String? = nil, toolCalls: [ToolCall] = [], finishReason: String? = nil,
        promptTokens: Int? = nil, completionTokens: Int? = nil, timeToFirstTokenMs: Int? = nil, tokenDelayMs: Int? = nil,
        failure: Failure? = nil, fault: Fault? = nil
    ) {
        self.name = name
        self.location = location
        self.model = model
        self.lastUserMessage = lastUserMessage
        self.system = system
        self.scenario = scenario
        self.content = content
        self.reasoning = reasoning
        self.toolCalls = toolCalls
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.tokenDelayMs = tokenDelayMs
        self.failure = failure
        self.fault = fault
    }

    /// Whether a request with these parts is answered by this fixture.
    public func matches(model requested: String, lastUserMessage message: String, system prompt: String, scenario header: String?) -> Bool {
        if let model, model != requested { return false }
        if let scenario, scenario != header { return false }
        if let lastUserMessage, !lastUserMessage.matches(message) { return false }
        if let system, !system.matches(prompt) { return false }
        return true
    }
}

/// Reads fixture files: a list of entries, each `match` plus what to answer.
struct FixtureParser {
    let reader: YAMLReader

    static let entryKeys = [
        "name", "match", "content", "reasoning", "tool_calls", "finish_reason", "usage", "time_to_first_token", "token_delay", "error", "fault",
    ]

    func parse() -> [InferenceFixture] {
        guard let root = reader.root() else { return [] }
        if root.isNull { return [] }
        guard let entries = reader.sequence(root) else {
            reader.typeError(root, expected: "a list of fixtures", fix: "start each fixture with '- match: ...' (see the README, \"Fixtures\")")
            return []
        }
        return entries.enumerated().compactMap { parseEntry($1, index: $0) }
    }

    private func parseEntry(_ node: ConfigNode, index: Int) -> InferenceFixture? {
        guard let entries = reader.mapping(node, allowed: Self.entryKeys) else { return nil }
        let file = (reader.source.displayPath as NSString).lastPathComponent
        var fixture = InferenceFixture(
            name: "\(file)#\(index + 1)", location: node.location, toolCalls: [])
        var valid = true
        for (key, value) in entries {
            switch key {
            case "name": fixture.name = reader.nonEmptyString(value) ?? fixture.name
            case "match": valid = parseMatch(value, into: &fixture) && valid
            case "content": fixture.content = reader.string(value)
            case "reasoning": fixture.reasoning = reader.string(value)
            case "finish_reason":
                fixture.finishReason = reader.string(value)
                if let reason = fixture.finishReason, !["stop", "length", "tool_calls", "content_filter"].contains(reason) {
                    reader.error(value, "'\(reason)' is not a finish reason", fix: "use stop, length, tool_calls or content_filter")
                    valid = false
                }
            case "tool_calls": fixture.toolCalls = parseToolCalls(value) ?? []
            case "usage":
                for (usageKey, usageValue) in reader.mapping(value, allowed: ["prompt_tokens", "completion_tokens"]) ?? [] {
                    let count = reader.int(usageValue, range: 0...10_000_000)
                    if usageKey == "prompt_tokens" { fixture.promptTokens = count } else { fixture.completionTokens = count }
                }
            case "time_to_first_token": fixture.timeToFirstTokenMs = reader.duration(value).map { Int($0.milliseconds) }
            case "token_delay": fixture.tokenDelayMs = reader.duration(value).map { Int($0.milliseconds) }
            case "error": fixture.failure = parseFailure(value)
            case "fault": fixture.fault = reader.oneOf(value, InferenceFixture.Fault.self)
            default: break
            }
        }
        if fixture.content == nil && fixture.reasoning == nil && fixture.toolCalls.isEmpty && fixture.failure == nil && fixture.fault == nil {
            reader.error(node, "this fixture gives no answer", fix: "add content, reasoning, tool_calls, error or fault")
            valid = false
        }
        return valid ? fixture : nil
    }

    private func parseMatch(_ node: ConfigNode, into fixture: inout InferenceFixture) -> Bool {
        guard let entries = reader.mapping(node, allowed: ["model", "last_user_message", "system", "scenario"]) else { return false }
        var valid = true
        for (key, value) in entries {
            switch key {
            case "model": fixture.model = reader.nonEmptyString(value)
            case "scenario": fixture.scenario = reader.nonEmptyString(value)
            case "last_user_message":
                fixture.lastUserMessage = parseTextMatch(value)
                valid = valid && fixture.lastUserMessage != nil
            case "system":
                fixture.system = parseTextMatch(value)
                valid = valid && fixture.system != nil
            default: break
            }
        }
        return valid
    }

    /// A plain string matches exactly; `{contains: …}`, `{equals: …}` or `{regex: …}` say how.
    private func parseTextMatch(_ node: ConfigNode) -> InferenceFixture.TextMatch? {
        if case .scalar = node.node { return reader.string(node).map { .equals($0) } }
        let fix = "write one of: {equals: TEXT}, {contains: TEXT}, {regex: PATTERN}"
        guard let entries = reader.mapping(node, allowed: ["equals", "contains", "regex"], expected: "a string or a mapping", fix: fix) else {
            return nil
        }
        guard entries.count == 1, let (key, value) = entries.first, let text = reader.string(value) else {
            reader.error(node, "give exactly one way to match", fix: fix)
            return nil
        }
        switch key {
        case "equals": return .equals(text)
        case "contains": return .contains(text)
        default:
            do {
                _ = try NSRegularExpression(pattern: text)
            } catch {
                reader.error(
                    value, "'\(text)' is not a valid regular expression",
                    fix: "check brackets and escapes; in YAML, single-quote patterns with backslashes")
                return nil
            }
            return .regex(text)
        }
    }

    private func parseToolCalls(_ node: ConfigNode) -> [InferenceFixture.ToolCall]? {
        guard let items = reader.sequence(node) else {
            reader.typeError(node, expected: "a list of tool calls", fix: "write '- name: get_weather' with 'arguments: {city: Paris}'")
            return nil
        }
        return items.compactMap { item in
            guard let entries = reader.mapping(item, allowed: ["id", "name", "arguments"]) else { return nil }
            var call = InferenceFixture.ToolCall(id: nil, name: "", arguments: "{}")
            for (key, value) in entries {
                switch key {
                case "id": call.id = reader.nonEmptyString(value)
                case "name": call.name = reader.nonEmptyString(value) ?? ""
                default:
                    if case .scalar = value.node, let text = reader.string(value) {
                        call.arguments = text
                    } else if let json = try? JSONSerialization.data(withJSONObject: Self.plain(value.node), options: [.sortedKeys]) {
                        call.arguments = String(decoding: json, as: UTF8.self)
                    }
                }
            }
            if call.name.isEmpty {
                reader.error(item, "a tool call needs a name", fix: "add 'name: <function name>'")
                return nil
            }
            return call
        }
    }

    private func parseFailure(_ node: ConfigNode) -> InferenceFixture.Failure? {
        guard let entries = reader.mapping(node, allowed: ["status", "message", "type", "code", "retry_after"]) else { return nil }
        var failure = InferenceFixture.Failure(status: 0)
        for (key, value) in entries {
            switch key {
            case "status": failure.status = reader.int(value, range: 400...599) ?? 0
            case "message": failure.message = reader.string(value)
            case "type": failure.type = reader.string(value)
            case "code": failure.code = reader.string(value)
            default: failure.retryAfterMs = reader.duration(value).map { Int($0.milliseconds) }
            }
        }
        if failure.status == 0 {
            reader.error(node, "an error needs a status", fix: "add 'status: 429' (any 4xx or 5xx)")
            return nil
        }
        return failure
    }

    /// A YAML value as plain JSON-ready values, for tool-call arguments written as YAML.
    static func plain(_ node: Yams.Node) -> Any {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if let value = node.int { return value }
                if let value = node.float { return value }
                if let value = scalar.plainBool { return value }
                if node.null != nil { return NSNull() }
            }
            return scalar.string
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping { object[key.string ?? ""] = plain(value) }
            return object
        case .sequence(let sequence): return sequence.map(plain)
        case .alias: return NSNull()
        }
    }
}

extension ProjectLoader {
    /// The fixtures of every folder named by an inference service, keyed by absolute path.
    static func loadFixtures(
        stack: StackSpec, profile: ProfileSpec, sources: [SourceText], diagnostics: DiagnosticCollector, projectDirectory: String
    ) -> [String: [InferenceFixture]] {
        let entries =
            stack.services.filter { $0.kind.settingKeys.contains { $0.name == "fixtures" } }.flatMap(\.settings)
            + profile.services.flatMap(\.settings)
        var loaded: [String: [InferenceFixture]] = [:]
        for entry in entries where entry.key == "fixtures" {
            let folder = FilePath.absolute(entry.value.description, relativeTo: stack.directory)
            guard loaded[folder] == nil else { continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                diagnostics.report(
                    at: entry.location, in: sources.first { $0.displayPath == entry.location.file }, entry.keyPath,
                    "fixtures folder \(folder) does not exist",
                    fix: "create it with a fixtures/*.yaml file, or remove '\(entry.key)'")
                loaded[folder] = []
                continue
            }
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            loaded[folder] = files.flatMap { file -> [InferenceFixture] in
                let full = "\(folder)/\(file)"
                guard let text = FileManager.default.contents(atPath: full).map({ String(decoding: $0, as: UTF8.self) }) else { return [] }
                let display = full.hasPrefix(projectDirectory + "/") ? String(full.dropFirst(projectDirectory.count + 1)) : full
                return FixtureParser(reader: YAMLReader(source: SourceText(displayPath: display, text: text), diagnostics: diagnostics)).parse()
            }
        }
        return loaded
    }
}
