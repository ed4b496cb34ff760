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
            var inodes = Set<String>()
            for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
                guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
                for line in text.split(separator: "\n").dropFirst() {
                    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                    // local_address is ADDR:PORT in hex; state 0A is LISTEN; inode is field 9.
                    guard fields.count > 9, fields[3] == "0A", let portHex = fields[1].split(separator: ":").last,
                        Int(portHex, radix: 16) == port
                    else { continue }
                    inodes.insert(String(fields[9]))
                }
            }
            guard !inodes.isEmpty else { return nil }
            for pid in allProcesses() {
                guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
                for fd in fds {
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                        target.hasPrefix("socket:["), inodes.contains(String(target.dropFirst(8).dropLast()))
                    else { continue }
                    return "pid \(pid) (\(shortened(commandLine(of: pid) ?? "?")))"
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
