#if os(macOS)
    import DevstackProject
    import DevstackSystem
    import Foundation

    /// launchd: a LaunchAgent in ~/Library/LaunchAgents (--user) or a LaunchDaemon in
    /// /Library/LaunchDaemons, loaded with `launchctl bootstrap`; its output goes to the profile's logs.
    struct ServiceManager {
        let home: String

        func path(of unit: ServiceUnit) -> String { unit.launchdPropertyListPath(home: home) }
        func text(of unit: ServiceUnit) -> String { unit.launchdPropertyList }

        private func domain(_ unit: ServiceUnit) -> String { unit.scope == .user ? "gui/\(getuid())" : "system" }

        func installCommands(_ unit: ServiceUnit) -> [[String]] {
            [["launchctl", "bootstrap", domain(unit), path(of: unit)]]
        }

        func install(_ unit: ServiceUnit) throws -> [String] {
            let path = path(of: unit)
            try ServiceCommand.write(text(of: unit), to: path, scope: unit.scope)
            var lines = ["wrote \(path)"]
            for command in installCommands(unit) {
                let (status, output) = ToolOutput.run("/usr/bin/env", command)
                guard status == 0 else {
                    throw ServiceManagerError(.failed, "`\(command.joined(separator: " "))` failed: \(output)", fix: "see `devstack service status`")
                }
                lines.append("ran \(command.joined(separator: " "))")
            }
            return lines
        }

        func uninstall(_ unit: ServiceUnit) throws -> [String] {
            let path = path(of: unit)
            let bootout = ["launchctl", "bootout", "\(domain(unit))/\(unit.launchdLabel)"]
            let (status, output) = ToolOutput.run("/usr/bin/env", bootout)
            var lines = [status == 0 ? "ran \(bootout.joined(separator: " "))" : "`\(bootout.joined(separator: " "))`: \(output)"]
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw ServiceManagerError(.failed, "cannot remove \(path): \(error.localizedDescription)", fix: "installed with --user?")
            }
            lines.append("removed \(path)")
            return lines
        }

        func status(_ unit: ServiceUnit) -> String {
            ToolOutput.run("/usr/bin/env", ["launchctl", "print", "\(domain(unit))/\(unit.launchdLabel)"]).output
        }

        func logs(_ unit: ServiceUnit) -> String {
            let log = "\(unit.projectDirectory)/.devstack/\(unit.profile)/logs/launchd.log"
            return (try? String(contentsOfFile: log, encoding: .utf8)) ?? "no log yet at \(log)\n"
        }
    }

    /// `devstack doctor` on macOS: pmset for sleep, launchd for the unit; the clock is macOS's own.
    extension ServiceManager {
        private func asUser(_ unit: ServiceUnit) -> ServiceUnit {
            var user = unit
            user.scope = .user
            return user
        }

        func sleepFinding(keepAwake: Bool) -> DoctorFinding {
            let settings = ToolOutput.run("/usr/bin/pmset", ["-g"]).output
            let sleepLine = settings.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("sleep ") }
            let minutes = sleepLine.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
            if minutes == 0 { return DoctorFinding(check: "sleep", status: .ok, detail: "system sleep is off (pmset)") }
            if keepAwake {
                return DoctorFinding(
                    check: "sleep", status: .ok, detail: "devstack holds caffeinate while the stack runs",
                    fix: "for a machine that only serves: sudo pmset -a sleep 0")
            }
            return DoctorFinding(
                check: "sleep", status: .warn,
                detail: "the machine sleeps after \(minutes.map(String.init) ?? "some") minutes, and this profile does not keep it awake",
                fix: "set keep_awake: true in the profile, or sudo pmset -a sleep 0")
        }

        func clockFinding() -> DoctorFinding {
            DoctorFinding(check: "clock", status: .notChecked, detail: "macOS keeps its own time (timed)")
        }

        func unitFinding(_ unit: ServiceUnit, alwaysOn: Bool) -> DoctorFinding {
            for candidate in [unit, asUser(unit)] where FileManager.default.fileExists(atPath: candidate.launchdPropertyListPath(home: home)) {
                let loaded = ToolOutput.run("/usr/bin/env", ["launchctl", "print", "\(domain(candidate))/\(candidate.launchdLabel)"]).status == 0
                return loaded
                    ? DoctorFinding(check: "unit", status: .ok, detail: "\(candidate.launchdLabel) is loaded")
                    : DoctorFinding(
                        check: "unit", status: .fail, detail: "\(candidate.launchdLabel) is written but not loaded",
                        fix: "devstack service install --profile \(unit.profile)")
            }
            return DoctorFinding(
                check: "unit", status: alwaysOn ? .warn : .notChecked, detail: "\(unit.launchdLabel) is not installed",
                fix: "devstack service install --profile \(unit.profile)")
        }
    }
#endif
