import DevstackCore
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
}
