import AsyncHTTPClient
import DevstackCore
import DevstackSystem
import Foundation
import NIOCore

/// One health check: true when the service answered in time.
public enum HealthProbe {
    public static func check(_ probe: PlannedHealth.Probe, timeout: Duration, service: PlannedService, environment: [String: String]) async -> Bool {
        switch probe {
        case .tcp(let port), .builtIn(_, let port):  // kinds with their own check go through their driver
            return await tcpConnects(port: port, timeout: timeout)
        case .http(let port, let path):
            return await httpAnswers(host: "127.0.0.1", port: port, path: path, timeout: timeout)
        case .exec(let command):
            return await commandSucceeds(command, timeout: timeout, service: service, environment: environment)
        }
    }

    /// The built-in check of devstack's own HTTP servers (auth, inference): `GET /health` on the first port.
    public static func healthRouteAnswers(_ service: PlannedService) async -> Bool {
        guard let port = service.primaryPort else { return false }
        return await httpAnswers(host: service.attributes["host"] ?? "127.0.0.1", port: port, path: "/health", timeout: .seconds(2))
    }

    /// A non-blocking connect, on a Dispatch thread so the cooperative pool never blocks.
    public static func tcpConnects(port: Int, timeout: Duration) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: connectBlocking(port: port, timeoutMs: Int32(timeout.milliseconds)))
            }
        }
    }

    private static func connectBlocking(port: Int, timeoutMs: Int32) -> Bool {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, timeoutMs) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0
    }

    /// A service still starting refuses the connection, and the HTTP client then waits out its
    /// reconnect backoff (100 ms) before the next try: a plain connect goes first, so the HTTP request
    /// is only made to a port that listens.
    static func httpAnswers(host: String, port: Int, path: String, timeout: Duration) async -> Bool {
        if ["127.0.0.1", "localhost", "0.0.0.0"].contains(host), !(await tcpConnects(port: port, timeout: timeout)) { return false }
        var request = HTTPClientRequest(url: "http://\(host):\(port)\(path)")
        request.method = .GET
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .milliseconds(timeout.milliseconds)) else {
            return false
        }
        _ = try? await response.body.collect(upTo: 1 << 20)
        return (200..<400).contains(Int(response.status.code))
    }

    static func commandSucceeds(_ command: [String], timeout: Duration, service: PlannedService, environment: [String: String]) async -> Bool {
        guard let first = command.first,
            let executable = ExecutableLookup.resolve(first, workingDirectory: service.workingDirectory, environment: environment)
        else { return false }
        guard
            let child = try? await ChildLauncher.shared.launch(
                LaunchRequest(
                    executable: executable, arguments: Array(command.dropFirst()), environment: environment,
                    workingDirectory: service.workingDirectory))
        else { return false }
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask { await child.waitForExit().succeeded }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil {
                child.signalGroup(SIGKILL)
                group.cancelAll()
                return false
            }
            group.cancelAll()
            return first ?? false
        }
    }
}
