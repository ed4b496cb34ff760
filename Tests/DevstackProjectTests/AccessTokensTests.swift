import DevstackCore
import DevstackTestSupport
import Foundation
import Testing

@testable import DevstackProject

@Suite struct AccessTokensTests {
    @Test func tokensAreKeptAsDigestsAndRevokedAtOnce() async throws {
        try await withTemporaryDirectory { directory in
            let tokens = AccessTokens(stateDirectory: directory.path)
            let ci = try tokens.create(name: "ci", role: .test)
            let admin = try tokens.create(name: "alice-laptop", role: .admin)
            #expect(ci.hasPrefix("dst_") && ci.count == 68 && ci != admin)
            #expect(tokens.entry(for: ci)?.name == "ci" && tokens.entry(for: ci)?.role == .test)
            #expect(tokens.entry(for: admin)?.role == .admin)
            #expect(tokens.entry(for: ci + "0") == nil && tokens.entry(for: "") == nil)
            let stored = try #require(directory.read("tokens.json"))
            #expect(!stored.contains(ci) && !stored.contains(admin))
            let mode = try FileManager.default.attributesOfItem(atPath: tokens.file)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(throws: ProjectError.self) { try tokens.create(name: "ci", role: .read) }
            #expect(throws: ProjectError.self) { try tokens.create(name: "no spaces", role: .read) }
            try tokens.revoke(name: "ci")
            #expect(tokens.entry(for: ci) == nil && tokens.entry(for: admin) != nil)
            #expect(throws: ProjectError.self) { try tokens.revoke(name: "ci") }
        }
    }

    @Test func rolesIncludeTheOnesBeforeThem() {
        #expect(AccessRole.read < .test && AccessRole.test < .admin)
        #expect(AccessRole.admin >= .read)
    }

    @Test func loginsLiveInTheConfigurationFolderPerHost() async throws {
        try await withTemporaryDirectory { directory in
            let logins = RemoteLogins(folder: directory.path)
            let host = HostSpec(address: "192.168.1.20", port: 55400)
            let login = RemoteLogins.Login(host: host.endpoint, token: "dst_x", name: "me", role: .test, project: "p", loggedInAt: Date())
            try logins.save(login, authorityPEM: "PEM", for: host)
            #expect(logins.login(for: host)?.token == "dst_x")
            #expect(logins.login(for: HostSpec(address: "192.168.1.20", port: 55401)) == nil)
            #expect(directory.read("hosts/192.168.1.20_55400/ca.pem") == "PEM")
            var replaced = login
            replaced.token = "dst_y"
            try logins.save(replaced, authorityPEM: "PEM2", for: host)
            #expect(logins.logins.count == 1 && logins.login(for: host)?.token == "dst_y")
            #expect(HostSpec(address: "fd00::1", port: 1).endpoint == "[fd00::1]:1")
            try logins.remove(host)
            #expect(logins.login(for: host) == nil && directory.read("hosts/192.168.1.20_55400/ca.pem") == nil)
        }
    }
}
