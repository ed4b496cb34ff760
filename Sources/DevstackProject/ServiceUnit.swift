import DevstackCore
import Foundation

/// What runs a project's stack as a service of the machine: the systemd unit (Linux) and the
/// launchd property list (macOS), as text. Pure, so both are tested on any machine; installing
/// them is `ServiceManager`'s business.
public struct ServiceUnit: Sendable {
    public enum Scope: String, Sendable {
        /// A system unit (or a LaunchDaemon), started at boot.
        case system
        /// A unit of the user's own manager (or a LaunchAgent), started when the user's manager starts.
        case user
    }

    public var executable: String
    public var projectDirectory: String
    public var stack: String
    public var profile: String
    public var scope: Scope
    /// Whom a system unit runs as; nil for the manager's default (root) or a user unit.
    public var user: String?
    /// systemd restarts a supervisor that stops sending signs of life for this long.
    public var watchdogSeconds = 30
    /// Time for the ordered shutdown before the manager kills what is left.
    public var stopTimeoutSeconds = 150

    public init(executable: String, projectDirectory: String, stack: String, profile: String, scope: Scope, user: String?) {
        self.executable = executable
        self.projectDirectory = projectDirectory
        self.stack = stack
        self.profile = profile
        self.scope = scope
        self.user = user
    }

    /// `devstack-<project folder>-<profile>`, the same for every install of this project and profile.
    public var name: String {
        let folder = URL(fileURLWithPath: projectDirectory).lastPathComponent.lowercased()
        let cleaned = String(folder.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        return "devstack-\(cleaned)-\(StableHash.of(projectDirectory).prefix(6))-\(profile)"
    }

    public var launchdLabel: String { "dev.devstack.\(name)" }

    var arguments: [String] { [executable, "up", "--stack", stack, "--profile", profile, "--project-dir", projectDirectory] }

    // MARK: systemd

    /// `Type=notify`: devstack says READY=1 once every service is healthy, keeps the watchdog fed
    /// from its own loop, and stops in its own order on SIGTERM (`KillMode=mixed`: the manager
    /// signals devstack alone, and kills the rest only if the stop outlasts the timeout).
    public var systemdUnit: String {
        var lines = [
            "# Written by `devstack service install`; remove with `devstack service uninstall`.",
            "[Unit]",
            "Description=devstack: the \(stack) stack of \(projectDirectory) (profile \(profile))",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=notify",
            "NotifyAccess=main",
            "ExecStart=\(arguments.map(Self.systemdQuoted).joined(separator: " "))",
            // Taken as is, spaces and all; only specifiers are expanded.
            "WorkingDirectory=\(projectDirectory.replacingOccurrences(of: "%", with: "%%"))",
        ]
        if scope == .system, let user { lines.append("User=\(user)") }
        lines += [
            "Environment=NO_COLOR=1",
            "Restart=always",
            "RestartSec=2",
            "WatchdogSec=\(watchdogSeconds)",
            "TimeoutStartSec=300",
            "TimeoutStopSec=\(stopTimeoutSeconds)",
            "KillMode=mixed",
            "KillSignal=SIGTERM",
            "",
            "[Install]",
            "WantedBy=\(scope == .system ? "multi-user.target" : "default.target")",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Where the unit goes.
    public func systemdUnitPath(home: String) -> String {
        scope == .system ? "/etc/systemd/system/\(name).service" : "\(home)/.config/systemd/user/\(name).service"
    }

    /// A word of ExecStart=: quoted when it holds anything systemd would split or expand.
    static func systemdQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "/._-:@+=,".contains($0) }
        if plain && !word.isEmpty { return word }
        let escaped = word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
        return "\"\(escaped)\""
    }

    // MARK: launchd

    /// launchd keeps it running (`KeepAlive`) from load (`RunAtLoad`), sends SIGTERM to stop it and
    /// waits `ExitTimeOut` for the ordered shutdown; output goes to the profile's log folder.
    public var launchdPropertyList: String {
        let logs = "\(projectDirectory)/.devstack/\(profile)/logs"
        var entries: [(String, String)] = [
            ("Label", string(launchdLabel)),
            ("ProgramArguments", "<array>" + arguments.map(string).joined() + "</array>"),
            ("WorkingDirectory", string(projectDirectory)),
            ("EnvironmentVariables", "<dict><key>NO_COLOR</key>\(string("1"))</dict>"),
            ("RunAtLoad", "<true/>"),
            ("KeepAlive", "<true/>"),
            ("ThrottleInterval", "<integer>2</integer>"),
            ("ExitTimeOut", "<integer>\(stopTimeoutSeconds)</integer>"),
            ("ProcessType", string("Standard")),
            ("StandardOutPath", string("\(logs)/launchd.log")),
            ("StandardErrorPath", string("\(logs)/launchd.log")),
        ]
        if scope == .system, let user { entries.append(("UserName", string(user))) }
        let body = entries.map { "    <key>\($0.0)</key>\n    \($0.1)" }.joined(separator: "\n")
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
            <!-- Written by `devstack service install`; remove with `devstack service uninstall`. -->
            <plist version="1.0">
            <dict>
            \(body)
            </dict>
            </plist>

            """
    }

    /// A LaunchAgent (user) or LaunchDaemon (system).
    public func launchdPropertyListPath(home: String) -> String {
        scope == .system ? "/Library/LaunchDaemons/\(launchdLabel).plist" : "\(home)/Library/LaunchAgents/\(launchdLabel).plist"
    }

    private func string(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        return "<string>\(escaped)</string>"
    }
}
