import DevstackCore
import DevstackHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// An OpenAI- and OpenRouter-compatible inference server with deterministic answers, configurable
/// timing, injected faults and a request journal. Routes, under both `/v1` and `/api/v1`:
///
///     POST chat/completions    non-streaming and SSE streaming, reasoning, tool calls
///     GET  models, models/{id}
///     POST embeddings          float or base64 float32
///     GET  /health
///     GET|DELETE /__devstack/requests         the journal (?path= &model= &scenario= &status= &limit=)
///     GET|POST|DELETE /__devstack/faults[/{id}]
public struct MockInferenceServer: Sendable {
    public let settings: InferenceSettings
    public let state: InferenceState
    let composer: AnswerComposer

    public static let scenarioHeader = HTTPField.Name("X-Devstack-Scenario")!

    public init(settings: InferenceSettings, journal: InferenceState? = nil) {
        self.settings = settings
        self.state = journal ?? InferenceState(capacity: settings.journalCapacity)
        self.composer = AnswerComposer(settings: settings)
    }

    public func application(host: String, port: Int, logger: Logger) -> some ApplicationProtocol & Service {
        Application(
            router: router(), server: .devstack(), configuration: .init(address: .hostname(host, port: port), serverName: "devstack-inference"),
            logger: logger)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIErrorShapeMiddleware())
        for prefix in ["/v1", "/api/v1"] {
            let openRouter = prefix == "/api/v1"
            router.post("\(prefix)/chat/completions") { request, _ in
                await journaled(request, endpoint: "chat/completions", openRouter: openRouter) { request, note in
                    try await chat(&request, note: &note, openRouter: openRouter)
                }
            }
            router.post("\(prefix)/embeddings") { request, _ in
                await journaled(request, endpoint: "embeddings", openRouter: openRouter) { request, note in
                    try await embeddings(&request, note: &note)
                }
            }
            router.get("\(prefix)/models") { request, _ in
                await journaled(request, endpoint: "models", openRouter: openRouter) { request, note in
                    try failIfInjected(note: &note)
                    return try json(ModelList(data: settings.models.map { Model(id: $0) }))
                }
            }
            // OpenRouter's model ids hold a slash (openai/gpt-4o).
            router.get("\(prefix)/models/**") { request, context in
                let model = context.parameters.getCatchAll().joined(separator: "/")
                return await journaled(request, endpoint: "models", openRouter: openRouter) { request, note in
                    try failIfInjected(note: &note)
                    guard settings.models.contains(model) else { throw Self.unknownModel(model) }
                    return try json(Model(id: model))
                }
            }
        }
        router.get("/health") { _, _ in try json(["status": "ok", "service": settings.name]) }
        addControlRoutes(router)
        return router
    }

    // MARK: Journal

    /// What a handler learned about its request, for the journal.
    struct Note {
        var path: String
        var model: String?
        var scenario: String?
        var stream: Bool?
        var fixture: String?
        var fault: String?
        var body = Data()
        var injected: FaultRule?
        var number = 0
    }

    /// Runs an API handler: key check, fault lookup, and one journal entry whatever the outcome.
    private func journaled(
        _ request: Request, endpoint: String, openRouter: Bool, _ handler: (inout Request, inout Note) async throws -> Response
    ) async -> Response {
        let started = ContinuousClock.now
        var request = request
        var note = Note(path: endpoint, scenario: request.headers[Self.scenarioHeader])
        let response: Response
        do {
            try authorize(request)
            response = try await handler(&request, &note)
        } catch let error as InferenceError {
            response = error.response(openRouter: openRouter)
        } catch {
            response = InferenceError(500, "The mock could not answer: \(error)").response(openRouter: openRouter)
        }
        var headers: [String: String] = [:]
        for field in request.headers where Self.journaledHeaders.contains(field.name.canonicalName) {
            headers[field.name.canonicalName] = field.name == .authorization ? "Bearer …" : field.value
        }
        state.record(
            JournalEntry(
                id: note.number, time: Date(), method: request.method.rawValue, path: request.uri.path, status: Int(response.status.code),
                model: note.model, scenario: note.scenario, stream: note.stream, fixture: note.fixture, fault: note.fault,
                durationMs: Double((ContinuousClock.now - started).nanoseconds) / 1e6, headers: headers, body: note.body,
                bodyBytes: note.body.count, bodySHA256: nil))
        return response
    }

    static let journaledHeaders: Set = [
        "authorization", "user-agent", "http-referer", "x-title", "x-devstack-scenario", "x-stainless-retry-count", "openai-organization",
    ]

    private func authorize(_ request: Request) throws {
        guard let key = settings.apiKey else { return }
        let sent = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let sent, ConstantTime.equal(sent, key) else {
            let shown = sent.map { $0.count > 8 ? "\($0.prefix(3))…\($0.suffix(4))" : "…" } ?? ""
            throw InferenceError(
                401,
                sent == nil
                    ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                    : "Incorrect API key provided: \(shown). The key is the api_key setting of service \(settings.name).",
                code: "invalid_api_key")
        }
    }

    private func failIfInjected(note: inout Note) throws {
        let (number, rule) = state.begin(path: note.path, model: note.model, scenario: note.scenario)
        note.number = number
        note.injected = rule
        if let rule {
            note.fault = rule.id
            if let failure = rule.failure { throw InferenceError(failure) }
        }
    }

    static func unknownModel(_ model: String) -> InferenceError {
        InferenceError(404, "The model `\(model)` does not exist or you do not have access to it.", code: "model_not_found")
    }

    /// The body, kept for the journal, up to the service's size limit.
    private func body(_ request: inout Request, note: inout Note) async throws -> Data {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: settings.maxBodyBytes)
        } catch {
            throw InferenceError(
                413, "Request body too large: the limit is \(settings.maxBodyBytes) bytes.", code: "request_too_large")
        }
        note.body = Data(buffer: buffer)
        return note.body
    }

    // MARK: Chat

    private func chat(_ request: inout Request, note: inout Note, openRouter: Bool) async throws -> Response {
        let chat = try ChatRequest(RequestFields(body: await body(&request, note: &note)))
        note.model = chat.model
        note.stream = chat.stream
        if chat.messages.isEmpty {
            throw InferenceError(
                400, "Invalid 'messages': empty array. Expected an array with minimum length 1.", param: "messages", code: "empty_array")
        }
        if let index = chat.messages.firstIndex(where: { !ChatMessage.roles.contains($0.role) }) {
            throw InferenceError(
                400,
                "Invalid value: '\(chat.messages[index].role)'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'.",
                param: "messages[\(index)].role", code: "invalid_value")
        }
        guard settings.models.contains(chat.model) else { throw Self.unknownModel(chat.model) }
        try failIfInjected(note: &note)
        let answer = composer.compose(chat, scenario: note.scenario)
        note.fixture = answer.fixture?.name
        if let failure = answer.fixture?.failure {
            try await wait(answer.timeToFirstToken)
            throw InferenceError(failure)
        }
        let fault = note.injected?.fault ?? answer.fixture?.fault
        if note.fault == nil, let fault { note.fault = fault.rawValue }
        if fault == .hang { try await hang() }
        let id = "chatcmpl-devstack-\(settings.name)-\(note.number)"
        let created = Int(Date().timeIntervalSince1970)
        if chat.stream {
            let stream = CompletionStream(
                id: id, created: created, model: chat.model, answer: answer, includeUsage: chat.includeUsage,
                fault: fault, openRouter: openRouter, keepAlive: settings.keepAlive, jitter: settings.jitter)
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in try await stream.write(to: &writer) })
        }
        let tokens = AnswerComposer.tokenCount(answer.content ?? "") + (answer.reasoningTokens ?? 0)
        try await wait(answer.timeToFirstToken + answer.tokenDelay * max(tokens - 1, 0))
        switch fault {
        case .disconnect:
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { _ in throw Disconnect() })
        case .malformedChunk:
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"id\": \"\(id)\", \"choi")))
        case .errorEvent:
            throw InferenceError(500, "The model failed while answering (injected by devstack).")
        default: break
        }
        let completion = ChatCompletion(
            id: id, created: created, model: chat.model,
            message: AssistantMessage(
                content: answer.content ?? (answer.toolCalls.isEmpty ? "" : nil), reasoning: answer.reasoning, toolCalls: answer.toolCalls),
            finishReason: answer.finishReason,
            usage: Usage(promptTokens: answer.promptTokens, completionTokens: answer.completionTokens, reasoningTokens: answer.reasoningTokens))
        var out = JSONOutput()
        completion.write(to: &out)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: out.buffer))
    }

    private func wait(_ duration: Duration) async throws {
        let total = duration + .random(upTo: settings.jitter)
        if total > .zero { try await Task.sleep(for: total) }
    }

    /// Holds the request until the client gives up, devstack stops, or the hang limit passes.
    private func hang() async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: settings.hangLimit) }
        throw InferenceError(504, "The request hung for \(DurationParser.format(settings.hangLimit)) (injected by devstack).")
    }

    // MARK: Embeddings

    private func embeddings(_ request: inout Request, note: inout Note) async throws -> Response {
        let embedding = try EmbeddingRequest(RequestFields(body: await body(&request, note: &note)))
        note.model = embedding.model
        guard settings.models.contains(embedding.model) else { throw Self.unknownModel(embedding.model) }
        if embedding.texts.isEmpty || embedding.texts.contains(where: \.isEmpty) {
            throw InferenceError(
                400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", param: "input")
        }
        let format = embedding.encodingFormat ?? "float"
        guard format == "float" || format == "base64" else {
            throw InferenceError(
                400, "Invalid value: '\(format)'. Supported values are: 'float' and 'base64'.", param: "encoding_format", code: "invalid_value")
        }
        let dimensions = embedding.dimensions ?? settings.embeddingDimensions
        guard (1...8192).contains(dimensions) else {
            throw InferenceError(400, "Invalid value for 'dimensions': must be from 1 to 8192.", param: "dimensions", code: "invalid_value")
        }
        try failIfInjected(note: &note)
        let data = embedding.texts.enumerated().map { index, text in
            Embedding(index: index, vector: AnswerComposer.embedding(of: text, dimensions: dimensions), base64: format == "base64")
        }
        let tokens = embedding.texts.reduce(0) { $0 + AnswerComposer.tokenCount($1) }
        return try json(EmbeddingList(data: data, model: embedding.model, usage: .init(promptTokens: tokens)))
    }
}

struct Disconnect: Error {}

func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Response(
        status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}
