#if os(Linux)
    import Foundation

    /// systemd's notify protocol: datagrams of `KEY=VALUE` lines to the socket named by
    /// `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace); the watchdog's period is
    /// `WATCHDOG_USEC`, meant for this process only when `WATCHDOG_PID` is unset or its pid.
    extension ServiceManagerNotifier {
        public init(environment: [String: String]) {
            socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
            if forUs, let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 {
                watchdogInterval = .microseconds(microseconds / 2)
            } else {
                watchdogInterval = nil
            }
        }

        func send(_ message: String) {
            guard let socketPath else { return }
            let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { return }
            defer { close(descriptor) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var path = Array(socketPath.utf8)
            // An abstract socket's name starts with a NUL byte where the '@' is written.
            if path.first == UInt8(ascii: "@") { path[0] = 0 }
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard path.count < capacity else { return }
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.enumerated() { buffer[index] = byte }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
            let bytes = Array(message.utf8)
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, bytes, bytes.count, 0, $0, length) }
            }
        }
    }
#endif
