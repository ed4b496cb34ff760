import DevstackCore
import DevstackDriverKit
import DevstackPostgres
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

#if os(Linux)
    private let systemdIsThePlatformsManager = true
#else
    private let systemdIsThePlatformsManager = false
#endif

/// What systemd would see, without systemd: the unit checked by `systemd-analyze verify`, and the
/// notify protocol against a datagram socket standing in for systemd's.
@Suite(.serialized, .enabled(if: systemdIsThePlatformsManager, "systemd's unit checker and notify protocol are Linux's"))
struct ServiceManagerTests {
    @Test func theUnitInstallWouldWritePassesSystemdsChecker() throws {
        let directory = try TemporaryDirectory(prefix: "devstack unit")
        defer { directory.remove() }
        try directory.write("stacks/default/stack.yaml", "services:\n  web:\n    kind: process\n    command: [sleep, '600']\n")
        try directory.write("profiles/staging.yaml", "ports: auto\nprotected: true\n")
        let printed = try DevstackBinary.run(["service", "install", "--profile", "staging", "--dry-run"], in: directory.path)
        #expect(printed.status == 0, "\(printed.standardError)")
        let lines = printed.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        let path = try #require(lines.first.map { String($0.dropFirst(2)) })
        #expect(path.hasPrefix("/etc/systemd/system/devstack-") && path.hasSuffix("-staging.service"))
        #expect(lines.contains("# then: systemctl enable --now \(URL(fileURLWithPath: path).lastPathComponent)"))
        let unit = lines.dropFirst().filter { !$0.hasPrefix("# then: ") }.joined(separator: "\n")
        let file = "\(directory.path)/\(URL(fileURLWithPath: path).lastPathComponent)"
        try unit.write(toFile: file, atomically: true, encoding: .utf8)
        // The checker prints nothing for a sound unit; any warning (an unknown key, a bad value) fails the test.
        let verified = ToolOutput.run("/usr/bin/systemd-analyze", ["verify", file])
        #expect(verified.status == 0 && verified.output.isEmpty, "systemd-analyze verify: \(verified.output)\n\(unit)")
        // And a unit with a mistake is caught, so the check above is a real one.
        try unit.replacingOccurrences(of: "KillMode=mixed", with: "KillMode=sometimes").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(!ToolOutput.run("/usr/bin/systemd-analyze", ["verify", file]).output.isEmpty)
    }

    @Test func readyOnlyOnceHealthyTheWatchdogAtItsPaceAndStoppingOnStop() async throws {
        let folder = try TemporaryDirectory(prefix: "devstack-notify")
        defer { folder.remove() }
        let notify = try NotifySocket(in: folder.path)
        defer { notify.close() }
        let stack = try StackUnderTest(
            stack: """
                services:
                  slow:
                    kind: process
                    command: [sh, -c, "sleep 0.8; exec python3 -m http.server ${self.port.http} --bind 127.0.0.1"]
                    ports: [http]
                    health: { http: /, interval: 50ms }
                """,
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
        defer { stack.cleanUp() }
        let ready = try #require(await notify.waitFor("READY=1"), "no READY=1; got \(notify.messages.map(\.message))")
        // READY came once the service was healthy, not when it started.
        let report = try #require(await stack.status())
        #expect(report.services.first?.phase == .healthy)
        let readyMessage = try #require(notify.messages.first { $0.message.contains("READY=1") }?.message)
        #expect(readyMessage.contains("STATUS=1/1 services healthy"))
        // The service took 0.8 s to answer: before READY, systemd was told it was not healthy yet.
        #expect(notify.messages.contains { $0.at < ready && $0.message == "STATUS=0/1 services healthy" }, "\(notify.messages.map(\.message))")
        // The watchdog: half of WATCHDOG_USEC, so about every 100 ms.
        try await Task.sleep(for: .seconds(1))
        let beats = notify.messages.filter { $0.message == "WATCHDOG=1" }.map(\.at)
        #expect(beats.count >= 8, "only \(beats.count) WATCHDOG=1 in over a second")
        let gaps = zip(beats.dropFirst(), beats).map { ($0 - $1).fractionalMilliseconds }
        #expect((gaps.max() ?? 0) < 400, "a gap of \(gaps.max() ?? 0) ms between signs of life")
        #expect(try await stack.stop() == 0)
        #expect(await notify.waitFor("STOPPING=1", within: .seconds(5)) != nil)
    }

    /// A stand-in `systemd-inhibit` that records its arguments and runs the command it was given, as
    /// the real one does once logind grants the lock.
    static let fakeInhibit = """
        #!/bin/sh
        printf '%s\\n' "$@" > "$(dirname "$0")/inhibit.args"
        while [ "${1#--}" != "$1" ]; do shift; done
        exec "$@"
        """

    @Test func aProtectedProfileKeepsTheMachineAwakeUntilDevstackEnds() async throws {
        let bin = try TemporaryDirectory(prefix: "devstack-fake-inhibit")
        defer { bin.remove() }
        let script = try bin.write("systemd-inhibit", Self.fakeInhibit)
        chmod(script, 0o755)
        let stack = try StackUnderTest(
            stack: "services:\n  app:\n    kind: process\n    command: \"exec sleep 600\"\n", profile: "ports: auto\nprotected: true\n",
            environment: ["PATH": "\(bin.path):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")"])
        defer { stack.cleanUp() }
        try await stack.waitFor("running") { $0.services.first?.phase == .running }
        let supervisor = try #require(stack.store.load()).pid
        var arguments: [String] = []
        for _ in 0..<200 where arguments.isEmpty {
            arguments = (bin.read("inhibit.args") ?? "").split(separator: "\n").map(String.init)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(arguments.contains("--what=sleep:idle:handle-lid-switch"))
        #expect(arguments.contains("--mode=block"))
        #expect(arguments.contains("--pid=\(supervisor)"))
        for _ in 0..<200 where !stack.output.contains("keeping the machine awake") { try await Task.sleep(for: .milliseconds(10)) }
        #expect(stack.output.contains("keeping the machine awake while the stack serves (systemd-inhibit, pid"), "\(stack.output)")
        #expect(try await stack.stop() == 0)
        // The helper watched devstack's pid, and went with it.
        var left = ProcessTree.processes(whereArgumentsContain: "--pid=\(supervisor)")
        for _ in 0..<300 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
            left = ProcessTree.processes(whereArgumentsContain: "--pid=\(supervisor)")
        }
        #expect(left.isEmpty)
    }

    @Test func anUnprotectedProfileLetsTheMachineSleep() async throws {
        let stack = try StackUnderTest(stack: "services:\n  app:\n    kind: process\n    command: \"exec sleep 600\"\n")
        defer { stack.cleanUp() }
        try await stack.waitFor("running") { $0.services.first?.phase == .running }
        try await Task.sleep(for: .milliseconds(400))
        #expect(!stack.output.contains("the machine"), "\(stack.output)")
        #expect(try await stack.stop() == 0)
    }

    func doctor(_ stack: StackUnderTest, _ arguments: [String] = []) throws -> (status: Int32, findings: [String: [String: String]]) {
        let run = try stack.devstack(["doctor", "--json"] + arguments)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [[String: String]], "\(run.standardError)")
        #expect(list.map { $0["check"] ?? "" } == ["sleep", "disk", "clock", "unit", "stack", "backups"])
        for finding in list { #expect(!(finding["detail"] ?? "").isEmpty) }
        return (run.status, Dictionary(uniqueKeysWithValues: list.map { ($0["check"] ?? "", $0) }))
    }

    @Test func doctorSaysWhatWouldStopTheMachineServing() async throws {
        let stack = try StackUnderTest(
            stack: "services:\n  app:\n    kind: process\n    command: \"exec sleep 600\"\n",
            files: ["profiles/staging.yaml": "ports: auto\nprotected: true\n"])
        defer { stack.cleanUp() }
        try await stack.waitFor("running") { $0.services.first?.phase == .running }
        let local = try doctor(stack)
        #expect(local.status == 0)
        #expect(local.findings["stack"]?["status"] == "ok")
        #expect(local.findings["stack"]?["detail"] == "1 services up")
        #expect(["ok", "warn"].contains(local.findings["disk"]?["status"]))
        #expect(local.findings["disk"]?["detail"]?.contains("GiB free where the data is") == true)
        // Not an always-on profile: no unit is expected.
        #expect(local.findings["unit"]?["status"] == "not_checked")
        #expect(local.findings["backups"]?["status"] == "not_checked")
        // Staging (protected) is always-on: not running there is a failure, and so is no unit a warning.
        let staging = try doctor(stack, ["--profile", "staging"])
        #expect(staging.status == 1)
        #expect(staging.findings["stack"]?["status"] == "fail")
        #expect(staging.findings["unit"]?["status"] == "warn")
        #expect(staging.findings["unit"]?["fix"] == "devstack service install --profile staging")
        #expect(staging.findings["backups"]?["status"] == "warn")
        #expect(staging.findings["backups"]?["detail"] == "the profile takes no backups")
        #expect(try await stack.stop() == 0)
    }

    /// What systemd does after a crash, done by hand: the supervisor is killed with SIGKILL, and
    /// `devstack up` is started again with the unit's ExecStart arguments.
    @Test func aKilledSupervisorStartedAgainAsTheUnitDoesRecoversWithNoOrphanAndNoLostRow() async throws {
        let directory = try TemporaryDirectory(prefix: "devstack-stack")
        try directory.write("stacks/default/stack.yaml", "services:\n  db:\n    kind: postgres\n    database: app\n")
        try directory.write("profiles/local.yaml", "ports: auto\n")
        try directory.write("profiles/staging.yaml", "ports: auto\nprotected: true\nrestart: always\n")
        let unit = ServiceUnit(
            executable: DevstackBinary.path, projectDirectory: directory.path, stack: "default", profile: "staging", scope: .system, user: nil)
        let execStart = Array(
            unit.systemdUnit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }!.split(separator: " ").dropFirst(2).map(String.init))
        #expect(execStart == ["--stack", "default", "--profile", "staging", "--project-dir", directory.path])
        let first = try StackUnderTest(directory: directory, arguments: execStart)
        defer { first.cleanUp() }
        let endpoint = try await first.postgresEndpoint()
        try await PostgresSession.with(endpoint) { session in
            try await session.execute("create table kept (n int)")
            try await session.execute("insert into kept select generate_series(1, 100)")
        }
        let groups = try #require(first.store.load()).children.values.map(\.processGroup)
        kill(first.process.processIdentifier, SIGKILL)
        for _ in 0..<500 where groups.contains(where: ProcessTree.groupIsAlive) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!groups.contains(where: ProcessTree.groupIsAlive), "Postgres outlived the killed supervisor")

        let second = try first.restart(arguments: execStart)
        defer { second.cleanUp() }
        let again = try await second.postgresEndpoint()
        #expect(try await PostgresSession.with(again) { try await $0.strings("select count(*)::text from kept") } == ["100"])
        // One postmaster for the data folder: the new one.
        let data = try #require(try await PostgresSession.with(again) { try await $0.strings("show data_directory") }.first)
        let postmasters = ProcessTree.processes(whereArgumentsContain: "-D \(data) ")
        #expect(postmasters.count == 1, "\(data): \(postmasters)")
        #expect(try await second.stop() == 0)
    }

    @Test func alertsReachTheWebhookAndTheDiskGuardWarns() async throws {
        let hook = try await WebhookReceiver()
        defer { hook.stop() }
        let metricsPort = try #require(Ports.freePort(avoiding: []))
        let stack = try StackUnderTest(
            stack: """
                services:
                  crasher:
                    kind: process
                    command: "exit 3"
                    restart: { policy: always, backoff: 10ms, max_backoff: 50ms, max_restarts: 2, window: 1m }
                """,
            profile: "ports: auto\nalerts: { webhook: \"\(hook.url)\" }\ndisk: { min_free: 100000GB }\nmetrics: { port: \(metricsPort) }\n")
        defer { stack.cleanUp() }
        let events = try await hook.waitFor(["crash_loop", "disk_low"])
        let loop = events.first { $0["event"] as? String == "crash_loop" }
        #expect(loop?["service"] as? String == "crasher", "\(events)")
        #expect((loop?["detail"] as? String)?.hasPrefix("crash loop: 2 restarts within 1m") == true)
        #expect(loop?["profile"] as? String == "local")
        let disk = events.first { $0["event"] as? String == "disk_low" }
        #expect((disk?["detail"] as? String)?.contains("nothing is deleted") == true, "\(events)")
        #expect(stack.output.contains("devstack: disk low:"))
        #expect(try stack.devstack(["status", "--metrics"]).standardOutput.contains("devstack_disk_low 1"))
        // The profile's metrics port serves the same for a local Prometheus.
        let (status, metrics) = try await LoopbackHTTP.send("http://127.0.0.1:\(metricsPort)/metrics")
        #expect(status == 200 && metrics.contains("devstack_disk_low 1"), "\(status) \(metrics)")
        #expect(try await LoopbackHTTP.send("http://127.0.0.1:\(metricsPort)/healthz").0 == 503)
        #expect(try await stack.stop() == 0)
    }
}
