import DevstackProject
import Foundation
import Testing

/// The unit and property list `devstack service install` writes, as text.
@Suite struct ServiceUnitTests {
    func unit(_ scope: ServiceUnit.Scope = .system, user: String? = "deploy", project: String = "/srv/team app") -> ServiceUnit {
        ServiceUnit(
            executable: "/opt/devstack/bin/devstack", projectDirectory: project, stack: "default", profile: "staging", scope: scope, user: user)
    }

    @Test func theSystemdUnitIsANotifyServiceThatRestartsAndStopsThroughDevstack() {
        let text = unit().systemdUnit
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "Type=notify", "NotifyAccess=main", "Restart=always", "WatchdogSec=30", "KillMode=mixed", "KillSignal=SIGTERM", "TimeoutStopSec=150",
            "User=deploy", "WantedBy=multi-user.target",
            #"ExecStart=/opt/devstack/bin/devstack up --stack default --profile staging --project-dir "/srv/team app""#,
            "WorkingDirectory=/srv/team app",
        ] {
            #expect(lines.contains(expected), "missing \(expected) in\n\(text)")
        }
        #expect(unit().systemdUnitPath(home: "/home/x") == "/etc/systemd/system/\(unit().name).service")
    }

    @Test func aUserUnitHasNoUserLineAndLivesInTheUsersFolder() {
        let user = unit(.user, user: nil)
        #expect(!user.systemdUnit.contains("User="))
        #expect(user.systemdUnit.contains("WantedBy=default.target"))
        #expect(user.systemdUnitPath(home: "/home/x") == "/home/x/.config/systemd/user/\(user.name).service")
    }

    @Test func theNameIsStablePerProjectAndProfileAndSafeForSystemd() {
        #expect(unit().name == unit().name)
        #expect(unit().name != unit(project: "/srv/other").name)
        #expect(unit().name.hasPrefix("devstack-team-app-") && unit().name.hasSuffix("-staging"))
        #expect(unit().name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
    }

    @Test func wordsSystemdWouldExpandAreQuotedAndEscaped() {
        let odd = unit(project: #"/srv/100% "odd" $HOME"#).systemdUnit
        #expect(odd.contains(#""/srv/100%% \"odd\" $$HOME""#))
    }

    @Test func theLaunchdPropertyListParsesAndKeepsTheStackAlive() throws {
        let agent = unit(.user, user: nil, project: "/Users/me/app & co")
        let parsed = try PropertyListSerialization.propertyList(from: Data(agent.launchdPropertyList.utf8), format: nil)
        let plist = try #require(parsed as? [String: Any])
        #expect(plist["Label"] as? String == agent.launchdLabel)
        #expect(plist["KeepAlive"] as? Bool == true)
        #expect(plist["RunAtLoad"] as? Bool == true)
        #expect(plist["ExitTimeOut"] as? Int == 150)
        #expect(
            plist["ProgramArguments"] as? [String] == [
                "/opt/devstack/bin/devstack", "up", "--stack", "default", "--profile", "staging", "--project-dir", "/Users/me/app & co",
            ])
        #expect(plist["StandardOutPath"] as? String == "/Users/me/app & co/.devstack/staging/logs/launchd.log")
        #expect(plist["UserName"] == nil)
        #expect(agent.launchdPropertyListPath(home: "/Users/me") == "/Users/me/Library/LaunchAgents/\(agent.launchdLabel).plist")
        let daemon = try #require(
            try PropertyListSerialization.propertyList(from: Data(unit().launchdPropertyList.utf8), format: nil) as? [String: Any])
        #expect(daemon["UserName"] as? String == "deploy")
    }
}
