import DevstackCore
import DevstackSystem
import Foundation

/// Reads the per-service log files for `devstack logs`.
public enum LogReader {
    public struct Line: Sendable {
        public var service: String
        public var timestamp: Date?
        public var text: String

        public init(service: String, timestamp: Date?, text: String) {
            self.service = service
            self.timestamp = timestamp
            self.text = text
        }
    }

    static let parser = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Lines are `TIMESTAMP out|err|devstack TEXT`.
    static func parse(_ raw: Substring, service: String) -> Line {
        let parts = raw.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let date = try? parser.parse(String(parts[0])) else {
            return Line(service: service, timestamp: nil, text: String(raw))
        }
        let text = parts[1] == "devstack" ? "[devstack] \(parts[2])" : String(parts[2])
        return Line(service: service, timestamp: date, text: text)
    }

    public static func services(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".log") && $0 != "supervisor.log" }.map { String($0.dropLast(4)) }.sorted()
    }

    /// The lines of the given services, merged by time; `last` per service, none older than `since`.
    public static func read(services: [String], directory: String, last: Int?, since: Date?) -> ([Line], [String: UInt64]) {
        var lines: [Line] = []
        var offsets: [String: UInt64] = [:]
        for service in services {
            var parsed: [Line] = []
            for path in LogFiles.all(directory: directory, service: service) {
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                if path == LogFiles.path(directory: directory, service: service) { offsets[service] = UInt64(data.count) }
                parsed += String(decoding: data, as: UTF8.self).split(separator: "\n").map { parse($0, service: service) }
            }
            if let since { parsed = parsed.filter { ($0.timestamp ?? .distantFuture) >= since } }
            if let last { parsed = Array(parsed.suffix(last)) }
            lines += parsed
        }
        return (
            lines.enumerated().sorted { ($0.element.timestamp ?? .distantPast, $0.offset) < ($1.element.timestamp ?? .distantPast, $1.offset) }.map(
                \.element), offsets
        )
    }

    public static func lastLines(of service: String, count: Int, directory: String) -> [String] {
        read(services: [service], directory: directory, last: count, since: nil).0.map(\.text)
    }

    /// New lines appended since `offsets`, for `logs -f`.
    public static func follow(services: [String], directory: String, offsets: inout [String: UInt64]) -> [Line] {
        var lines: [Line] = []
        for service in services {
            let path = LogFiles.path(directory: directory, service: service)
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            var start = offsets[service] ?? 0
            let end = (try? handle.seekToEnd()) ?? start
            if end < start {
                // Rotated since the last look: the rest of the old file is now `.1`, then the new one from its start.
                lines += rest(of: LogFiles.rotated(directory: directory, service: service, 1), from: start, service: service)
                start = 0
            }
            guard end > start else {
                offsets[service] = end
                continue
            }
            try? handle.seek(toOffset: start)
            let data = (try? handle.read(upToCount: Int(end - start))) ?? Data()
            // Keep a partial last line for the next round.
            guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            let complete = data[data.startIndex...lastNewline]
            offsets[service] = start + UInt64(complete.count)
            lines += String(decoding: complete, as: UTF8.self).split(separator: "\n").map { parse($0, service: service) }
        }
        return lines
    }

    private static func rest(of path: String, from offset: UInt64, service: String) -> [Line] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { parse($0, service: service) }
    }

    public static func parseSince(_ text: String, now: Date = Date()) -> Date? {
        if let duration = DurationParser.parse(text) { return now.addingTimeInterval(-Double(duration.milliseconds) / 1000) }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// Where each service's log lives: `<log folder>/<service>.log`, and before it `<service>.log.1`
/// (the newest rotated) up to `<service>.log.<keep>` (the oldest).
public enum LogFiles {
    public static func path(directory: String, service: String) -> String { "\(directory)/\(service).log" }

    public static func rotated(directory: String, service: String, _ number: Int) -> String {
        "\(path(directory: directory, service: service)).\(number)"
    }

    /// The service's files, oldest first, the current one last.
    public static func all(directory: String, service: String) -> [String] {
        var rotatedFiles: [String] = []
        var number = 1
        while FileManager.default.fileExists(atPath: rotated(directory: directory, service: service, number)) {
            rotatedFiles.append(rotated(directory: directory, service: service, number))
            number += 1
        }
        return rotatedFiles.reversed() + [path(directory: directory, service: service)]
    }

    /// The current file becomes `.1`, each older one moves up, and what passes `keep` goes.
    public static func rotate(directory: String, service: String, keep: Int) {
        let current = path(directory: directory, service: service)
        guard keep > 0 else {
            unlink(current)
            return
        }
        var number = 1
        while FileManager.default.fileExists(atPath: rotated(directory: directory, service: service, number)) { number += 1 }
        for older in stride(from: number - 1, through: 1, by: -1) {
            let from = rotated(directory: directory, service: service, older)
            if older >= keep { unlink(from) } else { rename(from, rotated(directory: directory, service: service, older + 1)) }
        }
        rename(current, rotated(directory: directory, service: service, 1))
    }
}
