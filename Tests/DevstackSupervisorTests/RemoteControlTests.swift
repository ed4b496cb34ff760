import DevstackCore
import DevstackProject
import DevstackTestSupport
import Foundation
import Hummingbird
import NIOCore
import Testing

@testable import DevstackSupervisor

@Suite struct RemoteControlTests {
    @Test func everyRouteNeedsTheRoleItsIssueNames() {
        func role(_ method: HTTPRequest.Method, _ path: String) -> AccessRole? { RemoteControl.requiredRole(method: method, path: path) }
        #expect(role(.get, "/v1/ca.pem") == nil)
        for path in ["/v1/status", "/v1/whoami", "/v1/connection", "/v1/migrations", "/healthz", "/metrics"] {
            #expect(role(.get, path) == .read, "\(path)")
        }
        #expect(role(.get, "/v1/logs") == .test)
        #expect(role(.get, "/v1/backups") == .test)
        #expect(role(.post, "/v1/smoke") == .test)
        #expect(role(.get, "/v1/snapshots") == .test)
        #expect(role(.post, "/v1/snapshots/before") == .test && role(.delete, "/v1/snapshots/before") == .test)
        for path in ["/v1/reset", "/v1/migrations", "/v1/backups", "/v1/backups/restore", "/v1/services/db/stop", "/v1/anything"] {
            #expect(role(.post, path) == .admin, "\(path)")
        }
        #expect(role(.delete, "/v1/status") == .admin)
        #expect(RemoteControl.hostOnlySecrets.contains("backup_key"))
    }

    @Test func theCallLogNamesEachTokenAndRotatesAsTheServicesLogsDo() async throws {
        try await withTemporaryDirectory { directory in
            let log = try CallLog(directory: directory.path, rotation: LogRotation(maxBytes: 4096, keep: 2))
            let request = Request(
                head: HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/v1/reset?force=1"), body: .init(buffer: ByteBuffer()))
            log.record(name: "ci", role: .test, request: request, client: "192.168.1.30", status: 403)
            log.record(name: nil, role: nil, request: request, client: "192.168.1.31", status: 401)
            let current = try #require(directory.read("remote-calls.log"))
            #expect(current.contains("token=ci role=test client=192.168.1.30 POST /v1/reset 403"), "\(current)")
            #expect(current.contains("token=- client=192.168.1.31 POST /v1/reset 401"))
            for _ in 0..<200 { log.record(name: "ci", role: .test, request: request, client: "192.168.1.30", status: 200) }
            #expect(directory.read("remote-calls.log.1") != nil && directory.read("remote-calls.log.2") != nil)
            #expect(directory.read("remote-calls.log.3") == nil, "keep: 2")
            #expect((directory.read("remote-calls.log")?.utf8.count ?? .max) <= 4096)
        }
    }
}
