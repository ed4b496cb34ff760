import DevstackCore
import DevstackProject
import DevstackSystem
import DevstackTestSupport
import Foundation
import Testing

@testable import DevstackSupervisor

/// Logs rotate by size and count, and `devstack logs` reads across the rotated files.
@Suite struct LogRotationTests {
    static func line(_ number: Int) -> Data { Data("line \(number) \(String(repeating: "x", count: 80))".utf8) }

    func files(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("api.log") }.sorted()
    }

    @Test func rotatesPastTheSizeAndKeepsTheNewestFiles() async throws {
        try await withTemporaryDirectory { directory in
            let sink = try LogSink(directory: directory.path, console: nil, rotation: LogRotation(maxBytes: 4096, keep: 3))
            // ~125 bytes a line with its stamp: 40 chunks of 5 lines are ~25 KB, six files' worth.
            for chunk in 0..<40 { sink.write(service: "api", stream: .stdout, lines: (0..<5).map { Self.line(chunk * 5 + $0) }) }
            sink.close()
            #expect(files(directory.path) == ["api.log", "api.log.1", "api.log.2", "api.log.3"])
            for file in files(directory.path) {
                let size = (try FileManager.default.attributesOfItem(atPath: "\(directory.path)/\(file)"))[.size] as? Int ?? 0
                #expect(size <= 4096, "\(file): \(size) bytes")
                // A chunk is never split: every file ends with a whole line.
                #expect(directory.read(file)?.hasSuffix("\n") == true)
            }
            // Read back oldest first, across the files, and the newest line is the last written.
            let lines = LogReader.read(services: ["api"], directory: directory.path, last: nil, since: nil).0.map(\.text)
            #expect(lines.last?.hasPrefix("line 199 ") == true)
            let numbers = lines.compactMap { Int($0.split(separator: " ")[1]) }
            #expect(numbers == numbers.sorted())
            #expect(numbers.count > 100 && numbers.count < 200, "older lines went with the oldest file: \(numbers.count)")
            #expect(LogReader.read(services: ["api"], directory: directory.path, last: 3, since: nil).0.count == 3)
        }
    }

    @Test func keepZeroKeepsOnlyTheCurrentFile() async throws {
        try await withTemporaryDirectory { directory in
            let sink = try LogSink(directory: directory.path, console: nil, rotation: LogRotation(maxBytes: 4096, keep: 0))
            for chunk in 0..<20 { sink.write(service: "api", stream: .stdout, lines: (0..<5).map { Self.line(chunk * 5 + $0) }) }
            sink.close()
            #expect(files(directory.path) == ["api.log"])
        }
    }

    @Test func followReadsOnAcrossARotation() async throws {
        try await withTemporaryDirectory { directory in
            let sink = try LogSink(directory: directory.path, console: nil, rotation: LogRotation(maxBytes: 4096, keep: 2))
            sink.write(service: "api", stream: .stdout, lines: (0..<20).map(Self.line))
            var offsets = LogReader.read(services: ["api"], directory: directory.path, last: nil, since: nil).1
            // The next chunks pass the limit: the file followed so far becomes api.log.1.
            sink.write(service: "api", stream: .stdout, lines: (20..<30).map(Self.line))
            sink.write(service: "api", stream: .stdout, lines: (30..<45).map(Self.line))
            sink.close()
            let followed = LogReader.follow(services: ["api"], directory: directory.path, offsets: &offsets).map { $0.text.split(separator: " ")[1] }
            #expect(followed == (20..<45).map { Substring(String($0)) })
            #expect(files(directory.path) == ["api.log", "api.log.1"])
        }
    }

    @Test func theBackgroundSupervisorsOwnLogRotatesUnderItsDescriptors() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory.path)/supervisor.log"
            let output = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            let errors = dup(output)
            defer {
                close(output)
                close(errors)
            }
            let rotation = LogRotation(maxBytes: 1024, keep: 1)
            _ = Descriptor.writeAll(output, Data(String(repeating: "a line of the supervisor\n", count: 20).utf8))
            SupervisorLog.rotateIfNeeded(directory: directory.path, rotation: rotation, descriptors: [output, errors])
            #expect(directory.read("supervisor.log.1") == nil, "under the size: left as it is")
            _ = Descriptor.writeAll(errors, Data(String(repeating: "a line of the supervisor\n", count: 40).utf8))
            SupervisorLog.rotateIfNeeded(directory: directory.path, rotation: rotation, descriptors: [output, errors])
            #expect((directory.read("supervisor.log.1")?.utf8.count ?? 0) == 60 * 25)
            // Both descriptors now write the new file.
            _ = Descriptor.writeAll(output, Data("out\n".utf8))
            _ = Descriptor.writeAll(errors, Data("err\n".utf8))
            #expect(directory.read("supervisor.log") == "out\nerr\n")
            // A descriptor that is not the file (a terminal, a journal) is never touched.
            SupervisorLog.rotateIfNeeded(directory: directory.path, rotation: LogRotation(maxBytes: 1, keep: 1), descriptors: [STDIN_FILENO])
            #expect(directory.read("supervisor.log") == "out\nerr\n")
        }
    }
}
