import Crypto
import DevstackCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import MockInference

/// The mock's routes through Hummingbird's test client: answers, streams, errors, faults, journal.
@Suite struct MockInferenceTests {
    static func fixture(
        _ name: String, model: String? = nil, user: InferenceFixture.TextMatch? = nil, system: InferenceFixture.TextMatch? = nil,
        scenario: String? = nil, content: String? = nil, reasoning: String? = nil, toolCalls: [InferenceFixture.ToolCall] = [],
        failure: InferenceFixture.Failure? = nil, fault: InferenceFixture.Fault? = nil
    ) -> InferenceFixture {
        InferenceFixture(
            name: name, location: SourceLocation(file: "fixtures/test.yaml", line: 1, column: 1), model: model, lastUserMessage: user,
            system: system, scenario: scenario, content: content, reasoning: reasoning, toolCalls: toolCalls, failure: failure, fault: fault)
    }

    static let fixtures = [
        fixture("exact", user: .equals("ping"), content: "pong"),
        fixture("contains", user: .contains("weather"), content: "It is sunny in the mock."),
        fixture("regex", user: .regex("^order #[0-9]+$"), content: "Your order is on its way."),
        fixture("pirate", system: .contains("pirate"), content: "Arr!"),
        fixture("scenario", scenario: "outage", failure: .init(status: 503, message: "down for the test")),
        fixture("limited", user: .equals("slow down"), failure: .init(status: 429, retryAfterMs: 1500)),
        fixture(
            "tools", user: .contains("call a tool"),
            toolCalls: [.init(id: "call_fixed", name: "get_weather", arguments: #"{"city":"Paris"}"#)]),
        fixture("broken", user: .equals("break the stream"), content: "one two three four five six", fault: .disconnect),
        fixture("bad chunk", user: .equals("bad chunk"), content: "one two three four", fault: .malformedChunk),
        fixture("error event", user: .equals("error event"), content: "one two three four", fault: .errorEvent),
    ]

    static func server(_ personality: InferenceSettings.Personality = .instant, apiKey: String? = nil, capacity: Int = 1000) -> MockInferenceServer {
        MockInferenceServer(
            settings: InferenceSettings(
                name: personality.rawValue, personality: personality, models: [personality.rawValue, "openai/gpt-4o-mini"], fixtures: fixtures,
                apiKey: apiKey, embeddingDimensions: 8, journalCapacity: capacity, maxBodyBytes: 64 * 1024))
    }

    static func chatBody(_ message: String, model: String = "instant", extra: String = "") -> ByteBuffer {
        let encoded = String(decoding: try! JSONEncoder().encode(message), as: UTF8.self)
        return ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":\#(encoded)}]\#(extra)}"#)
    }

    func withServer(_ server: MockInferenceServer = Self.server(), _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: server.router())
        try await app.test(.router, body)
    }

    func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])
    }

    /// The `data:` payloads of an event stream, `[DONE]` included.
    func events(_ buffer: ByteBuffer) -> [String] {
        String(buffer: buffer).components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }

    func message(_ object: [String: Any]) -> [String: Any] {
        ((object["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]) ?? [:]
    }

    // MARK: Chat

    @Test func answersDeterministicallyWithoutAFixture() async throws {
        try await withServer { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("hello mock world")) { response in
                    #expect(response.status == .ok)
                    let body = try object(response.body)
                    #expect(body["object"] as? String == "chat.completion")
                    #expect(body["model"] as? String == "instant")
                    #expect(message(body)["content"] as? String == "You said: hello mock world")
                    #expect(message(body)["role"] as? String == "assistant")
                    let usage = try #require(body["usage"] as? [String: Int])
                    #expect(usage["prompt_tokens"] == 3)
                    #expect(usage["completion_tokens"] == 5)
                    #expect(usage["total_tokens"] == 8)
                    #expect((body["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
                }
            }
        }
    }

    @Test func matchesFixturesByTextSystemPromptAndScenario() async throws {
        try await withServer { client in
            let cases = [("ping", "pong"), ("what is the weather?", "It is sunny in the mock."), ("order #42", "Your order is on its way.")]
            for (sent, expected) in cases {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody(sent)) { response in
                    let reply = try message(object(response.body))
                    #expect(reply["content"] as? String == expected)
                }
            }
            // Exact means exact; a regex is anchored as written.
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("ping!")) { response in
                let reply = try message(object(response.body))
                #expect(reply["content"] as? String == "You said: ping!")
            }
            let pirate = ByteBuffer(
                string:
                    #"{"model":"instant","messages":[{"role":"system","content":"You are a pirate."},{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#
            )
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: pirate) { response in
                let reply = try message(object(response.body))
                #expect(reply["content"] as? String == "Arr!")
            }
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [MockInferenceServer.scenarioHeader: "outage"], body: Self.chatBody("anything")
            ) { response in
                #expect(response.status == .serviceUnavailable)
                let error = try #require(try object(response.body)["error"] as? [String: Any])
                #expect(error["message"] as? String == "down for the test")
                #expect(error["type"] as? String == "server_error")
            }
        }
    }

    @Test func rateLimitsCarryRetryHeaders() async throws {
        try await withServer { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("slow down")) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[HTTPField.Name("retry-after-ms")!] == "1500")
                #expect(response.headers[.retryAfter] == "2")
                let error = try #require(try object(response.body)["error"] as? [String: Any])
                #expect(error["code"] as? String == "rate_limit_exceeded")
                #expect(error.keys.sorted() == ["code", "message", "param", "type"])
            }
            // OpenRouter's shape under /api/v1: a numeric code.
            try await client.execute(uri: "/api/v1/chat/completions", method: .post, body: Self.chatBody("slow down")) { response in
                let error = try #require(try object(response.body)["error"] as? [String: Any])
                #expect(error["code"] as? Int == 429)
                #expect(error["message"] != nil)
            }
        }
    }

    @Test func streamsRoleContentFinishUsageAndDone() async throws {
        try await withServer { client in
            let body = Self.chatBody("stream these words", extra: #","stream":true,"stream_options":{"include_usage":true}"#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                let payloads = events(response.body)
                #expect(payloads.last == "[DONE]")
                let chunks = try payloads.dropLast().map { try object(ByteBuffer(string: $0)) }
                let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
                #expect(deltas.first?["role"] as? String == "assistant")
                #expect(deltas.compactMap { $0["content"] as? String }.joined() == "You said: stream these words")
                #expect(deltas.dropFirst().allSatisfy { $0["role"] == nil })
                let finish = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
                #expect(finish == ["stop"])
                let last = try #require(chunks.last)
                #expect((last["choices"] as? [Any])?.isEmpty == true)
                #expect((last["usage"] as? [String: Int])?["completion_tokens"] == 5)
                #expect(chunks.dropLast().allSatisfy { $0["usage"] is NSNull })
                #expect(Set(chunks.compactMap { $0["id"] as? String }).count == 1)
            }
            // Without include_usage: no usage chunk, no usage key.
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("x", extra: #","stream":true"#)) { response in
                let chunks = try events(response.body).dropLast().map { try object(ByteBuffer(string: $0)) }
                #expect(chunks.allSatisfy { $0["usage"] == nil && ($0["choices"] as? [Any])?.count == 1 })
            }
        }
    }

    @Test func thinkingReasonsBeforeAnswering() async throws {
        try await withServer(Self.server(.thinking)) { client in
            try await client.execute(uri: "/api/v1/chat/completions", method: .post, body: Self.chatBody("why?", model: "thinking")) { response in
                let reply = message(try object(response.body))
                let reasoning = try #require(reply["reasoning"] as? String)
                #expect(reasoning.contains("why?"))
                #expect(reply["reasoning_content"] as? String == reasoning)
                let details = try #require(reply["reasoning_details"] as? [[String: Any]])
                #expect(details.first?["type"] as? String == "reasoning.text")
                #expect(details.first?["text"] as? String == reasoning)
                #expect(reply["content"] as? String == "You said: why?")
                let usage = try #require(try object(response.body)["usage"] as? [String: Any])
                #expect((usage["completion_tokens_details"] as? [String: Int])?["reasoning_tokens"] == AnswerComposer.tokens(reasoning).count)
            }
            let body = Self.chatBody("why?", model: "thinking", extra: #","stream":true"#)
            try await client.execute(uri: "/api/v1/chat/completions", method: .post, body: body) { response in
                let deltas = try events(response.body).dropLast().map { try object(ByteBuffer(string: $0)) }
                    .compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
                let kinds = deltas.compactMap { delta -> String? in
                    if delta["reasoning"] != nil { return "reasoning" }
                    if let content = delta["content"] as? String, !content.isEmpty { return "content" }
                    return nil
                }
                let firstContent = try #require(kinds.firstIndex(of: "content"))
                #expect(kinds.lastIndex(of: "reasoning")! < firstContent)
                #expect(deltas.compactMap { $0["reasoning"] as? String }.joined().contains("why?"))
            }
        }
    }

    @Test func toolCallsFromFixturesAndRequiredChoice() async throws {
        try await withServer { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("please call a tool")) { response in
                let body = try object(response.body)
                let calls = try #require(message(body)["tool_calls"] as? [[String: Any]])
                #expect(calls.first?["id"] as? String == "call_fixed")
                #expect((calls.first?["function"] as? [String: String])?["arguments"] == #"{"city":"Paris"}"#)
                #expect((body["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")
            }
            let required = ByteBuffer(
                string: #"""
                    {"model":"instant","messages":[{"role":"user","content":"hi"}],"stream":true,"tool_choice":"required",
                     "tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]}
                    """#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: required) { response in
                let deltas = try events(response.body).dropLast().map { try object(ByteBuffer(string: $0)) }
                    .compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
                let calls = deltas.compactMap { $0["tool_calls"] as? [[String: Any]] }.flatMap { $0 }
                #expect((calls.first?["function"] as? [String: Any])?["name"] as? String == "lookup")
                #expect(calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined() == "{}")
            }
            // A conversation carrying tool calls and a tool result is accepted and answered.
            let followUp = ByteBuffer(
                string: #"""
                    {"model":"instant","messages":[{"role":"user","content":"hi"},
                     {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{}"}}]},
                     {"role":"tool","tool_call_id":"call_1","content":"42"}]}
                    """#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: followUp) { response in
                let reply = try message(object(response.body))
                #expect(reply["content"] as? String == "Tool result received: 42")
            }
        }
    }

    @Test func maxTokensTruncatesWithLength() async throws {
        try await withServer { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("a b c d e", extra: #","max_tokens":3"#)) {
                response in
                let body = try object(response.body)
                #expect(message(body)["content"] as? String == "You said: a")
                #expect((body["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "length")
            }
        }
    }

    // MARK: Models and embeddings

    @Test func listsModelsAndKnowsUnknownOnes() async throws {
        try await withServer { client in
            try await client.execute(uri: "/v1/models", method: .get) { response in
                let data = try #require(try object(response.body)["data"] as? [[String: Any]])
                #expect(data.compactMap { $0["id"] as? String } == ["instant", "openai/gpt-4o-mini"])
            }
            try await client.execute(uri: "/api/v1/models/openai/gpt-4o-mini", method: .get) { response in
                let model = try object(response.body)
                #expect(model["id"] as? String == "openai/gpt-4o-mini")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("hi", model: "gpt-9")) { response in
                #expect(response.status == .notFound)
                let error = try #require(try object(response.body)["error"] as? [String: Any])
                #expect(error["code"] as? String == "model_not_found")
                #expect((error["message"] as? String)?.contains("gpt-9") == true)
            }
        }
    }

    @Test func embeddingsAreDeterministicInBothEncodings() async throws {
        try await withServer { client in
            var floats: [Double] = []
            try await client.execute(
                uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: #"{"model":"instant","input":["same text","other"]}"#)
            ) { response in
                let data = try #require(try object(response.body)["data"] as? [[String: Any]])
                #expect(data.count == 2)
                floats = try #require(data[0]["embedding"] as? [Double])
                #expect(floats.count == 8)
                #expect(abs(floats.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
                #expect(floats != (data[1]["embedding"] as? [Double]))
            }
            let expected = floats
            try await client.execute(
                uri: "/v1/embeddings", method: .post,
                body: ByteBuffer(string: #"{"model":"instant","input":"same text","encoding_format":"base64"}"#)
            ) { response in
                let data = try #require(try object(response.body)["data"] as? [[String: Any]])
                let encoded = try #require(data[0]["embedding"] as? String)
                let bytes = try #require(Data(base64Encoded: encoded))
                let decoded = stride(from: 0, to: bytes.count, by: 4).map { offset in
                    Double(
                        Float(bitPattern: bytes[offset..<offset + 4].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }))
                }
                #expect(decoded.count == 8)
                for (left, right) in zip(decoded, expected) { #expect(abs(left - right) < 1e-6) }
            }
            try await client.execute(
                uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: #"{"model":"instant","input":"x","dimensions":3}"#)
            ) { response in
                let list = try object(response.body)
                #expect(((list["data"] as? [[String: Any]])?.first?["embedding"] as? [Any])?.count == 3)
            }
        }
    }

    /// Token ids stand as their digits: `[1,2]` embeds as the text "1 2", and a list of such lists as one each.
    @Test func tokenIDInputsEmbedAsTheirDigits() async throws {
        try await withServer { client in
            func embeddings(_ input: String) async throws -> [[Double]] {
                try await client.execute(
                    uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: #"{"model":"instant","input":\#(input)}"#)
                ) { response in
                    #expect(response.status == .ok, "\(input)")
                    let data = try #require(try object(response.body)["data"] as? [[String: Any]], "\(input)")
                    return data.compactMap { $0["embedding"] as? [Double] }
                }
            }
            let texts = try await embeddings(#"["1 2","3"]"#)
            #expect(texts.count == 2)
            #expect(try await embeddings("[1,2]") == [texts[0]])
            #expect(try await embeddings("[[1,2],[3]]") == texts)
        }
    }

    // MARK: Bad input

    @Test func badInputGetsOpenAIErrorsNeverA500() async throws {
        try await withServer { client in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                ("{not json", .badRequest, nil),
                (#"{"messages":[{"role":"user","content":"x"}]}"#, .badRequest, "model"),
                (#"{"model":"instant"}"#, .badRequest, "messages"),
                (#"{"model":"instant","messages":"hi"}"#, .badRequest, "messages"),
                (#"{"model":"instant","messages":[{"role":"user","content":5}]}"#, .badRequest, "messages[0].content"),
                (#"{"model":"instant","messages":[{"role":"robot","content":"x"}]}"#, .badRequest, "messages[0].role"),
                (#"{"model":"instant","messages":[]}"#, .badRequest, "messages"),
                (#"{"model":7,"messages":[]}"#, .badRequest, "model"),
                (#"{"model":null,"messages":[{"role":"user","content":"x"}]}"#, .badRequest, "model"),
                (#"{"model":"instant","messages":["x"]}"#, .badRequest, "messages[0]"),
                (#"{"model":"instant","messages":[{"content":"x"}]}"#, .badRequest, "messages[0].role"),
                (#"{"model":"instant","messages":[{"role":"user","content":[{"text":"x"}]}]}"#, .badRequest, "messages[0].content[0].type"),
                (#"{"model":"instant","messages":[{"role":"user","content":"x"}],"stream":1}"#, .badRequest, "stream"),
                (#"{"model":"instant","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}"#, .badRequest, "max_tokens"),
                (
                    #"{"model":"instant","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":"yes"}}"#, .badRequest,
                    "stream_options.include_usage"
                ),
                (#"{"model":"instant","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}"#, .badRequest, "tool_choice"),
                (
                    #"{"model":"instant","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}]}"#,
                    .badRequest, "messages[0].tool_calls[0].function.arguments"
                ),
                ("[]", .badRequest, nil),
                ("5", .badRequest, nil),
                ("", .badRequest, nil),
            ]
            for (body, status, param) in cases {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == status, "\(body)")
                    let error = try #require(try object(response.body)["error"] as? [String: Any], "\(body)")
                    #expect(error["type"] as? String == "invalid_request_error")
                    #expect((error["param"] as? String) == param, "\(body): \(error)")
                    #expect(!(error["message"] as? String ?? "").isEmpty)
                }
            }
            let oversized = ByteBuffer(
                string: #"{"model":"instant","messages":[{"role":"user","content":""# + String(repeating: "x", count: 70_000) + "\"}]}")
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: oversized) { response in
                #expect(response.status == .contentTooLarge)
                let replied = try object(response.body)
                #expect((replied["error"] as? [String: Any])?["code"] as? String == "request_too_large")
            }
            try await client.execute(uri: "/v1/completions/legacy", method: .post) { response in
                #expect(response.status == .notFound)
                let replied = try object(response.body)
                #expect((replied["error"] as? [String: Any])?["message"] != nil)
            }
            let badEmbeddings = [
                (#"{"model":"instant","input":{"a":1}}"#, "input"), (#"{"model":"instant"}"#, "input"),
                (#"{"model":"instant","input":[1,"a"]}"#, "input"),
                (#"{"model":"instant","input":"x","dimensions":"8"}"#, "dimensions"),
            ]
            for (body, param) in badEmbeddings {
                try await client.execute(uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    let error = try #require(try object(response.body)["error"] as? [String: Any], "\(body)")
                    #expect(error["param"] as? String == param, "\(body): \(error)")
                }
            }
            // Content given as parts counts its text parts.
            let parts =
                #"{"model":"instant","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]}]}"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: parts)) { response in
                let reply = try message(object(response.body))
                #expect(reply["content"] as? String == "You said: a\nb")
            }
        }
    }

    @Test func apiKeyIsCheckedWhenConfigured() async throws {
        try await withServer(Self.server(apiKey: "sk-devstack-test-key")) { client in
            try await client.execute(uri: "/v1/models", method: .get) { response in
                #expect(response.status == .unauthorized)
                let replied = try object(response.body)
                #expect((replied["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
            }
            try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer sk-wrong-key-123"]) { response in
                #expect(response.status == .unauthorized)
                #expect(!String(buffer: response.body).contains("sk-wrong-key-123"))
            }
            let headers: HTTPFields = [
                .authorization: "Bearer sk-devstack-test-key", HTTPField.Name("HTTP-Referer")!: "https://example.test",
                HTTPField.Name("X-Title")!: "devstack tests",
            ]
            try await client.execute(uri: "/v1/models", method: .get, headers: headers) { response in
                #expect(response.status == .ok)
            }
            // Health and the control routes are devstack's, not the API's.
            try await client.execute(uri: "/health", method: .get) { response in #expect(response.status == .ok) }
        }
    }

    // MARK: Faults

    @Test func injectedFaultsByCountFractionAndScenario() async throws {
        try await withServer { client in
            try await client.execute(
                uri: "/__devstack/faults", method: .post, body: ByteBuffer(string: #"{"status":500,"count":2,"path":"chat/completions"}"#)
            ) { response in
                #expect(response.status == .created)
                let rule = try object(response.body)
                #expect(rule["id"] as? String == "fault_1")
            }
            var statuses: [Int] = []
            for _ in 0..<3 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("x")) {
                    statuses.append(Int($0.status.code))
                }
            }
            #expect(statuses == [500, 500, 200])

            try await client.execute(uri: "/__devstack/faults", method: .post, body: ByteBuffer(string: #"{"status":502,"fraction":0.5}"#)) { _ in }
            statuses = []
            for _ in 0..<4 {
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("x")) {
                    statuses.append(Int($0.status.code))
                }
            }
            #expect(statuses == [200, 502, 200, 502])
            try await client.execute(uri: "/__devstack/faults", method: .delete) { _ in }

            try await client.execute(
                uri: "/__devstack/faults", method: .post, body: ByteBuffer(string: #"{"status":429,"scenario":"busy","retry_after_ms":250}"#)
            ) { _ in }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("x")) { #expect($0.status == .ok) }
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [MockInferenceServer.scenarioHeader: "busy"], body: Self.chatBody("x")
            ) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[HTTPField.Name("retry-after-ms")!] == "250")
                #expect(response.headers[.retryAfter] == "1")
            }
            try await client.execute(uri: "/__devstack/faults", method: .get) { response in
                let data = try #require(try object(response.body)["data"] as? [[String: Any]])
                #expect(data.first?["applied"] as? Int == 1)
            }
            // Nonsense rules are refused in the same error shape.
            for bad in [#"{"count":1}"#, #"{"status":200}"#, #"{"status":500,"fraction":2}"#, #"{"fault":"explode"}"#, "nope"] {
                try await client.execute(uri: "/__devstack/faults", method: .post, body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                }
            }
            try await client.execute(uri: "/__devstack/faults/fault_99", method: .delete) { #expect($0.status == .notFound) }
        }
    }

    @Test func streamFaultsBreakTheStreamAsAsked() async throws {
        try await withServer { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("bad chunk", extra: #","stream":true"#)) {
                response in
                let payloads = events(response.body)
                #expect(payloads.contains { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil && $0 != "[DONE]" })
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: Self.chatBody("error event", extra: #","stream":true"#)) {
                response in
                let payloads = events(response.body)
                #expect(payloads.last?.contains("\"error\"") == true)
                #expect(!payloads.contains("[DONE]"))
            }
        }
    }

    @Test func disconnectMidStreamReachesTheClient() async throws {
        let app = Application(router: Self.server().router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        _ = try await app.test(.live) { client in
            await #expect(throws: (any Error).self) {
                try await client.execute(
                    uri: "/v1/chat/completions", method: .post, body: Self.chatBody("break the stream", extra: #","stream":true"#)
                ) {
                    response in
                    // Either the client fails, or it saw a stream without its end.
                    if !String(buffer: response.body).contains("[DONE]") { throw CancellationError() }
                }
            }
        }
    }

    // MARK: Journal

    @Test func journalRecordsFiltersClearsAndStaysBounded() async throws {
        let server = Self.server(capacity: 10)
        try await withServer(server) { client in
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [MockInferenceServer.scenarioHeader: "checkout"], body: Self.chatBody("ping")
            ) { _ in }
            try await client.execute(uri: "/v1/embeddings", method: .post, body: ByteBuffer(string: #"{"model":"instant","input":"x"}"#)) { _ in }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: "{")) { _ in }
            try await client.execute(uri: "/__devstack/requests?scenario=checkout", method: .get) { response in
                let data = try #require(try object(response.body)["data"] as? [[String: Any]])
                #expect(data.count == 1)
                #expect(data.first?["fixture"] as? String == "exact")
                #expect(data.first?["status"] as? Int == 200)
                #expect(((data.first?["body"] as? [String: Any])?["messages"] as? [Any])?.count == 1)
            }
            try await client.execute(uri: "/__devstack/requests?status=400", method: .get) { response in
                let replied = try object(response.body)
                #expect((replied["data"] as? [Any])?.count == 1)
            }
            try await client.execute(uri: "/__devstack/requests?path=embeddings", method: .get) { response in
                let replied = try object(response.body)
                #expect((replied["data"] as? [Any])?.count == 1)
            }
            for _ in 0..<30 { try await client.execute(uri: "/v1/models", method: .get) { _ in } }
            #expect(server.state.entries().count <= 10)
            try await client.execute(uri: "/__devstack/requests", method: .delete) { _ in }
            #expect(server.state.entries().isEmpty)
        }
        let (requests, faults) = server.state.reset()
        #expect(requests == 0 && faults == 0)
    }

    @Test func aLargeBodyIsJournaledByItsBeginningSizeAndHash() async throws {
        // ~60 KB of prompt against a journal that keeps 1 KiB of each body.
        let server = MockInferenceServer(
            settings: InferenceSettings(name: "instant", personality: .instant, fixtures: Self.fixtures, maxBodyBytes: 1 << 20),
            journal: InferenceState(capacity: 1000, byteCapacity: 16 << 20, bodyLimit: 1024))
        let body = Self.chatBody(String(repeating: "long prompt ", count: 5000))
        try await withServer(server) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body) { #expect($0.status == .ok) }
            try await client.execute(uri: "/__devstack/requests", method: .get) { response in
                let entry = try #require((try object(response.body)["data"] as? [[String: Any]])?.first)
                #expect(entry["body_truncated"] as? Bool == true)
                #expect(entry["body_bytes"] as? Int == body.readableBytes)
                let hash = SHA256.hash(data: Data(buffer: body)).map { String(format: "%02x", $0) }.joined()
                #expect(entry["body_sha256"] as? String == hash)
                #expect((entry["body"] as? String)?.utf8.count == 1024)
            }
        }
    }

    @Test func theJournalIsBoundedInBytesAsWellAsRequests() {
        let state = InferenceState(capacity: 1000, byteCapacity: 1 << 20, bodyLimit: 64 << 10)
        for number in 1...200 {
            state.record(
                JournalEntry(
                    id: number, time: Date(), method: "POST", path: "/v1/chat/completions", status: 200, durationMs: 1, headers: [:],
                    body: Data(count: 3_500_000), bodyBytes: 3_500_000, bodySHA256: nil))
        }
        let entries = state.entries()
        #expect(entries.reduce(0) { $0 + $1.cost } <= 1 << 20)
        #expect(entries.allSatisfy { $0.body.count == 64 << 10 && $0.bodyBytes == 3_500_000 && $0.bodySHA256?.count == 64 })
        #expect(entries.last?.id == 200, "the newest requests are the ones kept")
        #expect(entries.count >= 10)
    }

    @Test func writtenJSONParsesBackToWhatWasWritten() throws {
        let texts = ["plain", "quote \" and backslash \\", "lines\nand\ttabs\r", "control \u{01}\u{1F}\u{08}\u{0C}", "slash / café 日本 🙂", ""]
        var out = JSONOutput()
        out.object { out in
            out.key("texts")
            out.array(texts) { out, text in out.string(text) }
            out.member("count", texts.count)
            out.member("missing", nil as String?)
        }
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(out.buffer.readableBytesView)) as? [String: Any])
        #expect(parsed["texts"] as? [String] == texts)
        #expect(parsed["count"] as? Int == texts.count)
        #expect(parsed["missing"] is NSNull)
    }

    @Test func tokensJoinBackToTheText() {
        for text in ["", "one", "   ", "  leading", "trailing  ", "a  b\nc", "You said: hi", "café\u{00A0}au lait", "日本 語\u{3000}です"] {
            #expect(AnswerComposer.tokens(text).joined() == text)
            #expect(AnswerComposer.tokenCount(text) == AnswerComposer.tokens(text).count, "\(text)")
        }
        #expect(AnswerComposer.tokenCount("café\u{00A0}au lait") == 3)
        #expect(AnswerComposer.tokens("You said: hi") == ["You", " said:", " hi"])
    }
}
