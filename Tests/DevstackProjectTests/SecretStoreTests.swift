import DevstackCore
import DevstackSystem
import DevstackTestSupport
import Foundation
import JWTKit
import Testing

@testable import DevstackProject

@Suite struct SecretStoreTests {
    struct Claims: JWTPayload {
        let iss: IssuerClaim
        let role: String
        let exp: ExpirationClaim
        let sub: SubjectClaim?
        func verify(using algorithm: some JWTAlgorithm) throws { try exp.verifyNotExpired() }
    }

    func verify(_ token: String, secret: String) async throws -> Claims {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.verify(token, as: Claims.self)
    }

    @Test func generatesOnceKeepsThemPrivateAndStable() async throws {
        try await withTemporaryDirectory { directory in
            let store = SecretStore(stateDirectory: "\(directory.path)/.devstack/local")
            let first = try await store.resolve(requested: [:], remote: false)
            let second = try await store.resolve(requested: [:], remote: false)
            #expect(first.values == second.values)
            #expect(Set(first.values.keys) == Set(BuiltInSecret.allCases.map(\.rawValue)))
            #expect(!(directory.read(".devstack/local/secrets") ?? "").isEmpty)
            #expect((first.values["jwt_secret"]?.utf8.count ?? 0) >= 32)
            let attributes = try FileManager.default.attributesOfItem(atPath: store.file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let folder = try FileManager.default.attributesOfItem(atPath: store.stateDirectory)
            #expect((folder[.posixPermissions] as? Int) == 0o700)
            // A new store on the same folder (a new devstack run) sees the same secrets.
            let again = try await SecretStore(stateDirectory: store.stateDirectory).resolve(requested: [:], remote: false)
            #expect(again.values == first.values)
        }
    }

    /// The one way devstack writes its private files (secrets, state.json, the auth emulator's configuration).
    @Test func privateFilesAreReplacedWholeAndStayPrivate() async throws {
        try await withTemporaryDirectory { directory in
            let file = "\(directory.path)/state.json"
            #expect(StateDirectory.replace(file, with: Data("old".utf8), durable: false) == nil)
            #expect(StateDirectory.replace(file, with: Data("new".utf8), durable: true) == nil)
            #expect(directory.read("state.json") == "new")
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let written = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(written == ["state.json"])
            // A folder that is not there: the message names the file, and nothing is left behind.
            let failure = StateDirectory.replace("\(directory.path)/missing/state.json", with: Data("x".utf8), durable: false)
            #expect(failure?.contains("missing/state.json") == true)
            let afterFailure = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(afterFailure == ["state.json"])
        }
    }

    @Test func anAuthServiceGetsItsOwnSecretAndKeysSignedWithIt() async throws {
        try await withTemporaryDirectory { directory in
            let store = SecretStore(stateDirectory: directory.path)
            let secrets = try await store.resolve(requested: [:], remote: false, authServices: ["auth"])
            let own = try #require(secrets.values["auth.jwt_secret"])
            #expect(own != secrets.values["jwt_secret"] && own.utf8.count >= 32)
            let service = try await verify(try #require(secrets.values["auth.service_role_key"]), secret: own)
            #expect(service.role == "service_role")
            await #expect(throws: (any Error).self, "not signed with the stack's secret") {
                try await verify(try #require(secrets.values["auth.service_role_key"]), secret: try #require(secrets.values["jwt_secret"]))
            }
            // A profile may give it, from the environment as any secret.
            let given = String(repeating: "g", count: 40)
            let again = try await store.resolve(
                requested: ["auth.jwt_secret": (given, ValueOrigin(.environment))], remote: false, authServices: ["auth"])
            #expect(try await verify(try #require(again.values["auth.anon_key"]), secret: given).role == "anon")
        }
    }

    @Test func apiKeysCarryLocalSupabaseClaims() async throws {
        try await withTemporaryDirectory { directory in
            let secrets = try await SecretStore(stateDirectory: directory.path).resolve(requested: [:], remote: false)
            let jwtSecret = try #require(secrets.values["jwt_secret"])
            let anon = try await verify(try #require(secrets.values["anon_key"]), secret: jwtSecret)
            let service = try await verify(try #require(secrets.values["service_role_key"]), secret: jwtSecret)
            #expect(anon.role == "anon" && service.role == "service_role")
            #expect(anon.iss.value == "supabase-demo")
            #expect(anon.sub == nil)
            let header = try #require(secrets.values["anon_key"]?.split(separator: ".").first)
            let decoded = try #require(Data(base64Encoded: String(header) + String(repeating: "=", count: (4 - header.count % 4) % 4)))
            #expect(String(decoding: decoded, as: UTF8.self).contains("\"HS256\""))
        }
    }

    @Test func aSecretFromTheEnvironmentSignsTheKeysAndIsNotStored() async throws {
        try await withTemporaryDirectory { directory in
            let store = SecretStore(stateDirectory: directory.path)
            let mine = String(repeating: "k", count: 48)
            let secrets = try await store.resolve(
                requested: ["jwt_secret": (mine, ValueOrigin(.environment, detail: "JWT_SECRET"))], remote: false)
            #expect(secrets.values["jwt_secret"] == mine)
            #expect(try await verify(try #require(secrets.values["anon_key"]), secret: mine).role == "anon")
            #expect(secrets.origins["jwt_secret"]?.source == .environment)
            #expect(!(directory.read("secrets") ?? "").contains(mine))
            let again = try await store.resolve(requested: ["jwt_secret": (mine, ValueOrigin(.environment))], remote: false)
            #expect(again.values == secrets.values)
        }
    }

    @Test func shortSecretsAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            await #expect(throws: ProjectError.self) {
                try await SecretStore(stateDirectory: directory.path).resolve(
                    requested: ["jwt_secret": ("too-short", ValueOrigin(.profile))], remote: false)
            }
        }
    }

    @Test func remoteProfilesNeverGenerateOrStore() async throws {
        try await withTemporaryDirectory { directory in
            let secrets = try await SecretStore(stateDirectory: "\(directory.path)/state").resolve(
                requested: ["anon_key": ("public-anon", ValueOrigin(.environment))], remote: true)
            #expect(secrets.values == ["anon_key": "public-anon"])
            #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/state"))
        }
    }

    @Test func validationGeneratesInMemoryOnly() async throws {
        try await withTemporaryDirectory { directory in
            let store = SecretStore(stateDirectory: "\(directory.path)/state")
            let secrets = try await store.resolve(requested: [:], remote: false, persist: false)
            #expect(secrets.values["anon_key"] != nil)
            #expect(!FileManager.default.fileExists(atPath: store.file))
        }
    }
}

@Suite struct ScaffoldTests {
    /// `devstack init` writes exactly what this repository ships.
    @Test func scaffoldMatchesTheShippedStack() throws {
        for (path, contents) in Scaffold.files {
            let shipped = try String(contentsOfFile: "\(DevstackBinary.packageRoot)/\(path)", encoding: .utf8)
            #expect(shipped == contents, "\(path) differs from the scaffold: regenerate Scaffold+Files.swift")
        }
        let shippedFiles = try FileManager.default.subpathsOfDirectory(atPath: "\(DevstackBinary.packageRoot)/stacks/default")
            .filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(DevstackBinary.packageRoot)/stacks/default/\(path)", isDirectory: &isDirectory)
                    && !isDirectory.boolValue
            }
        #expect(Set(shippedFiles.map { "stacks/default/\($0)" }).isSubset(of: Set(Scaffold.paths)))
    }
}
