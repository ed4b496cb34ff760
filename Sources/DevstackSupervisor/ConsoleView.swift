import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation

/// What the person at the terminal sees during `up`: prefixed, coloured log lines and, on a
/// terminal, a live per-service progress block while the stack starts. Plain lines otherwise.
public final class ConsoleView: @unchecked Sendable {
    public struct Row: Sendable {
        public var name: String
        public var symbol: String
        public var state: String
        public var detail: String
        /// Time in the current state, while it is not settled; shown live only.
        public var seconds: Double?

        public init(name: String, symbol: String, state: String, detail: String, seconds: Double?) {
            self.name = name
            self.symbol = symbol
            self.state = state
            self.detail = detail
            self.seconds = seconds
        }
    }

    public let live: Bool
    public let color: Bool
    public let showLogs: Bool
    private let descriptor: Int32
    private let width: Int
    private let colors: [String: String]
    private let lock = NSLock()
    private var block: [String] = []
    private var blockOnScreen = 0
    private var lastPlainState: [String: String] = [:]

    /// `live` and `color` follow the terminal: both off when output is not a TTY, colour off with NO_COLOR.
    public init(services: [String], showLogs: Bool, descriptor: Int32 = STDOUT_FILENO, environment: [String: String]) {
        let terminal = isatty(descriptor) == 1 && environment["TERM"] != "dumb"
        self.live = terminal
        self.color = terminal && environment["NO_COLOR"].map(\.isEmpty) ?? true
        self.showLogs = showLogs
        self.descriptor = descriptor
        self.width = max(8, (services + ["devstack"]).map(\.count).max() ?? 8)
        let palette = ["36", "35", "33", "32", "34", "91", "96", "95", "93", "92"]
        self.colors = Dictionary(uniqueKeysWithValues: services.enumerated().map { ($1, palette[$0 % palette.count]) })
    }

    func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }

    func prefix(_ service: String) -> String {
        let padded = service.padding(toLength: width, withPad: " ", startingAt: 0)
        return paint("\(padded) |", colors[service] ?? "1") + " "
    }

    func log(service: String, lines: [String]) {
        guard showLogs, !lines.isEmpty else { return }
        let head = prefix(service)
        emit(lines.map { head + $0 + "\n" }.joined())
    }

    func note(service: String, _ text: String) {
        emit(prefix(service) + paint(text, "2") + "\n")
    }

    /// A line from devstack itself.
    public func message(_ text: String) {
        emit(text + "\n")
    }

    /// Startup progress. On a terminal the block is redrawn in place; otherwise a line per change.
    public func progress(_ rows: [Row]) {
        if live {
            lock.withLock {
                block = rows.map { row in
                    let name = row.name.padding(toLength: width, withPad: " ", startingAt: 0)
                    let detail = [row.detail, row.seconds.map { DurationParser.seconds(.seconds($0), fractionDigits: 1) } ?? ""].filter {
                        !$0.isEmpty
                    }.joined(separator: " ")
                    return " \(row.symbol) \(paint(name, colors[row.name] ?? "1")) \(row.state)" + (detail.isEmpty ? "" : paint("  \(detail)", "2"))
                }
                redrawLocked(clearing: true)
            }
            return
        }
        var changed: [String] = []
        lock.withLock {
            for row in rows where lastPlainState[row.name] != row.state {
                lastPlainState[row.name] = row.state
                changed.append("devstack: \(row.name) \(row.state)" + (row.detail.isEmpty ? "" : " (\(row.detail))") + "\n")
            }
        }
        if !changed.isEmpty { emit(changed.joined()) }
    }

    /// Leaves the last progress block on screen and stops redrawing it.
    public func finishProgress() {
        lock.withLock {
            block = []
            blockOnScreen = 0
        }
    }

    private func emit(_ text: String) {
        lock.withLock {
            guard live, blockOnScreen > 0 else {
                Descriptor.writeAll(descriptor, Data(text.utf8))
                return
            }
            // Lift the progress block, print above it, put it back.
            Descriptor.writeAll(descriptor, Data(("\u{1B}[\(blockOnScreen)A\u{1B}[J" + text).utf8))
            blockOnScreen = 0
            redrawLocked(clearing: false)
        }
    }

    private func redrawLocked(clearing: Bool) {
        var text = clearing && blockOnScreen > 0 ? "\u{1B}[\(blockOnScreen)A\u{1B}[J" : ""
        text += block.map { $0 + "\n" }.joined()
        blockOnScreen = block.count
        Descriptor.writeAll(descriptor, Data(text.utf8))
    }
}

extension ConsoleView {
    /// `devstack logs` output: the same prefixes as `up`.
    public func print(_ lines: [LogReader.Line]) {
        var text = ""
        for line in lines {
            for part in LogSink.printable(Data(line.text.utf8)) { text += prefix(line.service) + part + "\n" }
        }
        if !text.isEmpty { Descriptor.writeAll(STDOUT_FILENO, Data(text.utf8)) }
    }
}
