import DevstackCore
import DevstackProject
import DevstackSupervisor
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

/// What a hostile or unlucky afternoon found, pinned with real processes: stops that must escalate,
/// folders someone else prepared, and what a crashed supervisor leaves for `down`.
@Suite(.serialized) struct HardeningTests {
    /// The whole group ignores SIGTERM (an ignored signal stays ignored across exec).
    static let stubborn = """
        services:
          stubborn:
            kind: process
            command: "trap '' TERM; while true; do sleep 0.1; done"
            stop: { signal: TERM, timeout: 1s }
        """

    /// The kernel's ephemeral range holds the shipped profiles' fixed ports; an auto port never lands there.
    @Test func autoPortsStayOutOfTheFixedProfilesBands() {
        var picked: [Int] = []
        for _ in 0..<3000 { if let port = Ports.freePort(avoiding: []) { picked.append(port) } }
        #expect(picked.count == 3000)
        #expect(picked.filter { port in Ports.fixedProfileBands.contains { $0.contains(port) } }.isEmpty)
    }

    @Test func aStopEscalatesToSIGKILLAfterItsTimeout() async throws {
        let stack = try StackUnderTest(stack: Self.stubborn)
        defer { stack.cleanUp() }
        let report = try await stack.waitFor("running") { $0.allReady }
        let group = try #require(report.services.first?.pid)
        // One signal only: the stop must finish by itself, within the declared timeout plus the kill.
        #expect(try await stack.stop(signal: SIGTERM, timeout: .seconds(30)) == 1)
        #expect(!ProcessTree.groupIsAlive(group))
        #expect(stack.log("stubborn").contains("did not stop within 1000ms of SIGTERM: killed"))
        #expect(stack.output.contains("devstack: stopped, but some services had to be killed"))
    }

    @Test func downOfADetachedStackEscalatesToo() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", Self.stubborn)
            try directory.write("profiles/local.yaml", "ports: auto\n")
            defer { _ = try? DevstackBinary.run(["down"], in: directory.path) }
            let up = try DevstackBinary.run(["up", "--detach"], in: directory.path)
            #expect(up.status == 0, "\(up.standardError)")
            let down = try DevstackBinary.run(["down", "--timeout", "20s"], in: directory.path)
            #expect(down.status == 0, "\(down.standardError)")
            #expect(down.standardOutput.contains("devstack: stopped"))
            #expect(await ProcessTree.remaining(whereArgumentsContain: directory.path).isEmpty)
        }
    }

    @Test func probesHaveNoSayOnceAStopBegan() async throws {
        // Its stop signal makes its health check fail, and it keeps running: the probe must not turn
        // `stopping` into `unhealthy` (nor restart it).
        let stack = try StackUnderTest(
            stack: """
                services:
                  fading:
                    kind: process
                    command: "trap 'rm -f alive' TERM; touch alive; while true; do sleep 0.1; done"
                    health: { exec: "test -f alive", interval: 50ms, retries: 1 }
                    restart: { policy: always }
                    stop: { signal: TERM, timeout: 1500ms }
                """)
        defer { stack.cleanUp() }
        try await stack.waitFor("healthy") { $0.services.first?.phase == .healthy }
        kill(stack.process.processIdentifier, SIGTERM)
        var phases: [ServicePhase] = []
        while stack.process.isRunning {
            if let phase = await stack.status()?.services.first?.phase, phases.last != phase { phases.append(phase) }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(phases.contains(.stopping), "\(phases)")
        #expect(phases.allSatisfy { $0 == .healthy || $0 == .stopping || $0 == .stopped }, "\(phases)")
        #expect(!stack.log("fading").contains("restarting"))
    }

    @Test func aRuntimeFolderSomeoneElsePreparedIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let victim = "\(directory.path)/victim"
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
            chmod(victim, 0o755)
            let before = try FileManager.default.attributesOfItem(atPath: victim)
            let stack = """
                services:
                  db: { kind: postgres }
                """
            try directory.write("project/stacks/default/stack.yaml", stack)
            try directory.write("project/profiles/local.yaml", "ports: auto\ndata: ephemeral\n")
            let project = "\(directory.path)/project"
            let runtime = "\(directory.path)/runtime"

            // Writable by everyone, with a link planted where the project's folder goes.
            mkdir(runtime, 0o777)
            chmod(runtime, 0o777)
            let planned = "\(runtime)/\(StableHash.of("\(project)/.devstack/local"))"
            try FileManager.default.createSymbolicLink(atPath: planned, withDestinationPath: victim)
            let open = try DevstackBinary.run(["up", "--detach"], in: project, environment: ["DEVSTACK_RUNTIME_DIR": runtime])
            #expect(open.status != 0)
            #expect(open.standardError.contains("\(runtime) may be written by other users (mode 777)"), "\(open.standardError)")
            #expect(open.standardError.contains("DEVSTACK_RUNTIME_DIR"))

            // The root is fine now, but the project's folder in it is a link.
            chmod(runtime, 0o711)
            let linked = try DevstackBinary.run(["up", "--detach"], in: project, environment: ["DEVSTACK_RUNTIME_DIR": runtime])
            #expect(linked.status != 0)
            #expect(linked.standardError.contains("\(planned) is a symbolic link"), "\(linked.standardError)")

            if getuid() == 0 {
                // Made by another user.
                unlink(planned)
                mkdir(planned, 0o711)
                chown(planned, 65534, 65534)
                let foreign = try DevstackBinary.run(["up", "--detach"], in: project, environment: ["DEVSTACK_RUNTIME_DIR": runtime])
                #expect(foreign.status != 0)
                #expect(foreign.standardError.contains("\(planned) belongs to another user (uid 65534)"), "\(foreign.standardError)")
                rmdir(planned)
            }
            let after = try FileManager.default.attributesOfItem(atPath: victim)
            #expect(after[.posixPermissions] as? Int == before[.posixPermissions] as? Int)
            #expect(after[.ownerAccountID] as? Int == before[.ownerAccountID] as? Int)
            #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
            #expect(await ProcessTree.remaining(whereArgumentsContain: project).isEmpty)
        }
    }

    @Test func theRuntimeFolderIsPrivateAndGoesWithTheStack() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", "services:\n  db: { kind: postgres }\n")
            try directory.write("profiles/local.yaml", "ports: auto\ndata: ephemeral\n")
            // The `postgres` user (devstack as root) must pass through to its socket.
            chmod(directory.path, 0o711)
            let runtime = "\(directory.path)/runtime"
            let environment = ["DEVSTACK_RUNTIME_DIR": runtime]
            defer { _ = try? DevstackBinary.run(["down"], in: directory.path, environment: environment) }
            let up = try DevstackBinary.run(["up", "--detach"], in: directory.path, environment: environment)
            #expect(up.status == 0, "\(up.standardError)")
            let planned = "\(runtime)/\(StableHash.of("\(directory.path)/.devstack/local"))"
            for folder in [runtime, planned] {
                let attributes = try FileManager.default.attributesOfItem(atPath: folder)
                #expect(attributes[.posixPermissions] as? Int == 0o711, "\(folder)")
                #expect(attributes[.ownerAccountID] as? Int == Int(getuid()), "\(folder)")
            }
            #expect(FileManager.default.fileExists(atPath: "\(planned)/db-data/PG_VERSION"))
            let down = try DevstackBinary.run(["down"], in: directory.path, environment: environment)
            #expect(down.status == 0)
            #expect(!FileManager.default.fileExists(atPath: planned))
        }
    }

    @Test func downAfterASupervisorCrashRemovesTheThrowAwayData() async throws {
        let stack = try StackUnderTest(
            stack: "services:\n  db: { kind: postgres }\n", profile: "ports: auto\ndata: ephemeral\n")
        defer { stack.cleanUp() }
        try await stack.waitFor("db healthy") { $0.services.first?.phase == .healthy }
        let runtime = try #require(stack.store.load()?.runtimeDirectory)
        #expect(FileManager.default.fileExists(atPath: "\(runtime)/db-data/PG_VERSION"))
        kill(stack.process.processIdentifier, SIGKILL)
        _ = try await stack.waitForExit()
        let down = try stack.devstack(["down"])
        #expect(down.status == 0, "\(down.standardError)")
        #expect(down.standardOutput.contains("devstack: cleaned up"), "\(down.standardOutput)")
        #expect(!FileManager.default.fileExists(atPath: runtime))
        #expect(await ProcessTree.remaining(whereArgumentsContain: stack.path).isEmpty)
    }
}

/// Messages that said the wrong thing: what happened, where, and the right exit status.
@Suite struct HardeningMessageTests {
    @Test func aStackFileThatIsAFolderOrUnreadableIsSaidSo() async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: "\(directory.path)/stacks/default/stack.yaml", withIntermediateDirectories: true)
            try directory.write("profiles/local.yaml", "ports: auto\n")
            let folder = try DevstackBinary.run(["validate"], in: directory.path)
            #expect(folder.status == 2)
            #expect(folder.standardError.contains("stacks/default/stack.yaml is a folder, not a file"), "\(folder.standardError)")
            #expect(!folder.standardError.contains("does not exist"))

            try FileManager.default.removeItem(atPath: "\(directory.path)/stacks/default/stack.yaml")
            try directory.write("stacks/default/stack.yaml", "services:\n  a: { kind: process, command: [\"true\"] }\n")
            let profile = "\(directory.path)/profiles/local.yaml"
            chmod(profile, 0o600)
            // Root reads anything: the unreadable file is tried as another user (nobody) when the tests run as root.
            var command = [DevstackBinary.path, "validate"]
            if getuid() == 0 {
                chmod(directory.path, 0o755)
                command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + command
            } else {
                chmod(profile, 0o000)
            }
            let unreadable = try DevstackBinary.runProcess(command[0], Array(command.dropFirst()), in: directory.path)
            #expect(unreadable.status == 2)
            #expect(unreadable.standardError.contains("profiles/local.yaml cannot be read (permission denied)"), "\(unreadable.standardError)")
            #expect(unreadable.standardError.contains("check its owner and mode"))
        }
    }

    @Test func anUnknownServiceIsAUsageErrorAndAMissingProjectFolderIsNotCreated() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", "services:\n  a: { kind: process, command: [\"sleep\", \"60\"] }\n")
            try directory.write("profiles/local.yaml", "ports: auto\n")
            let unknown = try DevstackBinary.run(["up", "nosuch"], in: directory.path)
            #expect(unknown.status == 2)
            #expect(unknown.standardError.contains("no service 'nosuch'"))

            let missing = "\(directory.path)/no/such/project"
            let up = try DevstackBinary.run(["up", "--project-dir", missing], in: directory.path)
            #expect(up.status == 2)
            #expect(up.standardError.contains("--project-dir \(missing) does not exist"), "\(up.standardError)")
            #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/no"))
        }
    }

    @Test func theLoserOfTwoSimultaneousDetachedUpsSaysWhoRuns() async throws {
        try await withTemporaryDirectory { directory in
            try directory.write("stacks/default/stack.yaml", "services:\n  a: { kind: process, command: [\"sleep\", \"600\"] }\n")
            try directory.write("profiles/local.yaml", "ports: auto\n")
            defer { _ = try? DevstackBinary.run(["down"], in: directory.path) }
            async let first = Task.detached { try DevstackBinary.run(["up", "--detach"], in: directory.path) }.value
            async let second = Task.detached { try DevstackBinary.run(["up", "--detach"], in: directory.path) }.value
            let results = try await [first, second]
            let winners = results.filter { $0.status == 0 }
            let losers = results.filter { $0.status != 0 }
            #expect(winners.count == 1, "\(results.map(\.standardError))")
            let loser = try #require(losers.first)
            #expect(loser.standardError.contains("already running (pid "), "\(loser.standardError)")
            #expect(!loser.standardError.contains("background supervisor exited"))
        }
    }

    @Test func aStackWithSixteenThousandVariablesPlansWithAllOfThem() async throws {
        try await withTemporaryDirectory { directory in
            let names = (0..<16_000).map { "VARIABLE_\($0)" }
            let env = names.map { "      \($0): value-\($0)" }.joined(separator: "\n")
            try directory.write("stacks/default/stack.yaml", "services:\n  a:\n    kind: process\n    command: [\"true\"]\n    env:\n\(env)\n")
            try directory.write("profiles/local.yaml", "ports: auto\n")
            let result = try DevstackBinary.run(["env", "--service", "a", "--format", "json"], in: directory.path)
            #expect(result.status == 0, "\(result.standardError)")
            let values = try JSONDecoder().decode([String: String].self, from: Data(result.standardOutput.utf8))
            #expect(names.allSatisfy { values[$0] == "value-\($0)" })
        }
    }
}
