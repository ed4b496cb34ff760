#if os(macOS)
    import Foundation

    extension SleepInhibitor {
        static let helperName = "caffeinate"

        /// No idle or system sleep (on power) until `pid` exits.
        static func command(forProcess pid: Int32, reason: String, environment: [String: String]) -> [String]? {
            ["/usr/bin/caffeinate", "-i", "-s", "-w", String(pid)]
        }
    }
#endif
