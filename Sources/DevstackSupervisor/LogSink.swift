import DevstackCore
import DevstackDriverKit
import DevstackProject
import DevstackSystem
import Foundation
import Logging

public enum OutputStreamKind: String, Sendable, Codable {
    case stdout = "out"
    case stderr = "err"
}

/// Where every line of every service goes: its log file, and the console when someone watches.
public final class LogSink: ServiceOutput, @unchecked Sendable {
    public let directory: String
    private let console: ConsoleView?
    private let rotation: LogRotation
    private let lock = NSLock()
    private var files: [String: (descriptor: Int32, bytes: Int)] = [:]

    /// Console lines longer than this are split; the log file keeps them whole.
    static let consoleLineLimit = 4096

    public init(directory: String, console: ConsoleView?, rotation: LogRotation = LogRotation()) throws {
        self.directory = directory
        self.console = console
        self.rotation = rotation
        try StateDirectory.create(directory)
    }

    /// One chunk of complete lines from one stream; written with one system call per destination.
    func write(service: String, stream: OutputStreamKind, lines: [Data]) {
        guard !lines.isEmpty else { return }
        let stamp = Self.timestamp()
        var fileBytes = Data()
        var consoleLines: [String] = []
        for line in lines {
            fileBytes.append(contentsOf: Array("\(stamp) \(stream.rawValue) ".utf8))
            fileBytes.append(line)
            fileBytes.append(UInt8(ascii: "\n"))
            if console != nil { consoleLines += Self.printable(line) }
        }
        append(fileBytes, service: service)
        console?.log(service: service, lines: consoleLines)
    }

    /// A note from devstack itself about a service (restarts, exits), in its log and on the console.
    public func logger(service: String) -> Logger { SinkLogHandler.logger(service: service, sink: self) }

    public func note(service: String, _ text: String) {
        append(Data("\(Self.timestamp()) devstack \(text)\n".utf8), service: service)
        console?.note(service: service, text)
    }

    public func close() {
        lock.withLock {
            for file in files.values { Foundation.close(file.descriptor) }
            files = [:]
        }
    }

    /// Whole chunks of lines go to one file: a file past the limit is rotated before the next chunk,
    /// never in the middle of one.
    private func append(_ bytes: Data, service: String) {
        lock.withLock {
            var file = open(service)
            if file.bytes > 0 && file.bytes + bytes.count > rotation.maxBytes {
                Foundation.close(file.descriptor)
                LogFiles.rotate(directory: directory, service: service, keep: rotation.keep)
                files[service] = nil
                file = open(service)
            }
            guard file.descriptor >= 0 else { return }
            Descriptor.writeAll(file.descriptor, bytes)
            files[service] = (file.descriptor, file.bytes + bytes.count)
        }
    }

    private func open(_ service: String) -> (descriptor: Int32, bytes: Int) {
        if let file = files[service] { return file }
        let path = LogFiles.path(directory: directory, service: service)
        let descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        let file = (descriptor, (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0)
        files[service] = file
        return file
    }

    /// Binary-safe console text: invalid UTF-8 becomes U+FFFD, control characters are shown escaped,
    /// very long lines are split.
    static func printable(_ line: Data) -> [String] {
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) {
            text = String(
                String.UnicodeScalarView(
                    text.unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
                        (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F
                            ? Array(String(format: "\\x%02x", scalar.value).unicodeScalars) : [scalar]
                    }))
        }
        guard text.count > consoleLineLimit else { return [text] }
        var parts: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            parts.append(String(rest.prefix(consoleLineLimit)) + (rest.count > consoleLineLimit ? " ↩" : ""))
            rest = rest.dropFirst(consoleLineLimit)
        }
        return parts
    }

    static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// Reads one pipe until end-of-file on its own thread, so nothing a process writes is lost,
/// not even the last lines before it exits.
public final class OutputPump: @unchecked Sendable {
    private let drained = ExitLatch()

    init(service: String, stream: OutputStreamKind, reading handle: FileHandle, into sink: LogSink) {
        let descriptor = handle.fileDescriptor
        let thread = Thread { [drained] in
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending.append(contentsOf: buffer[0..<count])
                var lines: [Data] = []
                var start = pending.startIndex
                while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(pending[start..<newline])
                    start = pending.index(after: newline)
                }
                // A line with no end in sight is flushed in pieces rather than held forever.
                if pending.endIndex - start > 1 << 20 {
                    lines.append(pending[start...])
                    start = pending.endIndex
                }
                pending = Data(pending[start...])
                sink.write(service: service, stream: stream, lines: lines)
            }
            if !pending.isEmpty { sink.write(service: service, stream: stream, lines: [pending]) }
            try? handle.close()
            drained.resolve(.exited(0))
        }
        thread.name = "devstack-\(service)-\(stream.rawValue)"
        thread.start()
    }

    func waitUntilDrained() async { _ = await drained.wait() }
}
