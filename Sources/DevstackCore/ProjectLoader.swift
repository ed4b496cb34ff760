import Foundation

/// A stack and a profile read from disk and checked against each other.
public struct LoadedProject: Sendable {
    public var stack: StackSpec
    public var profile: ProfileSpec
    public var stackSource: SourceText
    public var profileSource: SourceText
    /// `env_file` contents keyed by absolute path; a missing file is absent.
    public var envFiles: [String: [(String, String)]]
    /// Mock-inference fixtures keyed by the absolute path of their folder.
    public var fixtures: [String: [InferenceFixture]] = [:]
    /// Mistakes found while reading; planning adds its own so one run reports them all.
    public var diagnostics: [ConfigDiagnostic]
}

/// Finds the project, lists its stacks and profiles, and reads them.
public enum ProjectLoader {
    /// Walks up from `start` to the first folder holding `stacks/`.
    public static func findProjectDirectory(from start: String) -> String? {
        var url = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("stacks").path, isDirectory: &isDirectory), isDirectory.boolValue {
                return url.path
            }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return nil }
            url = parent
        }
    }

    public static func availableStacks(in projectDirectory: String) -> [String] {
        let root = "\(projectDirectory)/stacks"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "\(root)/\($0)/stack.yaml") }.sorted()
    }

    public static func availableProfiles(in projectDirectory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(projectDirectory)/profiles")) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Reads and checks both files; every mistake in either is reported in one error.
    public static func load(projectDirectory: String, stack stackName: String, profile profileName: String) throws -> LoadedProject {
        let stackPath = "stacks/\(stackName)/stack.yaml"
        let profilePath = "profiles/\(profileName).yaml"
        let stackText: String
        switch read("\(projectDirectory)/\(stackPath)") {
        case .text(let text): stackText = text
        case .unusable(let problem):
            throw ConfigError(
                code: .stackNotFound, message: "stack '\(stackName)': \(projectDirectory)/\(stackPath) \(problem.reason)", fix: problem.fix)
        case .missing:
            let available = availableStacks(in: projectDirectory)
            throw ConfigError(
                code: .stackNotFound, message: "no stack '\(stackName)': \(projectDirectory)/\(stackPath) does not exist",
                fix: available.isEmpty
                    ? "run `devstack init` to create stacks/default"
                    : "use --stack with one of: \(available.joined(separator: ", "))"
                        + (Suggestion.closest(to: stackName, among: available).map { " (did you mean '\($0)'?)" } ?? ""))
        }
        let profileText: String
        switch read("\(projectDirectory)/\(profilePath)") {
        case .text(let text): profileText = text
        case .unusable(let problem):
            throw ConfigError(
                code: .profileNotFound, message: "profile '\(profileName)': \(projectDirectory)/\(profilePath) \(problem.reason)", fix: problem.fix)
        case .missing:
            let available = availableProfiles(in: projectDirectory)
            throw ConfigError(
                code: .profileNotFound, message: "no profile '\(profileName)': \(projectDirectory)/\(profilePath) does not exist",
                fix: available.isEmpty
                    ? "run `devstack init` to create profiles/"
                    : "use --profile (or DEVSTACK_PROFILE) with one of: \(available.joined(separator: ", "))"
                        + (Suggestion.closest(to: profileName, among: available).map { " (did you mean '\($0)'?)" } ?? ""))
        }
        let diagnostics = DiagnosticCollector()
        let stackSource = SourceText(displayPath: stackPath, text: stackText)
        let profileSource = SourceText(displayPath: profilePath, text: profileText)
        let stack = StackParser(
            reader: YAMLReader(source: stackSource, diagnostics: diagnostics), name: stackName,
            directory: "\(projectDirectory)/stacks/\(stackName)"
        ).parse()
        let profile = ProfileParser(reader: YAMLReader(source: profileSource, diagnostics: diagnostics), name: profileName, stack: stack).parse()
        var envFiles: [String: [(String, String)]] = [:]
        for service in stack?.services ?? [] {
            guard let envFile = service.envFile else { continue }
            let full = FilePath.absolute(envFile.value, relativeTo: "\(projectDirectory)/stacks/\(stackName)")
            guard case .text(let text) = read(full) else { continue }
            let display = full.hasPrefix(projectDirectory + "/") ? String(full.dropFirst(projectDirectory.count + 1)) : full
            envFiles[full] = DotEnv.parse(SourceText(displayPath: display, text: text), diagnostics: diagnostics)
        }
        guard let stack, let profile else { throw ConfigError(diagnostics: diagnostics.diagnostics) }
        let fixtures = loadFixtures(
            stack: stack, profile: profile, sources: [stackSource, profileSource], diagnostics: diagnostics, projectDirectory: projectDirectory)
        return LoadedProject(
            stack: stack, profile: profile, stackSource: stackSource, profileSource: profileSource, envFiles: envFiles,
            fixtures: fixtures, diagnostics: diagnostics.diagnostics)
    }

    enum FileRead {
        case text(String)
        case missing
        case unusable(FileProblem)
    }

    /// Why a file that is there cannot be read, and what to do about it.
    struct FileProblem {
        var reason: String
        var fix: String
    }

    /// A file's text; a missing file and one that is there but cannot be read are told apart.
    static func read(_ path: String) -> FileRead {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return .missing }
        if isFolder.boolValue {
            return .unusable(FileProblem(reason: "is a folder, not a file", fix: "move the folder aside and put the YAML file there"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .unusable(
                FileProblem(
                    reason: "cannot be read (\(FileManager.default.isReadableFile(atPath: path) ? "read failed" : "permission denied"))",
                    fix: "let the user running devstack read it: check its owner and mode (ls -l)"))
        }
        return .text(String(decoding: data, as: UTF8.self))
    }
}

/// `.env` files: `KEY=value`, `export KEY=value`, `#` comments, single quotes literal, double quotes with escapes.
enum DotEnv {
    static func parse(_ source: SourceText, diagnostics: DiagnosticCollector) -> [(String, String)] {
        var entries: [(String, String)] = []
        for (index, rawLine) in source.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "="), Naming.isEnvName(String(line[..<equals]).trimmingCharacters(in: .whitespaces)) else {
                diagnostics.report(
                    at: source.location(line: index + 1, column: 1), in: source, "", "expected NAME=value",
                    fix: "each line is NAME=value; comments start with #")
                continue
            }
            let name = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            var value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            } else if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = unescape(String(value.dropFirst().dropLast()))
            } else if let comment = value.range(of: " #") {
                value = String(value[..<comment.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            entries.append((name, value))
        }
        return entries
    }

    private static func unescape(_ text: String) -> String {
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                default: result.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}
