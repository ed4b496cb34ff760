import Foundation

/// A `.sql` file cut into statements at top-level semicolons, each with the line it starts on, so
/// every statement runs on its own and an error points at its real line. Understands quotes,
/// `E'…'` escapes, quoted identifiers, `$tag$` dollar quoting, `--` and nested `/* */` comments.
public struct SQLScript: Sendable {
    public struct Statement: Sendable, Equatable {
        public var text: String
        /// 1-based line in the file where the statement's first character is.
        public var line: Int
    }

    public let statements: [Statement]

    public init(_ source: String) {
        var statements: [Statement] = []
        let characters = Array(source)
        var index = 0
        var line = 1
        var current = ""
        var startLine: Int?

        /// Text before a statement's first character (blanks, comments) is not part of it.
        func append(_ character: Character) {
            if character == "\n" { line += 1 }
            if startLine == nil {
                guard !character.isWhitespace else { return }
                startLine = line
            }
            current.append(character)
        }
        func appendComment(_ character: Character) {
            if character == "\n" { line += 1 }
            if startLine != nil { current.append(character) }
        }
        func finish() {
            let text = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty, let startLine { statements.append(Statement(text: text, line: startLine)) }
            current = ""
            startLine = nil
        }
        func peek(_ offset: Int) -> Character? { index + offset < characters.count ? characters[index + offset] : nil }

        while index < characters.count {
            let character = characters[index]
            switch character {
            case "-" where peek(1) == "-":
                while index < characters.count && characters[index] != "\n" {
                    appendComment(characters[index])
                    index += 1
                }
                continue
            case "/" where peek(1) == "*":
                var depth = 0
                repeat {
                    if characters[index] == "/" && peek(1) == "*" {
                        depth += 1
                        "/*".forEach(appendComment)
                        index += 2
                    } else if characters[index] == "*" && peek(1) == "/" {
                        depth -= 1
                        "*/".forEach(appendComment)
                        index += 2
                    } else {
                        appendComment(characters[index])
                        index += 1
                    }
                } while depth > 0 && index < characters.count
                continue
            case "'", "\"":
                let escapes = character == "'" && index > 0 && "eE".contains(characters[index - 1])
                append(character)
                index += 1
                while index < characters.count {
                    let inner = characters[index]
                    append(inner)
                    index += 1
                    if escapes && inner == "\\" && index < characters.count {
                        append(characters[index])
                        index += 1
                    } else if inner == character {
                        if peek(0) == character {  // doubled quote inside
                            append(character)
                            index += 1
                        } else {
                            break
                        }
                    }
                }
                continue
            case "$":
                if let tag = Self.dollarTag(characters, at: index) {
                    for tagCharacter in tag { append(tagCharacter) }
                    index += tag.count
                    while index < characters.count {
                        if characters[index] == "$", Self.matches(characters, at: index, tag) {
                            for tagCharacter in tag { append(tagCharacter) }
                            index += tag.count
                            break
                        }
                        append(characters[index])
                        index += 1
                    }
                    continue
                }
                append(character)
            case ";":
                finish()
            default:
                append(character)
            }
            index += 1
        }
        finish()
        self.statements = statements
    }

    /// `$$` or `$name$` starting at `index`, if that is what it is (not a `$1` parameter).
    static func dollarTag(_ characters: [Character], at index: Int) -> [Character]? {
        var end = index + 1
        while end < characters.count, characters[end] == "_" || characters[end].isLetter || (characters[end].isNumber && end > index + 1) {
            end += 1
        }
        guard end < characters.count, characters[end] == "$" else { return nil }
        if index > 0, characters[index - 1].isLetter || characters[index - 1].isNumber || characters[index - 1] == "_" { return nil }
        return Array(characters[index...end])
    }

    static func matches(_ characters: [Character], at index: Int, _ tag: [Character]) -> Bool {
        index + tag.count <= characters.count && Array(characters[index..<index + tag.count]) == tag
    }

}
