import DevstackCore
import DevstackTestSupport
import Foundation
import Testing

/// Every file in `Fixtures/invalid/<case>/` must produce the messages in its `expected.txt`.
@Suite struct InvalidFixtureTests {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("invalid")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    }

    @Test func theCorpusIsLargeEnough() {
        #expect(Self.cases.count >= 30)
    }

    @Test(arguments: cases)
    func producesItsMessage(_ name: String) async throws {
        let folder = Self.root.appendingPathComponent(name)
        let stack = try String(contentsOf: folder.appendingPathComponent("stack.yaml"), encoding: .utf8)
        let profile = try String(contentsOf: folder.appendingPathComponent("profile.yaml"), encoding: .utf8)
        let expected = try String(contentsOf: folder.appendingPathComponent("expected.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        try await withTemporaryDirectory { directory in
            let project = try TestProject(directory: directory, stack: stack, profiles: ["local": profile])
            // Mock-inference fixture files of the case go where the stack expects them.
            let fixtures = folder.appendingPathComponent("fixtures")
            for file in (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? [] {
                try directory.write("stacks/default/fixtures/\(file)", try String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8))
            }
            let error = #expect(throws: ConfigError.self) { try project.plan() }
            let text = error?.description ?? ""
            for line in expected {
                #expect(text.contains(line), "\(name): expected «\(line)» in:\n\(text)")
            }
            // Every diagnostic names its file, line and column.
            for diagnostic in error?.diagnostics ?? [] {
                #expect(diagnostic.location != nil, "\(name): \(diagnostic.headline) has no location")
            }
        }
    }
}
