import ArgumentParser
import DevstackCore
import DevstackPostgres
import DevstackProject
import Foundation

/// `devstack cache ls|clear`: what devstack keeps per machine to save work.
struct Cache: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "List or clear the machine's initdb cache.", subcommands: [CacheList.self, CacheClear.self])
}

struct CacheList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the initdb cache's entries.")

    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let cache = InitdbCache()
        let entries = cache.list()
        if json {
            try Console.standardOutput.writeJSON(entries)
            return
        }
        guard !entries.isEmpty else {
            Console.standardOutput.write("the initdb cache (\(cache.root)) is empty\n")
            return
        }
        let now = Date()
        var lines = ["\(cache.root):"]
        for entry in entries {
            lines.append(
                "  \(entry.name)  \(String(format: "%.1f", Double(entry.bytes) / 1_048_576)) MiB  made \(DurationParser.uptime(now.timeIntervalSince(entry.createdAt))) ago"
                    + (entry.spare ? ", spare ready" : "")
            )
        }
        Console.standardOutput.write(lines.joined(separator: "\n") + "\n")
    }
}

struct CacheClear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear", abstract: "Remove the initdb cache's entries (running stacks are not affected; the next first start makes one again).")

    func run() async throws {
        let cache = InitdbCache()
        let removed = try cache.clear()
        Console.standardOutput.write("devstack: removed \(removed) initdb cache \(removed == 1 ? "entry" : "entries") from \(cache.root)\n")
    }
}
