import ArgumentParser
import DevstackProject
import DevstackSystem
import Foundation

struct Hook: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Git hooks that keep production secrets out of commits.", subcommands: [Install.self])

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a pre-commit hook that blocks a commit carrying a production secret devstack has fingerprinted.",
            discussion: "It runs `devstack doctor secrets --staged`. An existing pre-commit hook of another tool is left alone unless --force.")

        @OptionGroup var project: ProjectOptions

        @Flag(help: "Replace a pre-commit hook that is not devstack's.")
        var force = false

        static let marker = "# Installed by `devstack hook install`"

        func run() async throws {
            let directory = try project.workspace().projectDirectory
            guard let hooks = ToolOutput.read("/usr/bin/env", ["git", "-C", directory, "rev-parse", "--path-format=absolute", "--git-path", "hooks"])
            else {
                throw ValidationError("\(directory) is not in a git repository: there is no commit to guard (git init first)")
            }
            let file = "\(hooks)/pre-commit"
            if let existing = try? String(contentsOfFile: file, encoding: .utf8), !existing.contains(Self.marker), !force {
                throw ValidationError("\(file) is another tool's hook; add `devstack doctor secrets --staged` to it, or pass --force to replace it")
            }
            let script = """
                #!/bin/sh
                \(Self.marker): a commit that carries a production secret devstack has
                # fingerprinted (never the values) is stopped here. Remove it with `rm \(file)`.
                devstack="\(BinaryDiscovery.runningExecutable)"
                [ -x "$devstack" ] || devstack=devstack
                exec "$devstack" doctor secrets --staged --project-dir '\(directory.replacingOccurrences(of: "'", with: "'\\''"))'

                """
            try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
            try script.write(toFile: file, atomically: true, encoding: .utf8)
            chmod(file, 0o755)
            Console.standardOutput.write("devstack: installed \(file): commits carrying a fingerprinted production secret are blocked\n")
        }
    }
}
