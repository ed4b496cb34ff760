import DevstackCore
import DevstackProject
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

/// Exposure to other machines, with 127.0.0.2 standing in for the LAN address: Postgres speaks TLS
/// there with the profile's certificate (`sslmode=verify-full`), other services only through
/// devstack's TLS, and nothing else listens on that address.
@Suite(.serialized) struct ExposureTests {
    static let stack = """
        services:
          db:
            kind: postgres
            database: app
          api:
            kind: process
            command: ["python3", "-m", "http.server", "${self.port}", "--bind", "127.0.0.1"]
            ports: [http]
            health: { http: / }
          hidden:
            kind: process
            command: ["python3", "-m", "http.server", "${self.port}", "--bind", "127.0.0.1"]
            ports: [http]
        """

    /// A client of another machine: its connections come from 127.0.0.3, which is not this machine's
    /// loopback client address. `tls` asks for TLS first (Postgres's SSLRequest) and reports the answer;
    /// without it, the server's answer to a plain start-up message.
    static let otherMachine = #"""
        import socket, ssl, struct, sys, urllib.request
        mode, port = sys.argv[1], int(sys.argv[2])
        if mode in ("postgres-plain", "postgres-tls"):
            s = socket.socket(); s.bind(("127.0.0.3", 0)); s.connect(("127.0.0.2", port))
            if mode == "postgres-tls":
                s.sendall(struct.pack("!ii", 8, 80877103)); print(s.recv(1).decode()); sys.exit(0)
            body = struct.pack("!i", 196608) + b"user\0postgres\0database\0app\0\0"
            s.sendall(struct.pack("!i", len(body) + 4) + body)
            reply = s.recv(4096)
            print(reply[0:1].decode(), reply.decode("latin-1").split("M", 1)[-1].split("\0")[0])
        else:
            context = ssl.create_default_context(cafile=sys.argv[3]) if len(sys.argv) > 3 else ssl.create_default_context()
            try:
                with urllib.request.urlopen(f"{mode}://127.0.0.2:{port}/", context=context, timeout=5) as answer:
                    print(answer.status)
            except Exception as error:
                print(type(error).__name__, error)
        """#

    static func run(_ executable: String, _ arguments: [String], in directory: String) throws -> DevstackBinary.Result {
        try DevstackBinary.runProcess("/usr/bin/env", [executable] + arguments, in: directory)
    }

    @Test func exposedServicesAnswerOnlyOverTLSWithTheProfilesAuthority() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack, arguments: ["--profile", "staging"],
            files: ["profiles/staging.yaml": "ports: auto\nprotected: true\nexpose: { address: 127.0.0.2, services: [db, api] }\n"])
        defer { stack.cleanUp() }
        let endpoint = try await stack.postgresEndpoint()
        let report = try await stack.waitFor("api healthy") { $0.services.allSatisfy(\.phase.isUp) }
        let api = try #require(report.services.first { $0.name == "api" }?.ports["http"])
        let hidden = try #require(report.services.first { $0.name == "hidden" }?.ports["http"])
        let authority = try stack.devstack(["ca", "--profile", "staging", "--path"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(authority == "\(stack.path)/.devstack/staging/tls/ca.pem")
        #expect(try stack.devstack(["ca", "--profile", "staging"]).standardOutput.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(stack.output.contains("exposed on 127.0.0.2 over TLS: db, api"))

        // Postgres: verify-full against the profile's authority, with the password.
        let connection = "host=127.0.0.2 port=\(endpoint.port) user=postgres dbname=app password=\(endpoint.password)"
        let verified = try Self.run(
            "psql",
            ["\(connection) sslmode=verify-full sslrootcert=\(authority)", "-Atc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"],
            in: stack.path)
        #expect(verified.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "t", "\(verified.standardError)")
        // Another authority's certificate is not trusted.
        let other = try TemporaryDirectory(prefix: "devstack-other-ca")
        defer { other.remove() }
        let otherExposure = PlannedExposure(address: "127.0.0.2", services: [], directory: other.path)
        try ProfileCertificates.ensure(otherExposure, profile: "other")
        let otherAuthority = otherExposure.authorityFile
        let wrong = try Self.run("psql", ["\(connection) sslmode=verify-full sslrootcert=\(otherAuthority)", "-Atc", "select 1"], in: stack.path)
        #expect(wrong.status != 0)
        #expect(wrong.standardError.contains("certificate verify failed"), "\(wrong.standardError)")
        // From another machine, a connection without TLS is turned away; one that asks for TLS gets it.
        let script = try stack.directory.write("other_machine.py", Self.otherMachine)
        let plain = try Self.run("python3", [script, "postgres-plain", String(endpoint.port)], in: stack.path).standardOutput
        #expect(plain.hasPrefix("E "), "\(plain)")
        #expect(plain.contains("no pg_hba.conf entry for host \"127.0.0.3\"") && plain.contains("no encryption"), "\(plain)")
        #expect(try Self.run("python3", [script, "postgres-tls", String(endpoint.port)], in: stack.path).standardOutput.hasPrefix("S"))

        // HTTP services: HTTPS through devstack, trusted with the authority; nothing without TLS.
        #expect(try Self.run("python3", [script, "https", String(api), authority], in: stack.path).standardOutput.hasPrefix("200"))
        let untrusted = try Self.run("python3", [script, "https", String(api)], in: stack.path).standardOutput
        #expect(untrusted.contains("CERTIFICATE_VERIFY_FAILED"), "\(untrusted)")
        let cleartext = try Self.run("python3", [script, "http", String(api)], in: stack.path).standardOutput
        #expect(!cleartext.hasPrefix("200"), "\(cleartext)")
        // A service the profile does not expose does not listen there at all.
        let closed = try Self.run("python3", [script, "https", String(hidden), authority], in: stack.path).standardOutput
        #expect(closed.contains("Connection refused") || closed.contains("URLError"), "\(closed)")
        #expect(try await stack.stop() == 0)
    }

    @Test func anAddressTheMachineDoesNotHaveStartsNothing() async throws {
        let stack = try StackUnderTest(
            stack: Self.stack, arguments: ["--profile", "staging"],
            files: ["profiles/staging.yaml": "ports: auto\nexpose: { address: 192.0.2.77, services: [db] }\n"])
        defer { stack.cleanUp() }
        let status = try await stack.waitForExit()
        #expect(status == 1)
        #expect(stack.output.contains("cannot listen on 192.0.2.77, the profile's expose.address"), "\(stack.output)")
        #expect(stack.log("db").isEmpty)
    }
}
