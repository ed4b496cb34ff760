import Foundation
import Hummingbird
import NIOCore

extension MockInferenceServer {
    /// `/__devstack/...`: the journal and fault injection, for tests and people.
    func addControlRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/__devstack/requests") { request, _ in
            let query = request.uri.queryParameters
            var entries = state.entries()
            if let path = query.get("path") { entries = entries.filter { $0.path.hasSuffix(path) } }
            if let model = query.get("model") { entries = entries.filter { $0.model == model } }
            if let scenario = query.get("scenario") { entries = entries.filter { $0.scenario == scenario } }
            if let status = query.get("status").flatMap(Int.init) { entries = entries.filter { $0.status == status } }
            if let limit = query.get("limit").flatMap(Int.init), limit >= 0 { entries = Array(entries.suffix(limit)) }
            let data = entries.map(Self.journalObject)
            let body = try JSONSerialization.data(withJSONObject: ["object": "list", "data": data], options: [.sortedKeys, .withoutEscapingSlashes])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.delete("/__devstack/requests") { _, _ in
            try json(["deleted": state.clearJournal()])
        }
        router.get("/__devstack/faults") { _, _ in
            try json(["data": state.activeFaults()])
        }
        router.post("/__devstack/faults") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            let rule: FaultRule
            do {
                var object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
                // The id is the server's to give (addFault); a client's is ignored, and its absence is no error.
                object["id"] = ""
                rule = try JSONDecoder().decode(FaultRule.self, from: try JSONSerialization.data(withJSONObject: object))
            } catch {
                throw InferenceError.decoding(error)
            }
            if let problem = rule.problem { throw InferenceError(400, problem.message, param: problem.param, code: "invalid_value") }
            return try json(state.addFault(rule), status: .created)
        }
        router.delete("/__devstack/faults") { _, _ in
            try json(["deleted": state.clearFaults()])
        }
        router.delete("/__devstack/faults/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard state.removeFault(id) else { throw InferenceError(404, "No fault '\(id)'.", code: "not_found") }
            return try json(["deleted": 1])
        }
    }

    static func journalObject(_ entry: JournalEntry) -> [String: Any] {
        var object: [String: Any] = [
            "id": entry.id, "time": entry.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)), "method": entry.method,
            "path": entry.path,
            "status": entry.status, "duration_ms": (entry.durationMs * 1000).rounded() / 1000, "headers": entry.headers,
        ]
        if let model = entry.model { object["model"] = model }
        if let scenario = entry.scenario { object["scenario"] = scenario }
        if let stream = entry.stream { object["stream"] = stream }
        if let fixture = entry.fixture { object["fixture"] = fixture }
        if let fault = entry.fault { object["fault"] = fault }
        if let hash = entry.bodySHA256 {
            // Only the beginning was kept: as text, with what identifies the whole.
            object["body"] = String(decoding: entry.body, as: UTF8.self)
            object["body_truncated"] = true
            object["body_bytes"] = entry.bodyBytes
            object["body_sha256"] = hash
        } else if !entry.body.isEmpty {
            object["body"] =
                (try? JSONSerialization.jsonObject(with: entry.body, options: [.fragmentsAllowed])) ?? String(decoding: entry.body, as: UTF8.self)
        }
        return object
    }
}
