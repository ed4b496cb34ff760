import Foundation

/// Facts about other processes: are they alive, when did they start, who holds a port.
public enum ProcessTable {
    /// Zombies count as dead: they answer `kill -0` until someone reaps them, which may take a while.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
            return statFields(of: pid).map { $0[0] != "Z" } ?? false
        #else
            return true
        #endif
    }

    /// Whether any live (non-zombie) process is left in the group.
    public static func groupIsAlive(_ pgid: Int32) -> Bool {
        guard pgid > 0, killpg(pgid, 0) == 0 || errno == EPERM else { return false }
        #if os(Linux)
            let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
            return pids.contains { pid in
                guard let fields = statFields(of: pid), fields.count > 2 else { return false }
                return fields[0] != "Z" && Int32(fields[2]) == pgid
            }
        #else
            return true
        #endif
    }

    #if os(Linux)
        /// The fields of /proc/PID/stat after the command name: state, ppid, pgrp, …
        public static func statFields(of pid: Int32) -> [Substring]? {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
                return nil
            }
            return stat[stat.index(after: close)...].split(separator: " ")
        }
    #endif

    /// An opaque start stamp: together with the pid it identifies a process across pid reuse.
    public static func startTime(of pid: Int32) -> UInt64? {
        #if os(Linux)
            // starttime is field 22 overall, the 20th after the command name.
            guard let fields = statFields(of: pid) else { return nil }
            return fields.count > 19 ? UInt64(fields[19]) : nil
        #else
            var info = kinfo_proc()
            var size = MemoryLayout<kinfo_proc>.stride
            var mib: [Int32] = [CTL_KERN, KERN_PROC, KERN_PROC_PID, pid]
            guard sysctl(&mib, 4, &info, &size, nil, 0) == 0, size > 0 else { return nil }
            let start = info.kp_proc.p_un.__p_starttime
            return UInt64(start.tv_sec) * 1_000_000 + UInt64(start.tv_usec)
        #endif
    }

    /// Whether `pid` is still the process that was recorded with `startTime`.
    public static func isSameProcess(_ pid: Int32, startTime: UInt64?) -> Bool {
        guard isAlive(pid) else { return false }
        guard let startTime else { return true }
        return self.startTime(of: pid) == startTime
    }

    /// "pid 1234 (python3 -m http.server)" for the process listening on `port`, where it can be found.
    public static func listener(onPort port: Int) -> String? {
        #if os(Linux)
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
            guard !inodes.isEmpty, let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
            for pid in pids where Int32(pid) != nil {
                guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
                for fd in fds {
                    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                        target.hasPrefix("socket:["), inodes.contains(String(target.dropFirst(8).dropLast()))
                    else { continue }
                    return "pid \(pid) (\(commandLine(of: pid)))"
                }
            }
            return nil
        #else
            let lsof = Process()
            lsof.executableURL = URL(fileURLWithPath: "/usr/sbin/lsof")
            lsof.arguments = ["-nP", "-iTCP:\(port)", "-sTCP:LISTEN", "-Fpc"]
            let output = Pipe()
            lsof.standardOutput = output
            lsof.standardError = FileHandle.nullDevice
            guard (try? lsof.run()) != nil else { return nil }
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            lsof.waitUntilExit()
            let pid = text.split(separator: "\n").first { $0.hasPrefix("p") }?.dropFirst()
            let command = text.split(separator: "\n").first { $0.hasPrefix("c") }?.dropFirst()
            return pid.map { "pid \($0) (\(command ?? "?"))" }
        #endif
    }

    #if os(Linux)
        private static func commandLine(of pid: String) -> String {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "?" }
            let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let text = parts.joined(separator: " ")
            return text.count > 80 ? String(text.prefix(77)) + "..." : text
        }
    #endif
}
