import AsyncHTTPClient
import DevstackCore
import DevstackProject
import DevstackSystem
import Foundation
import NIOCore

/// What needs a person — a crash loop, a failed service, a disk running low — posted as JSON to the
/// profile's `alerts.webhook`. A webhook that does not answer is tried three times, then the failure
/// is written to the supervisor's output; the stack itself is never held up by it.
actor AlertSender {
    struct Event: Codable, Sendable {
        var event: String
        var stack: String
        var profile: String
        var service: String?
        var detail: String
        var at: Date
    }

    private let webhook: String?
    private let stack: String
    private let profile: String

    init(plan: Plan) {
        webhook = plan.profile.alertWebhook
        stack = plan.stack
        profile = plan.profile.name
    }

    func send(_ event: String, service: String? = nil, detail: String) async {
        guard let webhook else { return }
        let body = Event(event: event, stack: stack, profile: profile, service: service, detail: detail, at: Date())
        guard let data = try? StateStore.encoder.encode(body) else { return }
        var failure = ""
        for attempt in 0..<3 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(500 * attempt)) }
            var request = HTTPClientRequest(url: webhook)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "user-agent", value: "devstack")
            request.body = .bytes(ByteBuffer(data: data))
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 1 << 16)
                if (200..<300).contains(Int(response.status.code)) { return }
                failure = "answered \(response.status.code)"
            } catch {
                failure = "\(error)"
            }
        }
        Descriptor.writeAll(STDERR_FILENO, Data("devstack: the alert webhook did not take the \(event) event: \(failure)\n".utf8))
    }
}
