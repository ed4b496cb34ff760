import ArgumentParser
import DevstackProject
import Foundation

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Scaffold stacks/default and profiles/ into a project. Never overwrites a file.")

    @Option(help: "Project folder to write into. (default: the current directory)")
    var directory: String?

    func run() throws {
        let target = directory ?? FileManager.default.currentDirectoryPath
        let written = try Scaffold.write(into: target)
        Console.standardOutput.write(
            written.map { "created \($0)\n" }.joined()
                + "next: add .devstack/ to .gitignore, then run `devstack validate` and `devstack up`\n")
    }
}
