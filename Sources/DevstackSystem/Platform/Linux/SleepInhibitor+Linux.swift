#if os(Linux)
    import Foundation

    extension SleepInhibitor {
        static let helperName = "systemd-inhibit"

        /// logind's block on sleep, idle and the lid switch, held by a `tail` that ends with `pid`.
        static func command(forProcess pid: Int32, reason: String, environment: [String: String]) -> [String]? {
            guard let inhibit = ExecutableLookup.resolve("systemd-inhibit", workingDirectory: "/", environment: environment),
                let tail = ExecutableLookup.resolve("tail", workingDirectory: "/", environment: environment)
            else { return nil }
            return [
                inhibit, "--what=sleep:idle:handle-lid-switch", "--who=devstack", "--why=\(reason)", "--mode=block", tail, "--pid=\(pid)", "-f",
                "/dev/null",
            ]
        }
    }
#endif
