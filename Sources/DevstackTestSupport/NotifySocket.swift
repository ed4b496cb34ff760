import Foundation

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`: collects what devstack sends, with
/// when it arrived. Linux only, as the protocol.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var received: [(at: ContinuousClock.Instant, message: String)] = []
    private var reader: Thread?

    public init(in directory: String) throws {
        path = "\(directory)/notify.sock"
        #if os(Linux)
            let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #else
            let descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        self.descriptor = descriptor
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard descriptor >= 0, bound == 0 else { throw StackTestError(message: "cannot bind \(path): \(String(cString: strerror(errno)))") }
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                guard count > 0, let self else { return }
                let message = String(decoding: buffer[0..<count], as: UTF8.self)
                self.lock.withLock { self.received.append((ContinuousClock.now, message)) }
            }
        }
        thread.start()
        reader = thread
    }

    public var messages: [(at: ContinuousClock.Instant, message: String)] { lock.withLock { received } }

    /// Waits until a message holding `line` arrives; returns when it did, or nil after `patience`.
    public func waitFor(_ line: String, within patience: Duration = .seconds(60)) async -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            if let found = messages.first(where: { $0.message.split(separator: "\n").contains(Substring(line)) }) { return found.at }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    public func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        Foundation.close(descriptor)
        unlink(path)
    }
}
