import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The few HTTP requests the audit makes: to the stack's own services and its scratch emulator, on loopback.
enum AuditHTTP {
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    static func send(_ method: String, _ url: String, headers: [(String, String)] = [], json: Any? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Data(buffer: body))
    }

    /// `GET /path` or `POST /path` from a probe setting.
    static func route(_ text: String?, default fallback: String) -> (method: String, path: String) {
        let parts = (text ?? fallback).split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return ("GET", parts.first ?? "/") }
        return (parts[0].uppercased(), parts[1].hasPrefix("/") ? parts[1] : "/" + parts[1])
    }
}
