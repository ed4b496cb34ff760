#if os(macOS)
    import Foundation

    /// macOS answers through sysctl and, for what that does not give cheaply, `ps` and `lsof`.
    extension ProcessTable {
        /// `kill -0` already said it exists; macOS reaps quickly enough that zombies are not worth a sysctl.
        static func isZombie(_ pid: Int32) -> Bool { false }

        /// `killpg(0)` already said a member exists.
        static func groupHasLiveMember(_ pgid: Int32) -> Bool { true }

        /// An opaque start stamp: together with the pid it identifies a process across pid reuse.
        public static func startTime(of pid: Int32) -> UInt64? {
            var info = kinfo_proc()
            var size = MemoryLayout<kinfo_proc>.stride
            var mib: [Int32] = [CTL_KERN, KERN_PROC, KERN_PROC_PID, pid]
            guard sysctl(&mib, 4, &info, &size, nil, 0) == 0, size > 0 else { return nil }
            let start = info.kp_proc.p_un.__p_starttime
            return UInt64(start.tv_sec) * 1_000_000 + UInt64(start.tv_usec)
        }

        public static func allProcesses() -> [Int32] {
            let listing = ToolOutput.read("/bin/ps", ["-axo", "pid="]) ?? ""
            return listing.split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
        }

        public static func parent(of pid: Int32) -> Int32? {
            ToolOutput.read("/bin/ps", ["-o", "ppid=", "-p", "\(pid)"]).flatMap { Int32($0) }
        }

        /// Its arguments joined by spaces; nil once it is gone.
        public static func commandLine(of pid: Int32) -> String? {
            ToolOutput.read("/bin/ps", ["-o", "command=", "-p", "\(pid)"]).flatMap { $0.isEmpty ? nil : $0 }
        }

        public static func workingDirectory(of pid: Int32) -> String? {
            let text = ToolOutput.read("/usr/sbin/lsof", ["-a", "-p", "\(pid)", "-d", "cwd", "-Fn"]) ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix("n") }.map { String($0.dropFirst()) }
        }

        /// "pid 1234 (python3 -m http.server)" for the process listening on `port`, where it can be found.
        public static func listener(onPort port: Int) -> String? {
            let text = ToolOutput.read("/usr/sbin/lsof", ["-nP", "-iTCP:\(port)", "-sTCP:LISTEN", "-Fpc"]) ?? ""
            let pid = text.split(separator: "\n").first { $0.hasPrefix("p") }?.dropFirst()
            let command = text.split(separator: "\n").first { $0.hasPrefix("c") }?.dropFirst()
            return pid.map { "pid \($0) (\(shortened(String(command ?? "?"))))" }
        }

        /// The process at the client end of a loopback TCP connection to this process's `serverPort`:
        /// lsof lists both ends of the connection, and this process is the other one.
        public static func connectionOwner(clientPort: Int, serverPort: Int) -> Int32? {
            let text = ToolOutput.read("/usr/sbin/lsof", ["-nP", "-iTCP@127.0.0.1:\(clientPort)", "-sTCP:ESTABLISHED", "-Fp"]) ?? ""
            let own = getpid()
            return text.split(separator: "\n").compactMap { $0.hasPrefix("p") ? Int32($0.dropFirst()) : nil }.first { $0 != own }
        }
    }
#endif
