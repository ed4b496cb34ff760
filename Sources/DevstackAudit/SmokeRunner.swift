import AsyncHTTPClient
import DevstackCore
import DevstackPostgres
import DevstackProject
import Foundation
import NIOCore

/// What one smoke check found.
public struct SmokeResult: Codable, Sendable {
    public var name: String
    public var ok: Bool
    /// The request or query, as run.
    public var check: String
    public var detail: String
    public var milliseconds: Int
}

/// `devstack smoke`: the stack's `smoke:` checks against a profile's services. On production every
/// check only reads: an HTTP method other than GET or HEAD is refused before anything runs, and
/// every query runs in a READ ONLY transaction, so a statement that writes fails there.
public enum SmokeRunner {
    /// The checks a production profile refuses to run, with why; empty elsewhere.
    public static func refusals(_ plan: Plan, checks: [PlannedSmokeCheck]) -> [String] {
        guard plan.profile.environment == .production else { return [] }
        return checks.filter { !$0.isReadOnly }.map {
            "'\($0.name)' sends \($0.method ?? "?"): against production a smoke check only reads (GET or HEAD)"
        }
    }

    /// Runs `checks` one after another; `running`: the profile's stack here, if it runs here.
    public static func run(_ plan: Plan, checks: [PlannedSmokeCheck], running: SupervisorRecord?) async -> [SmokeResult] {
        var results: [SmokeResult] = []
        for check in checks {
            let began = ContinuousClock.now
            let (ok, detail) = await run(check, plan: plan, running: running)
            results.append(
                SmokeResult(
                    name: check.name, ok: ok,
                    check: check.query.map { "SQL on \(check.database ?? "?"): \($0)" } ?? "\(check.method ?? "GET") \(check.url ?? "")",
                    detail: detail, milliseconds: Int((ContinuousClock.now - began).milliseconds)))
        }
        return results
    }

    private static func run(_ check: PlannedSmokeCheck, plan: Plan, running: SupervisorRecord?) async -> (Bool, String) {
        do {
            if let query = check.query { return try await runQuery(query, check: check, plan: plan, running: running) }
            return try await runRequest(check)
        } catch {
            return (false, PostgresSession.message(of: error))
        }
    }

    private static func runRequest(_ check: PlannedSmokeCheck) async throws -> (Bool, String) {
        guard let url = check.url, let method = check.method else { return (false, "no URL") }
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        request.headers.add(name: "user-agent", value: "devstack smoke")
        if let body = check.body {
            request.headers.add(name: "content-type", value: body.hasPrefix("{") || body.hasPrefix("[") ? "application/json" : "text/plain")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let status = Int(response.status.code)
        guard status == check.status ?? 200 else { return (false, "answered \(status), expected \(check.status ?? 200): \(text.prefix(200))") }
        if let fragment = check.contains, !text.contains(fragment) { return (false, "answered \(status) without '\(fragment)': \(text.prefix(200))") }
        return (true, "answered \(status)" + (check.contains.map { " with '\($0)'" } ?? ""))
    }

    /// Production: in a READ ONLY transaction, rolled back. Elsewhere: in a transaction that commits (a check may write).
    private static func runQuery(_ query: String, check: PlannedSmokeCheck, plan: Plan, running: SupervisorRecord?) async throws -> (Bool, String) {
        guard let service = plan.services.first(where: { $0.name == check.database }) else { return (false, "no database \(check.database ?? "")") }
        let endpoint: PostgresSession.Endpoint
        if plan.profile.remote {
            guard let url = service.remoteURL, let remote = PostgresSession.Endpoint(url: url) else {
                return (false, "profile '\(plan.profile.name)' gives \(service.name) no postgresql:// URL with a user and password")
            }
            endpoint = remote
        } else {
            guard running != nil else { return (false, "the stack is not running here: devstack up --profile \(plan.profile.name)") }
            guard var local = PostgresSession.Endpoint.of(service) else { return (false, "\(service.name) has no port or password") }
            local.socketDirectory = nil
            endpoint = local
        }
        let readOnly = plan.profile.environment == .production
        return try await PostgresSession.with(endpoint) { session in
            try await session.execute(readOnly ? "begin transaction read only" : "begin")
            do {
                let rows = try await session.printedRows(query)
                try await session.execute(readOnly ? "rollback" : "commit")
                let first = rows.first.map { $0.map { $0 ?? "null" }.joined(separator: " | ") } ?? "no rows"
                if let fragment = check.contains, !first.contains(fragment) { return (false, "first row '\(first)' holds no '\(fragment)'") }
                return (true, "\(rows.count) row\(rows.count == 1 ? "" : "s"): \(first.prefix(120))" + (readOnly ? " (read only)" : ""))
            } catch {
                try? await session.execute("rollback")
                throw error
            }
        }
    }
}
