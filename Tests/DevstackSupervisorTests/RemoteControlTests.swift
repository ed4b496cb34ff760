import DevstackProject
import Hummingbird
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
}
