import ArgumentParser
import DevstackCore
import DevstackProject
import Foundation

extension ConfigSchema.Document: ExpressibleByArgument {}

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of stack or profile files, for editor completion and checks.",
        discussion: """
            devstack schema stack > .devstack/schema/stack.json
            devstack schema --write .devstack/schema     writes stack.json and profile.json
            Then point the editor at it with a first line such as
              # yaml-language-server: $schema=../../.devstack/schema/stack.json
            """)

    @Argument(help: "stack or profile.")
    var document: ConfigSchema.Document?

    @Option(help: "Write stack.json and profile.json into this folder instead of printing.")
    var write: String?

    func validate() throws {
        if document == nil && write == nil { throw ValidationError("name a document (stack or profile), or pass --write FOLDER") }
    }

    func run() throws {
        if let folder = write {
            try SchemaFiles.write(to: folder)
            Console.standardOutput.write("wrote \(folder)/stack.json and \(folder)/profile.json\n")
        } else if let document {
            Console.standardOutput.write(ConfigSchema.json(for: document))
        }
    }
}
