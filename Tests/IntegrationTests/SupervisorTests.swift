import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

/// The supervisor with real processes. Assertions are on order, counts and states, never on wall-clock limits.
@Suite(.serialized) struct SupervisorTests {
    @Test func startsInDependencyOrderGatedByHealth() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  web:
                    kind: process
                    command: "echo web >> order.txt; exec sleep 600"
                    depends_on: { api: healthy }
                  api:
                    kind: process
                    command: "echo api >> order.txt; touch api.ready; exec sleep 600"
                    depends_on: { db: healthy }
                    health: { exec: "test -f api.ready" }
                  db:
                    kind: process
                    command: "sleep 0.3; echo db >> order.txt; exec python3 -m http.server ${self.port} --bind 127.0.0.1"
                    ports: [http]
                    health: { http: / }
                """)
        defer { stack.cleanUp() }
        let report = try await stack.waitFor("all ready") { $0.allReady }
        #expect(stack.directory.read("order.txt") == "db\napi\nweb\n")
        #expect(stack.service("db", in: report)?.health == "healthy")
        #expect(try await stack.stop() == 0)
    }

    @Test func crashingServiceRestartsWithGrowingDelaysThenFails() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  crasher:
                    kind: process
                    command: "echo crashing; exit 3"
                    restart: { policy: on-failure, backoff: 50ms, max_backoff: 400ms, max_restarts: 4, window: 10m }
                """)
        defer { stack.cleanUp() }
        let report = try await stack.waitFor("crash loop") { $0.services.first?.phase == .failed }
        let crasher = try #require(report.services.first)
        #expect(crasher.restarts == 4)
        #expect(crasher.detail?.contains("crash loop: 4 restarts") == true)
        #expect(crasher.lastExit == "exit code 3")
        let log = stack.log("crasher")
        #expect(log.components(separatedBy: " out crashing").count - 1 == 5)
        let delays = log.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "restarting in ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(delays.count == 4)
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 < $1 }, "backoff must grow: \(delays)")
        #expect(log.contains("giving up"))
        #expect(try await stack.stop() == 0)
    }

    @Test func livenessFailureRestartsTheService() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  flaky:
                    kind: process
                    command: "touch alive; exec sleep 600"
                    health: { exec: "test -f alive", interval: 100ms, retries: 2, timeout: 2s }
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("healthy") { $0.services.first?.phase == .healthy }
        try FileManager.default.removeItem(atPath: "\(stack.path)/alive")
        let report = try await stack.waitFor("restarted and healthy again") {
            $0.services.first?.restarts == 1 && $0.services.first?.phase == .healthy
        }
        #expect(report.services.first?.lastExitReason == "health check failed 2 times in a row")
        #expect(stack.log("flaky").contains("health check failed 2 times in a row: restarting"))
        #expect(try await stack.stop() == 0)
    }

    /// `GET path` on the control socket, through Python's http.client: the status and the body.
    func controlGet(_ socket: String, _ path: String) throws -> (status: Int, body: String) {
        let script = """
            import http.client, socket, sys
            class Unix(http.client.HTTPConnection):
                def connect(self):
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.sock.connect(sys.argv[1])
            connection = Unix("localhost")
            connection.request("GET", sys.argv[2])
            answer = connection.getresponse()
            print(answer.status)
            print(answer.headers.get("content-type"))
            print(answer.read().decode())
            """
        let result = ToolOutput.run("/usr/bin/env", ["python3", "-c", script, socket, path])
        let lines = result.output.split(separator: "\n", maxSplits: 1).map(String.init)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? lines[1] : "")
    }

    @Test func healthzAndMetricsOnTheControlSocket() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  steady:
                    kind: process
                    command: "exec sleep 600"
                    health: { exec: "true", interval: 100ms }
                  never:
                    kind: process
                    command: "exec sleep 600"
                    health: { exec: "false", interval: 100ms, start_period: 10m }
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("steady healthy") { $0.services.first { $0.name == "steady" }?.phase == .healthy }
        let socket = try #require(stack.store.load()).controlSocket
        let health = try controlGet(socket, "/healthz")
        #expect(health.status == 503)
        #expect(health.body.contains(#""waiting" : ["#) && health.body.contains("never (starting)"), "\(health.body)")
        let metrics = try controlGet(socket, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.hasPrefix("text/plain; version=0.0.4"))
        #expect(metrics.body.contains(#"devstack_service_up{service="steady",kind="process"} 1"#))
        #expect(metrics.body.contains(#"devstack_service_state{service="never",state="starting"} 1"#))
        #expect(metrics.body.contains(#"devstack_service_probe_seconds{service="steady"} "#))
        let printed = try stack.devstack(["status", "--metrics"])
        #expect(printed.status == 0)
        #expect(printed.standardOutput.contains(#"devstack_supervisor_resident_bytes "#))
        #expect(try await stack.stop() == 0)
    }

    @Test func exitOnFailureStopsTheStackWithFailure() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  steady:
                    kind: process
                    command: ["sleep", "600"]
                  broken:
                    kind: process
                    command: "echo boom >&2; exit 1"
                    restart: "no"
                """, arguments: ["--exit-on-failure"])
        defer { stack.cleanUp() }
        #expect(try await stack.waitForExit() == 1)
        #expect(stack.output.contains("devstack: stopping (broken failed)"))
        #expect(stack.log("broken").contains(" err boom"))
    }

    @Test func shutsDownInReverseDependencyOrderOnSIGTERM() async throws {
        func service(_ name: String, after: String?) -> String {
            """
              \(name):
                kind: process
                command: "trap 'echo stop \(name) >> order.txt; exit 0' TERM; while true; do sleep 0.05; done"
            \(after.map { "    depends_on: [\($0)]\n" } ?? "")
            """
        }
        let stack = try StackUnderTest(stack: "services:\n" + service("a", after: nil) + service("b", after: "a") + service("c", after: "b"))
        defer { stack.cleanUp() }
        try await stack.waitFor("all ready") { $0.allReady }
        #expect(try await stack.stop(signal: SIGTERM) == 0)
        #expect(stack.directory.read("order.txt") == "stop c\nstop b\nstop a\n")
        #expect(stack.output.contains("devstack: stopped cleanly"))
        #expect(stack.store.load() == nil)
    }

    @Test func aSecondSignalForcesTheStopAndTheExitStatusSaysSo() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  stubborn:
                    kind: process
                    command: "trap '' TERM; while true; do sleep 0.05; done"
                    stop: { signal: TERM, timeout: 10m }
                """)
        defer { stack.cleanUp() }
        let report = try await stack.waitFor("running") { $0.allReady }
        let group = try #require(report.services.first?.pid)
        kill(stack.process.processIdentifier, SIGTERM)
        try await stack.waitFor("stopping") { $0.services.first?.phase == .stopping }
        #expect(try await stack.stop(signal: SIGTERM) == 1)
        #expect(stack.output.contains("press Ctrl-C again to force"))
        #expect(stack.log("stubborn").contains("killed: the stop was forced"))
        #expect(stack.output.contains("devstack: stopped, but some services had to be killed"))
        #expect(!ProcessTree.groupIsAlive(group))
    }

    @Test func childrenStartWithAnEmptySignalMaskAndDefaultHandlers() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  probe:
                    kind: process
                    command: ["/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]
                    restart: "no"
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("completed") { $0.services.first?.phase == .completed }
        let log = stack.log("probe")
        #expect(log.contains(" out SigBlk:\t0000000000000000"), "a blocked signal in the child: \(log)")
        // The signals devstack handles (INT, TERM, HUP) must not arrive ignored: that would make stops fail.
        let ignored =
            log.split(separator: "\n").first { $0.contains("SigIgn:") }.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) } ?? .max
        let handledByDevstack: UInt64 = (1 << (UInt64(SIGINT) - 1)) | (1 << (UInt64(SIGTERM) - 1)) | (1 << (UInt64(SIGHUP) - 1))
        #expect(ignored & handledByDevstack == 0, "SigIgn \(String(ignored, radix: 16))")
        #expect(try await stack.stop() == 0)
    }

    @Test func killDashNineOfDevstackLeavesNoProcess() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  direct:
                    kind: process
                    command: ["sleep", "600"]
                  family:
                    kind: process
                    command: "sleep 600 & sleep 600 & wait"
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("all ready") { $0.allReady }
        let groups = try #require(stack.store.load()).children.values.map(\.processGroup)
        #expect(groups.count == 2)
        let guardian = ProcessTree.child(of: stack.process.processIdentifier, containing: "__guardian")
        #expect(guardian != nil)
        kill(stack.process.processIdentifier, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline && (groups.contains(where: ProcessTree.groupIsAlive) || guardian.map(ProcessTable.isAlive) == true) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!groups.contains(where: ProcessTree.groupIsAlive), "children or grandchildren outlived devstack")
        #expect(guardian.map(ProcessTable.isAlive) == false)
    }

    @Test func secondUpIsRefusedAndStaleStateIsRecovered() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  family:
                    kind: process
                    command: "sleep 600 & wait"
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("ready") { $0.allReady }
        let second = try stack.devstack(["up"])
        #expect(second.status == 1)
        #expect(second.standardError.contains("already running (pid \(stack.process.processIdentifier)"))
        // Simulate a crash that also took the guardian: the grandchild `sleep` is left over.
        let group = try #require(stack.store.load()?.children["family"]?.processGroup)
        let guardian = try #require(ProcessTree.child(of: stack.process.processIdentifier, containing: "__guardian"))
        kill(guardian, SIGKILL)
        kill(stack.process.processIdentifier, SIGKILL)
        _ = try await stack.waitForExit()
        #expect(ProcessTree.groupIsAlive(group), "the test needs a leftover to recover")
        let down = try stack.devstack(["down"])
        #expect(down.status == 0)
        #expect(down.standardOutput.contains("did not stop cleanly"))
        #expect(down.standardOutput.contains("stopping leftover family"))
        #expect(!ProcessTree.groupIsAlive(group))
        #expect(stack.store.load() == nil)
    }

    @Test func everyLinePrintedBeforeExitReachesTheLogFile() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  chatty:
                    kind: process
                    command: ["seq", "1", "100000"]
                    restart: "no"
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("completed") { $0.services.first?.phase == .completed }
        let lines = stack.log("chatty").split(separator: "\n").filter { $0.contains(" out ") }
        #expect(lines.count == 100_000)
        #expect(lines.last?.hasSuffix(" out 100000") == true)
        #expect(try await stack.stop() == 0)
    }

    @Test func binaryAndVeryLongLinesAreHandled() async throws {
        let stack = try StackUnderTest(
            stack: """
                services:
                  odd:
                    kind: process
                    command: "printf 'bin\\\\000\\\\377\\\\033[31mred\\\\n'; head -c 300000 /dev/zero | tr '\\\\0' x; echo; echo after"
                    restart: "no"
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("completed") { $0.services.first?.phase == .completed }
        let log = stack.log("odd")
        #expect(log.contains(" out after"))
        #expect(log.contains(String(repeating: "x", count: 300_000)))
        #expect(stack.output.contains("bin\\x00\u{FFFD}\\x1b[31mred"))
        #expect(try await stack.stop() == 0)
    }

    @Test func portInUseNamesPortServiceAndHolder() async throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", "services:\n  web:\n    kind: process\n    command: [sleep, '600']\n    ports: [http]\n")
            try directory.write("profiles/local.yaml", "ports: { base: 45000 }\nservices:\n  web:\n    ports: { http: \(listener.port) }\n")
            let result = try DevstackBinary.run(["up"], in: directory.path)
            #expect(result.status == 1)
            #expect(result.standardError.contains("port \(listener.port) for web.http is in use by pid \(getpid())"))
            #expect(result.standardError.contains("nothing was started"))
            #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/.devstack/local/state.json"))
        }
    }

    @Test func execRunsWithTheStackEnvAndReturnsItsStatus() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write(
                "stacks/default/stack.yaml", "services:\n  web: { kind: process, command: [sleep, '1'], ports: [http] }\nenv:\n  WEB: ${web.url}\n")
            try directory.write("profiles/local.yaml", "ports: { base: 45100 }\n")
            let status = try DevstackBinary.run(["exec", "--", "sh", "-c", "exit 42"], in: directory.path)
            #expect(status.status == 42)
            let env = try DevstackBinary.run(["exec", "--", "sh", "-c", "printf %s \"$WEB\""], in: directory.path)
            #expect(env.standardOutput == "http://127.0.0.1:45100")
            let missing = try DevstackBinary.run(["exec", "--", "no-such-command-here"], in: directory.path)
            #expect(missing.status == 1)
            #expect(missing.standardError.contains("command 'no-such-command-here' not found"))
        }
    }

    @Test func detachReturnsWhenReadyThenStatusLogsAndDown() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write(
                "stacks/default/stack.yaml",
                """
                services:
                  web:
                    kind: process
                    command: "sleep 0.2; echo serving; exec python3 -m http.server ${self.port} --bind 127.0.0.1"
                    ports: [http]
                    health: { http: / }
                """)
            try directory.write("profiles/local.yaml", "ports: auto\n")
            defer { _ = try? DevstackBinary.run(["down"], in: directory.path) }
            let up = try DevstackBinary.run(["up", "--detach"], in: directory.path)
            #expect(up.status == 0, "\(up.standardError)")
            #expect(up.standardOutput.contains("1 service ready"))
            let status = try DevstackBinary.run(["status", "--json"], in: directory.path)
            let report = try StateStore.decoder.decode(StatusReport.self, from: Data(status.standardOutput.utf8))
            #expect(report.services.first?.phase == .healthy)
            #expect(report.detached)
            let pid = try #require(report.services.first?.pid)
            let logs = try DevstackBinary.run(["logs", "web", "-n", "50"], in: directory.path)
            #expect(logs.standardOutput.contains("web      | serving"))
            let restart = try DevstackBinary.run(["restart", "web"], in: directory.path)
            #expect(restart.status == 0)
            let down = try DevstackBinary.run(["down"], in: directory.path)
            #expect(down.standardOutput.contains("devstack: stopped"))
            #expect(!ProcessTable.isAlive(pid))
            #expect(await ProcessTree.remaining(whereArgumentsContain: directory.path).isEmpty)
            let after = try DevstackBinary.run(["status"], in: directory.path)
            #expect(after.status == 1)
        }
    }

    @Test func detachShowsThePortsTheBackgroundSupervisorHolds() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", "services:\n  instant:\n    kind: inference\n    model: instant\n")
            try directory.write("profiles/local.yaml", "ports: auto\n")
            defer { _ = try? DevstackBinary.run(["down"], in: directory.path) }
            let up = try DevstackBinary.run(["up", "--detach"], in: directory.path)
            #expect(up.status == 0, "\(up.standardError)")
            // Under `ports: auto` the background supervisor picks its own free ports; the summary must show those.
            let status = try DevstackBinary.run(["status", "--json"], in: directory.path)
            let report = try StateStore.decoder.decode(StatusReport.self, from: Data(status.standardOutput.utf8))
            let port = try #require(report.services.first?.ports["http"])
            #expect(up.standardOutput.contains("http://127.0.0.1:\(port)/v1"), "\(up.standardOutput)")
        }
    }

    @Test func detachNamesTheFailingServiceWithItsLastLines() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write(
                "stacks/default/stack.yaml",
                """
                services:
                  fine:
                    kind: process
                    command: [sleep, "600"]
                  broken:
                    kind: process
                    command: "echo 'cannot open config.toml' >&2; exit 2"
                    restart: "no"
                """)
            try directory.write("profiles/local.yaml", "ports: auto\n")
            defer { _ = try? DevstackBinary.run(["down"], in: directory.path) }
            let up = try DevstackBinary.run(["up", "--detach", "--wait-timeout", "60s"], in: directory.path)
            #expect(up.status == 1)
            #expect(up.standardError.contains("broken is exited: exit code 2"))
            #expect(up.standardError.contains("cannot open config.toml"))
            #expect(up.standardError.contains("the stack was stopped"))
            #expect(await ProcessTree.remaining(whereArgumentsContain: directory.path).isEmpty)
        }
    }
}

/// A listening socket on a free loopback port, held by the test process itself.
final class LoopbackListener {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else { throw StackTestError(message: "cannot listen") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    func close() { Descriptor.close(descriptor) }
}
