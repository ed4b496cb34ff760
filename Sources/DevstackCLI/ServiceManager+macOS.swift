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
#endif
