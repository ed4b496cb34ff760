#if os(macOS)
    import Foundation

    /// launchd starts the agent and keeps it alive (`KeepAlive`), and asks nothing of it.
    extension ServiceManagerNotifier {
        public init(environment: [String: String]) {
            socketPath = nil
            watchdogInterval = nil
        }

        func send(_ message: String) {}
    }
#endif
