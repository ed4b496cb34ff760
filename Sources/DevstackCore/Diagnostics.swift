import Foundation

/// A position in a file the user wrote; lines and columns count from 1.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One thing wrong with the user's configuration: where, what, and how to fix it.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation?
    public var keyPath: String
    public var message: String
    public var fix: String?
    /// The offending source line with a caret under the column.
    public var snippet: String?

    public init(
        location: SourceLocation?, keyPath: String, message: String, fix: String? = nil, snippet: String? = nil
    ) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
        self.fix = fix
        self.snippet = snippet
    }

    /// `file:line:col: key.path: message` — the line tests and editors match on.
    public var headline: String {
        var parts: [String] = []
        if let location { parts.append(location.description) }
        if !keyPath.isEmpty { parts.append(keyPath) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }

    public var description: String {
        var text = "error: \(headline)"
        if let snippet {
            text +=
                "\n"
                + snippet.split(separator: "\n", omittingEmptySubsequences: false)
                .map { "    | " + $0 }.joined(separator: "\n")
        }
        if let fix { text += "\n    fix: \(fix)" }
        return text
    }
}

/// The error type of `DevstackCore`: everything found wrong with the files, all at once.
public struct ConfigError: DevstackError, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case invalidConfiguration = "invalid_configuration"
        case projectNotFound = "project_not_found"
        case stackNotFound = "stack_not_found"
        case profileNotFound = "profile_not_found"
    }

    public var kind: Code
    public var diagnostics: [ConfigDiagnostic]

    public init(code: Code = .invalidConfiguration, diagnostics: [ConfigDiagnostic]) {
        self.kind = code
        self.diagnostics = diagnostics
    }

    public var code: String { kind.rawValue }
    public var message: String { diagnostics.map(\.message).joined(separator: "; ") }
    public var location: SourceLocation? { diagnostics.count == 1 ? diagnostics[0].location : nil }
    public var fix: String? { diagnostics.count == 1 ? diagnostics[0].fix : nil }
    public var exitStatus: Int32 { 2 }
    /// Every diagnostic with its snippet, and the count when there are several.
    public var report: String { description }

    public init(code: Code, message: String, fix: String? = nil) {
        self.init(code: code, diagnostics: [ConfigDiagnostic(location: nil, keyPath: "", message: message, fix: fix)])
    }

    public var description: String {
        let count = diagnostics.count
        let body = diagnostics.map(\.description).joined(separator: "\n")
        guard count > 1 else { return body }
        return body + "\n\(count) errors; nothing was started."
    }
}

/// Collects diagnostics while files are read, so one run reports every mistake.
final class DiagnosticCollector {
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// What was reported, to drop repeats in constant time (a broken file can have thousands of mistakes).
    private var seen: Set<ConfigDiagnostic> = []

    var isEmpty: Bool { diagnostics.isEmpty }

    func report(_ diagnostic: ConfigDiagnostic) {
        if seen.insert(diagnostic).inserted { diagnostics.append(diagnostic) }
    }

    func report(at location: SourceLocation?, in source: SourceText?, _ keyPath: String, _ message: String, fix: String? = nil) {
        let snippet = location.flatMap { source?.snippet(line: $0.line, column: $0.column) }
        report(ConfigDiagnostic(location: location, keyPath: keyPath, message: message, fix: fix, snippet: snippet))
    }

    func throwIfAny() throws {
        if !diagnostics.isEmpty { throw ConfigError(diagnostics: diagnostics) }
    }
}

/// A file's text and the name it is shown under in messages.
public struct SourceText: Sendable {
    public let displayPath: String
    public let text: String
    /// Where each line starts, found once: a file with thousands of mistakes gets a snippet for each.
    private let lineStarts: [String.Index]

    public init(displayPath: String, text: String) {
        self.displayPath = displayPath
        self.text = text
        // On bytes: a newline is one byte in UTF-8, and Character iteration (grapheme breaking) costs more.
        var starts = [text.startIndex]
        let bytes = text.utf8
        var index = bytes.startIndex
        while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
            index = bytes.index(after: newline)
            starts.append(index)
        }
        lineStarts = starts
    }

    func location(line: Int, column: Int) -> SourceLocation {
        SourceLocation(file: displayPath, line: line, column: column)
    }

    func snippet(line: Int, column: Int) -> String? {
        guard line >= 1, line <= lineStarts.count else { return nil }
        let start = lineStarts[line - 1]
        let end = line < lineStarts.count ? text.index(before: lineStarts[line]) : text.endIndex
        let content = String(text[start..<end]).replacingOccurrences(of: "\t", with: " ")
        let caret = String(repeating: " ", count: max(0, column - 1)) + "^"
        return "\(content)\n\(caret)"
    }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggestion {
    static func closest(to word: String, among candidates: some Sequence<String>) -> String? {
        let limit = max(2, word.count / 3)
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(word.lowercased(), candidate.lowercased())
            if distance <= limit, distance < (best?.1 ?? .max) { best = (candidate, distance) }
        }
        return best?.0
    }

    public static func didYouMean(_ word: String, among candidates: [String], noun: String) -> String {
        let sorted = candidates.sorted()
        let list = sorted.isEmpty ? "none are defined" : "\(noun): \(sorted.joined(separator: ", "))"
        if let match = closest(to: word, among: sorted) { return "did you mean '\(match)'? (\(list))" }
        return list.prefix(1).uppercased() + list.dropFirst()
    }

    /// Edit distance where swapping two neighbours counts once: "wbe" is one step from "web".
    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
