import Foundation

/// A string from a file that may hold `${...}` references; `$$` is a literal `$`.
public struct Template: Sendable, Hashable {
    public let raw: String
    public let location: SourceLocation
    public let keyPath: String

    public init(_ raw: String, location: SourceLocation, keyPath: String) {
        self.raw = raw
        self.location = location
        self.keyPath = keyPath
    }

    public enum Segment: Sendable, Hashable {
        case literal(String)
        case reference(Reference)
    }

    public struct SyntaxError: Error, Sendable {
        public let message: String
        public let fix: String
    }

    /// Splits the text into literals and references.
    public func segments() -> Result<[Segment], SyntaxError> {
        var segments: [Segment] = []
        var literal = ""
        var index = raw.startIndex
        while index < raw.endIndex {
            let character = raw[index]
            let next = raw.index(after: index)
            guard character == "$", next < raw.endIndex else {
                literal.append(character)
                index = next
                continue
            }
            if raw[next] == "$" {
                literal.append("$")
                index = raw.index(after: next)
                continue
            }
            guard raw[next] == "{" else {
                literal.append(character)
                index = next
                continue
            }
            let bodyStart = raw.index(after: next)
            guard let close = raw[bodyStart...].firstIndex(of: "}") else {
                return .failure(
                    SyntaxError(message: "unterminated '${' in '\(raw)'", fix: "close the reference with '}', or write '$$' for a literal '$'"))
            }
            let body = String(raw[bodyStart..<close])
            switch Reference.parse(body) {
            case .success(let reference):
                if !literal.isEmpty { segments.append(.literal(literal)) }
                literal = ""
                segments.append(.reference(reference))
            case .failure(let error):
                return .failure(error)
            }
            index = raw.index(after: close)
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return .success(segments)
    }

    public var references: [Reference] {
        guard case .success(let segments) = segments() else { return [] }
        return segments.compactMap {
            if case .reference(let reference) = $0 { return reference }
            return nil
        }
    }
}

/// What a `${...}` names.
public enum Reference: Sendable, Hashable, CustomStringConvertible {
    /// `${env:NAME}` or `${env:NAME:-default}`.
    case environment(name: String, defaultValue: String?)
    /// `${profile.NAME}`: a value from the profile's `values`.
    case profileValue(String)
    /// `${secret.NAME}`.
    case secret(String)
    /// `${devstack.NAME}`: paths devstack knows (bin_dir, project_dir, stack_dir, state_dir).
    case devstack(String)
    /// `${service.attribute}`; `service` may be `self`; `attribute` may be `port.NAME`.
    case service(name: String, attribute: String)

    public var description: String {
        switch self {
        case .environment(let name, let defaultValue):
            return "${env:\(name)\(defaultValue.map { ":-\($0)" } ?? "")}"
        case .profileValue(let name): return "${profile.\(name)}"
        case .secret(let name): return "${secret.\(name)}"
        case .devstack(let name): return "${devstack.\(name)}"
        case .service(let name, let attribute): return "${\(name).\(attribute)}"
        }
    }

    static func parse(_ body: String) -> Result<Reference, Template.SyntaxError> {
        let trimmed = body.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("env:") {
            let rest = trimmed.dropFirst(4)
            let name: Substring
            let defaultValue: String?
            if let range = rest.range(of: ":-") {
                name = rest[..<range.lowerBound]
                defaultValue = String(rest[range.upperBound...])
            } else {
                name = rest
                defaultValue = nil
            }
            guard isIdentifier(name, allowDots: false) else {
                return .failure(
                    .init(
                        message: "'${\(body)}' is not a valid environment reference",
                        fix: "write ${env:NAME} or ${env:NAME:-default}"))
            }
            return .success(.environment(name: String(name), defaultValue: defaultValue))
        }
        let parts = trimmed.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, isIdentifier(parts[0][...], allowDots: false), isIdentifier(parts[1][...], allowDots: true)
        else {
            return .failure(
                .init(
                    message: trimmed.isEmpty ? "empty reference '${}'" : "'${\(body)}' is not a valid reference",
                    fix:
                        "references look like ${db.url}, ${self.port}, ${profile.log_level}, ${env:NAME}, ${secret.jwt_secret}; write '$$' for a literal '$'"
                ))
        }
        switch parts[0] {
        case "profile": return .success(.profileValue(parts[1]))
        case "secret": return .success(.secret(parts[1]))
        case "devstack": return .success(.devstack(parts[1]))
        default: return .success(.service(name: parts[0], attribute: parts[1]))
        }
    }

    private static func isIdentifier(_ text: Substring, allowDots: Bool) -> Bool {
        guard let first = text.first, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || (allowDots && $0 == ".") }
    }
}
