#if os(Linux)
    import Foundation

    /// Linux answers from /proc.
    extension ProcessTable {
        static func isZombie(_ pid: Int32) -> Bool {
            statFields(of: pid).map { $0[0] == "Z" } ?? true
        }

        static func groupHasLiveMember(_ pgid: Int32) -> Bool {
            allProcesses().contains { pid in
                guard let fields = statFields(of: pid), fields.count > 2 else { return false }
                return fields[0] != "Z" && Int32(fields[2]) == pgid
            }
        }

        /// An opaque start stamp: together with the pid it identifies a process across pid reuse.
        public static func startTime(of pid: Int32) -> UInt64? {
            // starttime is field 22 overall, the 20th after the command name.
            guard let fields = statFields(of: pid) else { return nil }
            return fields.count > 19 ? UInt64(fields[19]) : nil
        }

        public static func allProcesses() -> [Int32] {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        }

        public static func parent(of pid: Int32) -> Int32? {
            statFields(of: pid).flatMap { $0.count > 1 ? Int32($0[1]) : nil }
        }

        /// Its arguments joined by spaces; nil once it is gone.
        public static func commandLine(of pid: Int32) -> String? {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
        }

        public static func workingDirectory(of pid: Int32) -> String? {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
        }

        /// "pid 1234 (python3 -m http.server)" for the process listening on `port`, where it can be found.
        public static func listener(onPort port: Int) -> String? {
            // State 0A is LISTEN.
            let inodes = socketInodes { state, local, _ in state == "0A" && local == port }
            return owner(ofSocketIn: inodes).map { "pid \($0) (\(shortened(commandLine(of: $0) ?? "?")))" }
        }

        /// The process at the client end of a loopback TCP connection to this process's `serverPort`.
        public static func connectionOwner(clientPort: Int, serverPort: Int) -> Int32? {
            // State 01 is ESTABLISHED; the client's socket has the client's port as its local one.
            // The table is made as it is read, and a busy one can skip a row between two reads: look again.
            for _ in 0..<3 {
                let inodes = socketInodes { state, local, remote in state == "01" && local == clientPort && remote == serverPort }
                if let owner = owner(ofSocketIn: inodes) { return owner }
            }
            return nil
        }

        /// Inodes of the TCP sockets whose (state, local port, remote port) match.
        private static func socketInodes(where matches: (Substring, Int?, Int?) -> Bool) -> Set<String> {
            var inodes = Set<String>()
            for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
                guard let text = wholeTable(table) else { continue }
                for line in text.split(separator: "\n").dropFirst() {
                    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    // Addresses are ADDR:PORT in hex; the inode is field 9.
                    guard fields.count > 9 else { continue }
                    let port = { (address: Substring) in address.split(separator: ":").last.flatMap { Int($0, radix: 16) } }
                    if matches(fields[3], port(fields[1]), port(fields[2])) { inodes.insert(String(fields[9])) }
                }
            }
            return inodes
        }

        /// A /proc/net table read in as few reads as possible: the kernel builds it a buffer at a time, and
        /// rows that move between two reads are missed (Foundation reads such files in small pieces).
        private static func wholeTable(_ path: String) -> String? {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                data.append(contentsOf: buffer[0..<count])
            }
            return String(decoding: data, as: UTF8.self)
        }

        /// A process other than this one with one of `inodes` among its open files.
        private static func owner(ofSocketIn inodes: Set<String>) -> Int32? {
            guard !inodes.isEmpty else { return nil }
            let own = getpid()
            for pid in allProcesses() where pid != own {
                guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
                for fd in fds {
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                        target.hasPrefix("socket:["), inodes.contains(String(target.dropFirst(8).dropLast()))
                    else { continue }
                    return pid
                }
            }
            return nil
        }

        /// The fields of /proc/PID/stat after the command name: state, ppid, pgrp, …
        private static func statFields(of pid: Int32) -> [Substring]? {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
                return nil
            }
            return stat[stat.index(after: close)...].split(separator: " ")
        }
    }
#endif
