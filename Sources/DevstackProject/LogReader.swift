import DevstackCore
import DevstackSystem
import Foundation

/// Reads the per-service log files for `devstack logs`.
public enum LogReader {
    public struct Line: Sendable {
        public var service: String
        public var timestamp: Date?
        public var text: String
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
            let path = LogFiles.path(directory: directory, service: service)
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            offsets[service] = UInt64(data.count)
            var parsed = String(decoding: data, as: UTF8.self).split(separator: "\n").map { parse($0, service: service) }
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
            let start = offsets[service] ?? 0
            let end = (try? handle.seekToEnd()) ?? start
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

    public static func parseSince(_ text: String, now: Date = Date()) -> Date? {
        if let duration = DurationParser.parse(text) { return now.addingTimeInterval(-Double(duration.milliseconds) / 1000) }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// Where each service's log lives: `<log folder>/<service>.log`.
public enum LogFiles {
    public static func path(directory: String, service: String) -> String { "\(directory)/\(service).log" }
}
