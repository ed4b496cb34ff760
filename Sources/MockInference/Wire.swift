import Foundation

// The request and response bodies of the OpenAI and OpenRouter APIs that the mock speaks.

struct ChatRequest: Decodable, Sendable {
    var model: String
    var messages: [ChatMessage]
    var stream: Bool?
    var streamOptions: StreamOptions?
    var tools: [Tool]?
    var toolChoice: ToolChoice?
    var maxTokens: Int?
    var maxCompletionTokens: Int?

    struct StreamOptions: Decodable, Sendable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    struct Tool: Decodable, Sendable {
        var type: String
        var function: Function
        struct Function: Decodable, Sendable { var name: String }
    }

    enum ToolChoice: Decodable, Sendable {
        case none, auto, required
        case function(String)

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                switch text {
                case "none": self = .none
                case "auto": self = .auto
                case "required": self = .required
                default:
                    throw DecodingError.dataCorruptedError(
                        in: try decoder.singleValueContainer(), debugDescription: "'\(text)' is not one of none, auto, required")
                }
                return
            }
            struct Named: Decodable {
                struct Function: Decodable { var name: String }
                var function: Function
            }
            self = .function(try Named(from: decoder).function.name)
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, tools
        case streamOptions = "stream_options"
        case toolChoice = "tool_choice"
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
    }
}

struct ChatMessage: Decodable, Sendable {
    var role: String
    var content: Content?
    var toolCalls: [ToolCall]?
    var toolCallID: String?

    static let roles: Set = ["system", "developer", "user", "assistant", "tool", "function"]

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    /// A string, or a list of parts of which the text ones count.
    struct Content: Decodable, Sendable {
        var text: String

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self.text = text
                return
            }
            struct Part: Decodable {
                var type: String
                var text: String?
            }
            self.text = try container.decode([Part].self).compactMap(\.text).joined(separator: "\n")
        }
    }
}

struct ToolCall: Codable, Sendable {
    var id: String
    var type: String
    var function: Function
    struct Function: Codable, Sendable {
        var name: String
        var arguments: String
    }
}

struct EmbeddingRequest: Decodable, Sendable {
    var model: String
    var input: Input
    var encodingFormat: String?
    var dimensions: Int?

    enum CodingKeys: String, CodingKey {
        case model, input, dimensions
        case encodingFormat = "encoding_format"
    }

    /// A string, a list of strings, a list of token ids or a list of such lists.
    struct Input: Decodable, Sendable {
        var texts: [String]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                texts = [text]
            } else if let list = try? container.decode([String].self) {
                texts = list
            } else if let tokens = try? container.decode([Int].self) {
                texts = [tokens.map(String.init).joined(separator: " ")]
            } else {
                texts = try container.decode([[Int]].self).map { $0.map(String.init).joined(separator: " ") }
            }
        }
    }
}

struct Usage: Encodable, Sendable {
    var promptTokens: Int
    var completionTokens: Int
    var reasoningTokens: Int?

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case details = "completion_tokens_details"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(promptTokens, forKey: .promptTokens)
        try container.encode(completionTokens, forKey: .completionTokens)
        try container.encode(promptTokens + completionTokens, forKey: .totalTokens)
        if let reasoningTokens { try container.encode(["reasoning_tokens": reasoningTokens], forKey: .details) }
    }
}

struct ReasoningDetail: Encodable, Sendable {
    var type = "reasoning.text"
    var text: String
    var format = "unknown"
    var index = 0
}

struct AssistantMessage: Encodable, Sendable {
    var role = "assistant"
    var content: String?
    var reasoning: String?
    var toolCalls: [ToolCall]?

    enum CodingKeys: String, CodingKey {
        case role, content, reasoning
        case reasoningContent = "reasoning_content"
        case reasoningDetails = "reasoning_details"
        case toolCalls = "tool_calls"
        case refusal
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        try container.encode(content, forKey: .content)
        try container.encodeNil(forKey: .refusal)
        if let reasoning {
            try container.encode(reasoning, forKey: .reasoning)
            try container.encode(reasoning, forKey: .reasoningContent)
            try container.encode([ReasoningDetail(text: reasoning)], forKey: .reasoningDetails)
        }
        if let toolCalls, !toolCalls.isEmpty { try container.encode(toolCalls, forKey: .toolCalls) }
    }
}

struct ChatCompletion: Encodable, Sendable {
    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage
    var systemFingerprint = "fp_devstack"

    struct Choice: Encodable, Sendable {
        var index = 0
        var message: AssistantMessage
        var finishReason: String
        var logprobs: String? = nil
        enum CodingKeys: String, CodingKey {
            case index, message, logprobs
            case finishReason = "finish_reason"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encodeNil(forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }
}

/// One `data:` event of a streamed completion.
struct ChatChunk: Encodable, Sendable {
    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    /// Present (null until the last chunk) when the request asked for usage.
    var usage: Usage??

    struct Choice: Encodable, Sendable {
        var index = 0
        var delta: Delta
        var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    struct Delta: Encodable, Sendable {
        var role: String?
        var content: String?
        var reasoning: String?
        var toolCalls: [ToolCallDelta]?

        enum CodingKeys: String, CodingKey {
            case role, content, reasoning
            case reasoningContent = "reasoning_content"
            case reasoningDetails = "reasoning_details"
            case toolCalls = "tool_calls"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(role, forKey: .role)
            try container.encodeIfPresent(content, forKey: .content)
            if let reasoning {
                try container.encode(reasoning, forKey: .reasoning)
                try container.encode(reasoning, forKey: .reasoningContent)
                try container.encode([ReasoningDetail(text: reasoning)], forKey: .reasoningDetails)
            }
            try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
        }
    }

    struct ToolCallDelta: Encodable, Sendable {
        var index: Int
        var id: String?
        var type: String?
        var function: Function
        struct Function: Encodable, Sendable {
            var name: String?
            var arguments: String
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(object, forKey: .object)
        try container.encode(created, forKey: .created)
        try container.encode(model, forKey: .model)
        try container.encode(choices, forKey: .choices)
        if let usage { try container.encode(usage, forKey: .usage) }
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
