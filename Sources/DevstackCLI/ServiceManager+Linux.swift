#if os(Linux)
    import DevstackProject
    import DevstackSystem
    import Foundation

    /// systemd: the unit in /etc/systemd/system (or ~/.config/systemd/user with --user), enabled and
    /// started with systemctl; a user unit also needs lingering, so it runs without a login.
    struct ServiceManager {
        let home: String

        func path(of unit: ServiceUnit) -> String { unit.systemdUnitPath(home: home) }
        func text(of unit: ServiceUnit) -> String { unit.systemdUnit }

        private func systemctl(_ unit: ServiceUnit) -> [String] { unit.scope == .user ? ["systemctl", "--user"] : ["systemctl"] }

        func installCommands(_ unit: ServiceUnit) -> [[String]] {
            var commands = [systemctl(unit) + ["daemon-reload"], systemctl(unit) + ["enable", "--now", "\(unit.name).service"]]
            if unit.scope == .user { commands.append(["loginctl", "enable-linger", ProcessInfo.processInfo.userName]) }
            return commands
        }

        /// systemd runs as the machine's manager only when this folder exists.
        private var systemdRuns: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }

        func install(_ unit: ServiceUnit) throws -> [String] {
            let path = path(of: unit)
            try ServiceCommand.write(text(of: unit), to: path, scope: unit.scope)
            var lines = ["wrote \(path)"]
            guard systemdRuns else {
                lines.append("systemd is not running on this machine: the unit is written but not enabled")
                return lines
            }
            for command in installCommands(unit) {
                let (status, output) = ToolOutput.run("/usr/bin/env", command)
                guard status == 0 else {
                    throw ServiceManagerError(.failed, "`\(command.joined(separator: " "))` failed: \(output)", fix: "see `devstack service status`")
                }
                lines.append("ran \(command.joined(separator: " "))")
            }
            if unit.scope == .user { lines.append("lingering is on for \(ProcessInfo.processInfo.userName): the stack runs without a login") }
            lines.append("\(unit.name) is enabled and starting; `devstack service status` shows it")
            return lines
        }

        func uninstall(_ unit: ServiceUnit) throws -> [String] {
            let path = path(of: unit)
            var lines: [String] = []
            if systemdRuns {
                let disable = systemctl(unit) + ["disable", "--now", "\(unit.name).service"]
                let (status, output) = ToolOutput.run("/usr/bin/env", disable)
                lines.append(status == 0 ? "ran \(disable.joined(separator: " "))" : "`\(disable.joined(separator: " "))`: \(output)")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw ServiceManagerError(.failed, "no unit at \(path)", fix: "installed with --user? then uninstall with --user")
            }
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw ServiceManagerError(.failed, "cannot remove \(path): \(error.localizedDescription)", fix: "run it with sudo")
            }
            lines.append("removed \(path)")
            if systemdRuns { _ = ToolOutput.run("/usr/bin/env", systemctl(unit) + ["daemon-reload"]) }
            return lines
        }

        func status(_ unit: ServiceUnit) -> String {
            guard FileManager.default.fileExists(atPath: path(of: unit)) else { return "\(unit.name): not installed (\(path(of: unit)))" }
            guard systemdRuns else { return "\(unit.name): installed at \(path(of: unit)); systemd is not running on this machine" }
            return ToolOutput.run("/usr/bin/env", systemctl(unit) + ["status", "--no-pager", "--lines", "0", "\(unit.name).service"]).output
        }

        func logs(_ unit: ServiceUnit) -> String {
            let selector = unit.scope == .user ? ["--user-unit", "\(unit.name).service"] : ["--unit", "\(unit.name).service"]
            return ToolOutput.run("/usr/bin/env", ["journalctl", "--no-pager", "--lines", "200"] + selector).output + "\n"
        }
    }

    /// `devstack doctor` on Linux: logind for sleep, timedatectl (or chrony) for the clock, systemd for the unit.
    extension ServiceManager {
        private func asUser(_ unit: ServiceUnit) -> ServiceUnit {
            var user = unit
            user.scope = .user
            return user
        }

        private var systemdIsManager: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }

        func sleepFinding(keepAwake: Bool) -> DoctorFinding {
            guard systemdIsManager else {
                return DoctorFinding(
                    check: "sleep", status: .warn, detail: "systemd is not this machine's manager: devstack cannot hold off sleep through logind",
                    fix: "make sure the machine never suspends (its firmware or power settings)")
            }
            let targets = ["sleep.target", "suspend.target", "hibernate.target", "hybrid-sleep.target"]
            let states = targets.map { ToolOutput.run("/usr/bin/env", ["systemctl", "is-enabled", $0]).output }
            if states.allSatisfy({ $0 == "masked" }) {
                return DoctorFinding(check: "sleep", status: .ok, detail: "sleep, suspend and hibernation are masked")
            }
            if keepAwake {
                return DoctorFinding(
                    check: "sleep", status: .ok, detail: "devstack holds a block on sleep (systemd-inhibit) while the stack runs",
                    fix: "for a machine that only serves: sudo systemctl mask \(targets.joined(separator: " "))")
            }
            return DoctorFinding(
                check: "sleep", status: .warn, detail: "the machine may suspend, and this profile does not keep it awake",
                fix: "set keep_awake: true in the profile, or sudo systemctl mask \(targets.joined(separator: " "))")
        }

        func clockFinding() -> DoctorFinding {
            let synchronized = ToolOutput.run("/usr/bin/env", ["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
            if synchronized.status == 0 {
                return synchronized.output == "yes"
                    ? DoctorFinding(check: "clock", status: .ok, detail: "synchronised (timedatectl)")
                    : DoctorFinding(
                        check: "clock", status: .warn, detail: "not synchronised (timedatectl): token expiry and backups go by this clock",
                        fix: "sudo timedatectl set-ntp true")
            }
            if ToolOutput.run("/usr/bin/env", ["chronyc", "-n", "tracking"]).status == 0 {
                return DoctorFinding(check: "clock", status: .ok, detail: "synchronised (chrony)")
            }
            return DoctorFinding(
                check: "clock", status: .notChecked, detail: "neither timedatectl nor chronyc answered",
                fix: "install chrony or use systemd-timesyncd")
        }

        func unitFinding(_ unit: ServiceUnit, alwaysOn: Bool) -> DoctorFinding {
            let installed = [unit.systemdUnitPath(home: home), asUser(unit).systemdUnitPath(home: home)].first {
                FileManager.default.fileExists(atPath: $0)
            }
            guard let installed else {
                return DoctorFinding(
                    check: "unit", status: alwaysOn ? .warn : .notChecked, detail: "\(unit.name) is not installed",
                    fix: "devstack service install --profile \(unit.profile)")
            }
            guard systemdIsManager else {
                return DoctorFinding(check: "unit", status: .warn, detail: "\(installed) is written, but systemd is not running here")
            }
            let user = installed != unit.systemdUnitPath(home: home)
            let active = ToolOutput.run("/usr/bin/env", (user ? ["systemctl", "--user"] : ["systemctl"]) + ["is-active", "\(unit.name).service"])
            return active.output == "active"
                ? DoctorFinding(check: "unit", status: .ok, detail: "\(unit.name) is active")
                : DoctorFinding(
                    check: "unit", status: .fail, detail: "\(unit.name) is \(active.output)", fix: "devstack service status --profile \(unit.profile)"
                )
        }
    }
#endif
