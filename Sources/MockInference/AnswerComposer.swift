import Crypto
import DevstackCore
import Foundation

/// What the mock answers to one chat request, before timing and transport.
struct Answer: Sendable {
    var content: String?
    var reasoning: String?
    var toolCalls: [ToolCall]
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int
    var reasoningTokens: Int?
    var timeToFirstToken: Duration
    var tokenDelay: Duration
    var fixture: InferenceFixture?
}

/// Deterministic answers: the first matching fixture, or one derived from the request (see the README,
/// "Mock inference"). Token counts are whitespace-separated words, so tests can predict them.
struct AnswerComposer: Sendable {
    let settings: InferenceSettings

    func compose(_ request: ChatRequest, scenario: String?) -> Answer {
        let lastUser = request.messages.last { $0.role == "user" }?.content ?? ""
        let system = request.messages.filter { $0.role == "system" || $0.role == "developer" }.compactMap(\.content)
            .joined(separator: "\n")
        let fixture = settings.fixtures.first { $0.matches(model: request.model, lastUserMessage: lastUser, system: system, scenario: scenario) }
        var content: String?
        var reasoning: String?
        var toolCalls: [ToolCall] = []
        if let fixture {
            content = fixture.content
            reasoning = fixture.reasoning
            toolCalls = fixture.toolCalls.enumerated().map { index, call in
                ToolCall(
                    id: call.id ?? Self.callID(call.name, call.arguments, index), type: "function",
                    function: .init(name: call.name, arguments: call.arguments))
            }
        } else if let last = request.messages.last, last.role == "tool" {
            content = "Tool result received: \(last.content ?? "")"
        } else if let tool = Self.requiredTool(request) {
            toolCalls = [ToolCall(id: Self.callID(tool, "{}", 0), type: "function", function: .init(name: tool, arguments: "{}"))]
        } else {
            content = lastUser.isEmpty ? "Hello from \(request.model)." : "You said: \(lastUser)"
        }
        if settings.personality == .thinking, reasoning == nil, fixture?.failure == nil {
            reasoning = "The user wrote \(lastUser.isEmpty ? "nothing" : "\"\(lastUser)\""). I will answer briefly."
        }
        var finishReason = fixture?.finishReason ?? (toolCalls.isEmpty ? "stop" : "tool_calls")
        if let limit = request.maxCompletionTokens ?? request.maxTokens, let text = content {
            let tokens = Self.tokens(text)
            if tokens.count > limit {
                content = tokens.prefix(max(limit, 0)).joined()
                finishReason = "length"
            }
        }
        let reasoningTokens = reasoning.map(Self.tokenCount)
        let completion =
            Self.tokenCount(content ?? "") + (reasoningTokens ?? 0)
            + toolCalls.reduce(0) { $0 + 1 + Self.tokenCount($1.function.arguments) }
        let prompt = request.messages.reduce(0) { $0 + Self.tokenCount($1.content ?? "") }
        return Answer(
            content: content, reasoning: reasoning, toolCalls: toolCalls, finishReason: finishReason,
            promptTokens: fixture?.promptTokens ?? prompt, completionTokens: fixture?.completionTokens ?? completion,
            reasoningTokens: reasoningTokens,
            timeToFirstToken: fixture?.timeToFirstTokenMs.map { .milliseconds($0) } ?? settings.timeToFirstToken,
            tokenDelay: fixture?.tokenDelayMs.map { .milliseconds($0) } ?? settings.tokenDelay, fixture: fixture)
    }

    /// The tool the request insists on: a named one, or the first when `tool_choice` is `required`.
    static func requiredTool(_ request: ChatRequest) -> String? {
        guard let first = request.toolNames.first else { return nil }
        switch request.toolChoice {
        case .function(let name): return name
        case .required: return first
        default: return nil
        }
    }

    static func callID(_ name: String, _ arguments: String, _ index: Int) -> String {
        let digest = SHA256.hash(data: Data("\(name)|\(arguments)|\(index)".utf8))
        return "call_" + digest.prefix(12).hexEncoded
    }

    /// Streaming units: each word with the whitespace before it, so joining them gives the text back.
    static func tokens(_ text: String) -> [String] {
        let scalars = text.unicodeScalars
        var tokens: [String] = []
        var start = scalars.startIndex
        var inWord = false
        for index in scalars.indices {
            let whitespace = scalars[index].properties.isWhitespace
            if whitespace && inWord {
                tokens.append(String(scalars[start..<index]))
                start = index
            }
            inWord = !whitespace
        }
        if start < scalars.endIndex {
            if inWord || tokens.isEmpty { tokens.append(String(scalars[start...])) } else { tokens[tokens.count - 1] += String(scalars[start...]) }
        }
        return tokens
    }

    /// `tokens(text).count` without building the tokens: it runs for every message of every request.
    static func tokenCount(_ text: String) -> Int {
        var words = 0
        var inWord = false
        for byte in text.utf8 {
            // Bytes of multi-byte characters are never ASCII whitespace; the rare Unicode spaces take the slow path.
            if byte >= 0x80 { return tokens(text).count }
            let whitespace = byte == 0x20 || (0x09...0x0D).contains(byte)
            if !whitespace && !inWord { words += 1 }
            inWord = !whitespace
        }
        return words == 0 && !text.isEmpty ? 1 : words
    }

    /// A unit vector derived from the text: the same input always gives the same embedding.
    static func embedding(of text: String, dimensions: Int) -> [Float] {
        var seed = SHA256.hash(data: Data(text.utf8)).withUnsafeBytes { $0.load(as: UInt64.self) }
        var values = [Float](repeating: 0, count: dimensions)
        var norm: Float = 0
        for index in 0..<dimensions {
            // splitmix64
            seed &+= 0x9E37_79B9_7F4A_7C15
            var mixed = seed
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            let value = Float(Double(mixed >> 11) / Double(1 << 53) * 2 - 1)
            values[index] = value
            norm += value * value
        }
        let scale = norm > 0 ? 1 / norm.squareRoot() : 1
        return values.map { $0 * scale }
    }
}
