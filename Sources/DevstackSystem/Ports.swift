import Foundation

/// Loopback port checks: which ports are free, and picking free ones for `ports: auto`.
public enum Ports {
    /// The bands the shipped profiles fix ports in (local from 54321, as Supabase's CLI; staging from
    /// 55321): the kernel's ephemeral range holds them, and a port picked for `ports: auto` there would
    /// keep the laptop's own stack from starting.
    public static let fixedProfileBands = [54320...54399, 55320...55399]

    /// Asks the kernel for a free port by binding port 0.
    public static func freePort(avoiding: Set<Int>) -> Int? {
        for _ in 0..<32 {
            guard let port = bindAndRelease(port: 0) else { return nil }
            if !avoiding.contains(port) && !fixedProfileBands.contains(where: { $0.contains(port) }) { return port }
        }
        return nil
    }

    /// True when nothing listens on the port and it can be bound on 127.0.0.1.
    public static func isFree(_ port: Int, host: String = "127.0.0.1") -> Bool {
        bindAndRelease(port: port, host: host) != nil
    }

    /// True when `address` (a name or an IP address) is one of this machine's: it resolves to an
    /// address a socket can be bound to here.
    public static func isOwnAddress(_ address: String) -> Bool {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address, "0", &hints, &found) == 0, let first = found else { return false }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            let fd = socket(current.pointee.ai_family, current.pointee.ai_socktype, 0)
            if fd >= 0 {
                defer { close(fd) }
                if bind(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 { return true }
            }
            entry = current.pointee.ai_next
        }
        return false
    }

    private static func bindAndRelease(port: Int, host: String = "127.0.0.1") -> Int? {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // As servers do: connections in TIME_WAIT do not make a port busy, a listener does.
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host == "0.0.0.0" ? "0.0.0.0" : "127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: actual.sin_port))
    }
}
