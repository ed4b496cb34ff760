import DevstackCore
import Foundation

// The request and response bodies of the OpenAI and OpenRouter APIs that the mock speaks.

struct ChatRequest: Sendable {
    var model: String
    var messages: [ChatMessage]
    var stream: Bool
    var includeUsage: Bool
    /// The function names of the tools offered, in order.
    var toolNames: [String]
    var toolChoice: ToolChoice?
    var maxTokens: Int?
    var maxCompletionTokens: Int?

    enum ToolChoice: Sendable {
        case none, auto, required
        case function(String)
    }

    init(_ fields: RequestFields) throws {
        model = try fields.requiredString("model")
        messages = try fields.requiredObjects("messages").map(ChatMessage.init)
        stream = try fields.bool("stream") ?? false
        includeUsage = try fields.object("stream_options")?.bool("include_usage") ?? false
        toolNames = try (fields.objects("tools") ?? []).map { tool in
            _ = try tool.requiredString("type")
            return try tool.requiredObject("function").requiredString("name")
        }
        switch fields.value("tool_choice") {
        case nil: toolChoice = nil
        case let text as String:
            switch text {
            case "none": toolChoice = ChatRequest.ToolChoice.none
            case "auto": toolChoice = .auto
            case "required": toolChoice = .required
            default: throw InferenceError.invalidValue(fields.name("tool_choice"), "'\(text)' is not one of none, auto, required")
            }
        default:
            let named = try fields.requiredObject("tool_choice").requiredObject("function")
            toolChoice = .function(try named.requiredString("name"))
        }
        maxTokens = try fields.int("max_tokens")
        maxCompletionTokens = try fields.int("max_completion_tokens")
    }
}

struct ChatMessage: Sendable {
    var role: String
    /// A string, or the text parts of a list of parts.
    var content: String?

    static let roles: Set = ["system", "developer", "user", "assistant", "tool", "function"]

    init(_ fields: RequestFields) throws {
        role = try fields.requiredString("role")
        switch fields.value("content") {
        case nil: content = nil
        case let text as String: content = text
        case let parts as [Any]:
            content = try RequestFields.objects(in: parts, path: fields.name("content")).compactMap { part in
                _ = try part.requiredString("type")
                return try part.string("text")
            }.joined(separator: "\n")
        default: throw fields.mistyped("content", expected: "a string or an array")
        }
        // Tool calls and their results are not used to answer, but must be well formed, as OpenAI checks.
        for call in try fields.objects("tool_calls") ?? [] {
            _ = try call.requiredString("id")
            _ = try call.requiredString("type")
            let function = try call.requiredObject("function")
            _ = try function.requiredString("name")
            _ = try function.requiredString("arguments")
        }
        _ = try fields.string("tool_call_id")
    }
}

struct ToolCall: Sendable {
    var id: String
    var type: String
    var function: Function
    struct Function: Sendable {
        var name: String
        var arguments: String
    }
}

struct EmbeddingRequest: Sendable {
    var model: String
    /// A string, a list of strings, a list of token ids or a list of such lists; token ids stand as their digits.
    var texts: [String]
    var encodingFormat: String?
    var dimensions: Int?

    init(_ fields: RequestFields) throws {
        model = try fields.requiredString("model")
        encodingFormat = try fields.string("encoding_format")
        dimensions = try fields.int("dimensions")
        func tokens(_ value: Any) -> String? {
            guard let list = value as? [Any] else { return nil }
            let ids = list.compactMap { ($0 as? NSNumber).flatMap { isBoolean($0) ? nil : $0.intValue } }
            return ids.count == list.count ? ids.map(String.init).joined(separator: " ") : nil
        }
        let expected = "a string, an array of strings or an array of token ids"
        let input = try fields.requiredValue("input", expected: expected)
        if let text = input as? String {
            texts = [text]
        } else if let strings = input as? [String] {
            texts = strings
        } else if let list = input as? [Any], let ids = tokens(list) {
            texts = [ids]
        } else if let lists = input as? [Any], case let idLists = lists.compactMap(tokens), idLists.count == lists.count {
            texts = idLists
        } else {
            throw fields.mistyped("input", expected: expected)
        }
    }
}

// The chat answers are written with `JSONOutput` (see there why), in the order OpenAI sends the keys.

struct Usage: Sendable {
    var promptTokens: Int
    var completionTokens: Int
    var reasoningTokens: Int?

    func write(to out: inout JSONOutput) {
        out.object { out in
            out.member("prompt_tokens", promptTokens)
            out.member("completion_tokens", completionTokens)
            out.member("total_tokens", promptTokens + completionTokens)
            if let reasoningTokens {
                out.key("completion_tokens_details")
                out.object { $0.member("reasoning_tokens", reasoningTokens) }
            }
        }
    }
}

/// The reasoning of a thinking model in the three forms clients read: OpenRouter's `reasoning` and
/// `reasoning_details`, DeepSeek's `reasoning_content`.
private func writeReasoning(_ reasoning: String, to out: inout JSONOutput) {
    out.member("reasoning", reasoning)
    out.member("reasoning_content", reasoning)
    out.key("reasoning_details")
    out.array(CollectionOfOne(reasoning)) { out, text in
        out.object { out in
            out.member("type", "reasoning.text")
            out.member("text", text)
            out.member("format", "unknown")
            out.member("index", 0)
        }
    }
}

/// What a completion and each of its chunks begin with, up to the `choices` key.
private func writeHead(to out: inout JSONOutput, id: String, object: String, created: Int, model: String) {
    out.member("id", id)
    out.member("object", object)
    out.member("created", created)
    out.member("model", model)
    out.key("choices")
}

extension ToolCall {
    func write(to out: inout JSONOutput) {
        out.object { out in
            out.member("id", id)
            out.member("type", type)
            out.key("function")
            out.object { out in
                out.member("name", function.name)
                out.member("arguments", function.arguments)
            }
        }
    }
}

struct AssistantMessage: Sendable {
    var content: String?
    var reasoning: String?
    var toolCalls: [ToolCall]?

    func write(to out: inout JSONOutput) {
        out.object { out in
            out.member("role", "assistant")
            out.member("content", content)
            out.member("refusal", nil as String?)
            if let reasoning { writeReasoning(reasoning, to: &out) }
            if let toolCalls, !toolCalls.isEmpty {
                out.key("tool_calls")
                out.array(toolCalls) { out, call in call.write(to: &out) }
            }
        }
    }
}

struct ChatCompletion: Sendable {
    var id: String
    var created: Int
    var model: String
    var message: AssistantMessage
    var finishReason: String
    var usage: Usage

    func write(to out: inout JSONOutput) {
        out.object { out in
            writeHead(to: &out, id: id, object: "chat.completion", created: created, model: model)
            out.array(CollectionOfOne(message)) { out, message in
                out.object { out in
                    out.member("index", 0)
                    out.key("message")
                    message.write(to: &out)
                    out.member("logprobs", nil as String?)
                    out.member("finish_reason", finishReason)
                }
            }
            out.key("usage")
            usage.write(to: &out)
            out.member("system_fingerprint", "fp_devstack")
        }
    }
}

/// One `data:` event of a streamed completion.
struct ChatChunk: Sendable {
    var id: String
    var created: Int
    var model: String
    /// Nil for the usage chunk, which has `choices: []`.
    var choice: Choice?
    /// Written (null until the last chunk) when the request asked for usage.
    var usage: Usage??

    struct Choice: Sendable {
        var delta: Delta
        var finishReason: String?
    }

    struct Delta: Sendable {
        var role: String?
        var content: String?
        var reasoning: String?
        var toolCalls: [ToolCallDelta]?

        func write(to out: inout JSONOutput) {
            out.object { out in
                if let role { out.member("role", role) }
                if let content { out.member("content", content) }
                if let reasoning { writeReasoning(reasoning, to: &out) }
                if let toolCalls {
                    out.key("tool_calls")
                    out.array(toolCalls) { out, call in call.write(to: &out) }
                }
            }
        }
    }

    struct ToolCallDelta: Sendable {
        var index: Int
        var id: String?
        var type: String?
        var function: Function
        struct Function: Sendable {
            var name: String?
            var arguments: String
        }

        func write(to out: inout JSONOutput) {
            out.object { out in
                out.member("index", index)
                if let id { out.member("id", id) }
                if let type { out.member("type", type) }
                out.key("function")
                out.object { out in
                    if let name = function.name { out.member("name", name) }
                    out.member("arguments", function.arguments)
                }
            }
        }
    }

    func write(to out: inout JSONOutput) {
        out.object { out in
            writeHead(to: &out, id: id, object: "chat.completion.chunk", created: created, model: model)
            out.array(choice.map { [$0] } ?? []) { out, choice in
                out.object { out in
                    out.member("index", 0)
                    out.key("delta")
                    choice.delta.write(to: &out)
                    out.member("finish_reason", choice.finishReason)
                }
            }
            if let usage {
                out.key("usage")
                if let usage { usage.write(to: &out) } else { out.null() }
            }
        }
    }
}

struct ModelList: Encodable, Sendable {
    var object = "list"
    var data: [Model]
}

struct Model: Encodable, Sendable {
    var id: String
    var object = "model"
    var created = 1_767_225_600
    var ownedBy = "devstack"
    enum CodingKeys: String, CodingKey {
        case id, object, created
        case ownedBy = "owned_by"
    }
}

struct EmbeddingList: Encodable, Sendable {
    var object = "list"
    var data: [Embedding]
    var model: String
    var usage: EmbeddingUsage

    struct EmbeddingUsage: Encodable, Sendable {
        var promptTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case totalTokens = "total_tokens"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(promptTokens, forKey: .promptTokens)
            try container.encode(promptTokens, forKey: .totalTokens)
        }
    }
}

struct Embedding: Encodable, Sendable {
    var object = "embedding"
    var index: Int
    var vector: [Float]
    var base64: Bool

    enum CodingKeys: String, CodingKey { case object, index, embedding }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(object, forKey: .object)
        try container.encode(index, forKey: .index)
        if base64 {
            // float32, little-endian, as OpenAI sends it.
            let bytes = vector.flatMap { value -> [UInt8] in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
            try container.encode(Data(bytes).base64EncodedString(), forKey: .embedding)
        } else {
            try container.encode(vector, forKey: .embedding)
        }
    }
}
