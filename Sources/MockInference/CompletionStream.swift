import DevstackCore
import Foundation
import Hummingbird
import NIOCore

/// One streamed completion as server-sent events: the role, reasoning deltas, content deltas (or
/// tool-call deltas), the finish reason, the usage chunk when asked for, then `[DONE]`. Each token is
/// written at its own deadline on a fixed schedule, so delays do not drift.
struct CompletionStream: Sendable {
    let id: String
    let created: Int
    let model: String
    let answer: Answer
    let includeUsage: Bool
    let fault: InferenceFixture.Fault?
    let openRouter: Bool
    let keepAlive: Bool
    let jitter: Duration

    static let keepAliveInterval: Duration = .milliseconds(250)

    func write(to writer: inout any ResponseBodyWriter) async throws {
        let clock = ContinuousClock()
        var deadline = clock.now
        if keepAlive { try await writer.write(ByteBuffer(string: ": OPENROUTER PROCESSING\n\n")) }
        deadline = deadline + answer.timeToFirstToken + .random(upTo: jitter)
        if keepAlive {
            while deadline - clock.now > Self.keepAliveInterval {
                try await Task.sleep(until: clock.now + Self.keepAliveInterval, clock: clock)
                try await writer.write(ByteBuffer(string: ": OPENROUTER PROCESSING\n\n"))
            }
        }
        try await Task.sleep(until: deadline, clock: clock)
        try await writer.write(event(ChatChunk.Delta(role: "assistant", content: "")))

        let reasoning = answer.reasoning.map(AnswerComposer.tokens) ?? []
        let content = answer.content.map(AnswerComposer.tokens) ?? []
        // Faults strike halfway through the answer.
        let faultAt = (reasoning.count + content.count) / 2
        var sent = 0
        for (kind, token) in reasoning.map({ (true, $0) }) + content.map({ (false, $0) }) {
            if sent > 0 {
                deadline = deadline + answer.tokenDelay + .random(upTo: jitter)
                try await Task.sleep(until: deadline, clock: clock)
            }
            if sent == faultAt, let fault, try await strike(fault, writer: &writer) { return }
            try await writer.write(event(kind ? ChatChunk.Delta(reasoning: token) : ChatChunk.Delta(content: token)))
            sent += 1
        }
        if sent == 0, let fault, try await strike(fault, writer: &writer) { return }
        for (index, call) in answer.toolCalls.enumerated() {
            try await writer.write(
                event(
                    ChatChunk.Delta(toolCalls: [
                        .init(index: index, id: call.id, type: "function", function: .init(name: call.function.name, arguments: ""))
                    ])))
            try await writer.write(
                event(ChatChunk.Delta(toolCalls: [.init(index: index, function: .init(arguments: call.function.arguments))])))
        }
        try await writer.write(
            chunk(
                ChatChunk(
                    id: id, created: created, model: model, choice: .init(delta: .init(), finishReason: answer.finishReason), usage: usageField(nil)))
        )
        if includeUsage {
            let usage = Usage(promptTokens: answer.promptTokens, completionTokens: answer.completionTokens, reasoningTokens: answer.reasoningTokens)
            try await writer.write(chunk(ChatChunk(id: id, created: created, model: model, choice: nil, usage: .some(usage))))
        }
        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
        try await writer.finish(nil)
    }

    /// Breaks the stream as the fault says; true when the stream is over.
    private func strike(_ fault: InferenceFixture.Fault, writer: inout any ResponseBodyWriter) async throws -> Bool {
        switch fault {
        case .disconnect:
            throw Disconnect()
        case .malformedChunk:
            try await writer.write(ByteBuffer(string: "data: {\"id\": \"\(id)\", \"choices\": [{\"delta\": {\"content\"\n\n"))
            return false
        case .errorEvent:
            let error = InferenceError(500, "The model failed while streaming (injected by devstack).")
            var buffer = ByteBuffer(string: "data: ")
            buffer.writeImmutableBuffer(error.body(openRouter: openRouter))
            buffer.writeString("\n\n")
            try await writer.write(buffer)
            try await writer.finish(nil)
            return true
        case .hang:
            return false
        }
    }

    private func usageField(_ usage: Usage?) -> Usage?? { includeUsage ? .some(usage) : .none }

    private func event(_ delta: ChatChunk.Delta) -> ByteBuffer {
        chunk(ChatChunk(id: id, created: created, model: model, choice: .init(delta: delta, finishReason: nil), usage: usageField(nil)))
    }

    private func chunk(_ chunk: ChatChunk) -> ByteBuffer {
        var out = JSONOutput(into: ByteBuffer(string: "data: "))
        chunk.write(to: &out)
        var buffer = out.buffer
        buffer.writeString("\n\n")
        return buffer
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Jitter: a random extra wait from zero to `bound`.
    static func random(upTo bound: Duration) -> Duration {
        bound > .zero ? .nanoseconds(Int64.random(in: 0...bound.nanoseconds)) : .zero
    }
}
