import DevstackDriverKit
import DevstackSystem
import Foundation

/// A webhook on loopback for alert tests: every POST body is kept, one a line, and read back as JSON.
public final class WebhookReceiver: @unchecked Sendable {
    public let url: String
    private let folder: TemporaryDirectory
    private let process: Process

    private static let script = """
        import http.server, os, sys
        folder = os.path.dirname(os.path.abspath(__file__))
        class Hook(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with open(os.path.join(folder, "events.jsonl"), "ab") as events:
                    events.write(body.replace(b"\\n", b"") + b"\\n")
                self.send_response(204)
                self.end_headers()
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
        """

    public init() async throws {
        folder = try TemporaryDirectory(prefix: "devstack-webhook")
        guard let port = Ports.freePort(avoiding: []) else { throw StackTestError(message: "no free port for the webhook") }
        let script = try folder.write("receiver.py", Self.script)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        url = "http://127.0.0.1:\(port)/hook"
        for _ in 0..<300 {
            if await HealthProbe.tcpConnects(port: port, timeout: .seconds(1)) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        stop()
        throw StackTestError(message: "the webhook receiver did not listen on \(port)")
    }

    /// The events received so far.
    public var events: [[String: Any]] {
        (folder.read("events.jsonl") ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Waits (up to `patience`) until every one of `names` has arrived; returns the events.
    public func waitFor(_ names: [String], patience: Duration = .seconds(30)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            let received = events
            if names.allSatisfy({ name in received.contains { $0["event"] as? String == name } }) { return received }
            try await Task.sleep(for: .milliseconds(20))
        }
        return events
    }

    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        folder.remove()
    }
}
