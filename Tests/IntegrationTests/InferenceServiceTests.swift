import DevstackDriverKit
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Mock inference servers hosted inside `devstack up`: supervised, reset and stopped like the rest.
@Suite(.serialized) struct InferenceServiceTests {
    static let stack = """
        services:
          instant:
            kind: inference
            model: instant
            fixtures: fixtures
          thinking:
            kind: inference
            model: thinking
            models: [thinking, deepseek-r1]
        env:
          INSTANT_URL: ${instant.url}
        """
    static let fixtures = """
        - name: hello
          match: { last_user_message: { contains: "hello" } }
          content: "Hi from a fixture"
        """

    func get(_ url: String, method: String = "GET", body: String? = nil) async throws -> (Int, String) {
        try await LoopbackHTTP.send(url, method: method, body: body)
    }

    @Test func hostedServersAnswerAreResetAndStopWithTheStack() async throws {
        let stack = try StackUnderTest(stack: Self.stack, files: ["stacks/default/fixtures/answers.yaml": Self.fixtures])
        defer { stack.cleanUp() }
        let report = try await stack.waitFor("both healthy") { $0.allReady }
        let instant = try #require(stack.service("instant", in: report))
        #expect(instant.pid == nil)
        #expect(instant.phase == .healthy)
        let url = try #require(instant.url)
        let port = try #require(instant.ports["http"])

        let chat = #"{"model":"instant","messages":[{"role":"user","content":"hello devstack"}]}"#
        let (status, body) = try await get("\(url)/chat/completions", method: "POST", body: chat)
        #expect(status == 200)
        #expect(body.contains("Hi from a fixture"))
        let models = try await get(try #require(stack.service("thinking", in: report)?.url) + "/models").1
        #expect(models.contains("deepseek-r1"))

        // `devstack env` wires the ports the running stack holds, hosted services included.
        let env = try stack.devstack(["env", "--format", "dotenv"])
        #expect(env.standardOutput == "INSTANT_URL='\(url)'\n", "\(env.standardError)")

        let reset = try stack.devstack(["reset", "--json"])
        #expect(reset.status == 0, "\(reset.standardError)")
        #expect(reset.standardOutput.contains("\"service\" : \"instant\""))
        let journal = try await get("http://127.0.0.1:\(port)/__devstack/requests").1
        #expect(journal.contains("\"data\":[]"))

        #expect(try await stack.stop() == 0)
        #expect(stack.output.contains("devstack: stopped cleanly"))
        // Nothing listens on the port any more.
        #expect(await HealthProbe.tcpConnects(port: port, timeout: .milliseconds(500)) == false)
    }

    @Test func aTakenPortIsNamedWithItsService() async throws {
        // Hold a port, then pin the mock to it.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(holder, 1)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(holder, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let stack = try StackUnderTest(
            stack: "services:\n  instant:\n    kind: inference\n    model: instant\n",
            profile: "ports: auto\nservices:\n  instant:\n    ports: { http: \(port) }\n")
        defer { stack.cleanUp() }
        let status = try await stack.waitForExit()
        #expect(status != 0)
        #expect(stack.output.contains("port \(port) for instant.http is in use by pid \(getpid())"))
        #expect(stack.output.contains("nothing was started"))
    }
}
