import Foundation

/// What to run and where its output goes.
public struct LaunchRequest: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String
    /// Another OS user to run as (Postgres refuses to run as root).
    public var user: String?
    public var standardOutput: FileHandle?
    public var standardError: FileHandle?

    public init(
        executable: String, arguments: [String], environment: [String: String], workingDirectory: String, user: String? = nil,
        standardOutput: FileHandle? = nil, standardError: FileHandle? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.standardOutput = standardOutput
        self.standardError = standardError
    }
}

/// A running child. Its pid is also its process group: signals go to the whole group.
public final class ChildProcess: @unchecked Sendable {
    public let pid: Int32
    public let startTime: UInt64?
    private let process: Process
    private let exit: ExitLatch

    init(process: Process, exit: ExitLatch) {
        self.process = process
        self.pid = process.processIdentifier
        self.startTime = ProcessTable.startTime(of: process.processIdentifier)
        self.exit = exit
    }

    public var processGroup: Int32? { pid }

    /// Waits for the child to exit.
    public func waitForExit() async -> ExitStatus { await exit.wait() }

    public func waitForExit(within timeout: Duration) async -> ExitStatus? { await exit.wait(within: timeout) }

    /// Sends `signal` to the child's whole process group.
    public func signalGroup(_ signal: Int32) {
        if killpg(pid, signal) != 0 { kill(pid, signal) }
    }
}

public enum ExitStatus: Sendable, Equatable, Codable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signalled(let signal): return "killed by \(signalName(signal))"
        }
    }
}

public func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGKILL: "SIGKILL", SIGQUIT: "SIGQUIT", SIGHUP: "SIGHUP", SIGSEGV: "SIGSEGV",
        SIGABRT: "SIGABRT", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGBUS: "SIGBUS",
    ]
    return names[signal] ?? "signal \(signal)"
}

/// Resumes everyone waiting once the exit status is known; a bounded wait gives up on its own, so a
/// stop never hangs on a process that ignores its signal.
public final class ExitLatch: @unchecked Sendable {
    private let lock = NSLock()
    private var status: ExitStatus?
    private var waiters: [CheckedContinuation<ExitStatus, Never>] = []
    private var boundedWaiters: [Int: CheckedContinuation<ExitStatus?, Never>] = [:]
    private var nextWaiter = 0

    public init() {}

    public func resolve(_ value: ExitStatus) {
        let (toResume, bounded): ([CheckedContinuation<ExitStatus, Never>], [CheckedContinuation<ExitStatus?, Never>]) = lock.withLock {
            guard status == nil else { return ([], []) }
            status = value
            defer {
                waiters = []
                boundedWaiters = [:]
            }
            return (waiters, Array(boundedWaiters.values))
        }
        toResume.forEach { $0.resume(returning: value) }
        bounded.forEach { $0.resume(returning: value) }
    }

    public func wait() async -> ExitStatus {
        await withCheckedContinuation { continuation in
            let known: ExitStatus? = lock.withLock {
                if let status { return status }
                waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// The exit status, or nil when `timeout` passed first.
    public func wait(within timeout: Duration) async -> ExitStatus? {
        await withCheckedContinuation { (continuation: CheckedContinuation<ExitStatus?, Never>) in
            let (known, ticket): (ExitStatus?, Int) = lock.withLock {
                if let status { return (status, -1) }
                nextWaiter += 1
                boundedWaiters[nextWaiter] = continuation
                return (nil, nextWaiter)
            }
            if let known { return continuation.resume(returning: known) }
            Task {
                try? await Task.sleep(for: timeout)
                self.lock.withLock { self.boundedWaiters.removeValue(forKey: ticket) }?.resume(returning: nil)
            }
        }
    }
}

/// Launches every child from one dedicated thread that never exits.
///
/// Why: Linux ties the parent-death signal to the *thread* that forked, and Dispatch worker threads
/// come and go; they also block most signals, and children inherit that mask. This thread runs
/// with an empty signal mask, so children start with one too.
public final class ChildLauncher: @unchecked Sendable {
    public static let shared = ChildLauncher()

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []

    private init() {
        let thread = Thread { [unowned self] in self.serve() }
        thread.name = "devstack-launcher"
        thread.start()
    }

    private func serve() {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Starts the launcher thread ahead of the first launch.
    public static func start() { _ = shared }

    /// Starts the child; fails with a message naming what could not be run.
    public func launch(_ request: LaunchRequest) async throws -> ChildProcess {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            jobs.append {
                continuation.resume(with: Result { try Self.start(request) })
            }
            condition.signal()
            condition.unlock()
        }
    }

    private static func start(_ request: LaunchRequest) throws -> ChildProcess {
        let process = Process()
        let (executable, arguments) = ParentDeath.wrap(executable: request.executable, arguments: request.arguments, user: request.user)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = request.environment
        process.currentDirectoryURL = URL(fileURLWithPath: request.workingDirectory)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = request.standardOutput ?? FileHandle.nullDevice
        process.standardError = request.standardError ?? FileHandle.nullDevice
        let latch = ExitLatch()
        process.terminationHandler = { finished in
            latch.resolve(
                finished.terminationReason == .uncaughtSignal ? .signalled(finished.terminationStatus) : .exited(finished.terminationStatus))
        }
        try process.run()
        return ChildProcess(process: process, exit: latch)
    }
}
