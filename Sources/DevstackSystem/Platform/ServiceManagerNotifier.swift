import Foundation

/// Tells the machine's service manager how the stack is doing, when it runs as a service of the
/// machine: systemd's notify protocol (`Type=notify`) on Linux, in
/// `Linux/ServiceManagerNotifier+Linux.swift`. launchd has no such protocol: on macOS this is
/// `ServiceManagerNotifier+macOS.swift`, which sends nothing.
public struct ServiceManagerNotifier: Sendable {
    /// Where the messages go; nil when no service manager is listening (run by hand).
    let socketPath: String?
    /// How often the manager wants a sign of life (half its `WatchdogSec`); nil without a watchdog.
    public let watchdogInterval: Duration?

    public var isListening: Bool { socketPath != nil }

    /// "READY=1" once every service is healthy.
    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }
    public func alive() { send("WATCHDOG=1") }
}
