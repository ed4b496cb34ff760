import Foundation
import PostgresNIO

/// Riding over `devstack reset`, which swaps the database under a connection pool: an operation that
/// meets what a reset does to a client for a moment is tried again on a fresh connection, with short
/// growing pauses, until `patience` runs out.
public enum PostgresRetry {
    public static let patience: Duration = .seconds(10)
    /// One attempt's bound. A connection the reset closes at the moment it is leased can leave
    /// postgres-nio's promise unanswered (the query is written to a channel already closed): such an
    /// attempt is abandoned, left suspended, and tried again. An attempt that is only slow (a busy
    /// machine) may still commit after it was given up on, so the work runs twice: the bound is far
    /// above any real query's time (1 s was reached under a loaded test run, a refresh token
    /// inserted twice), and the callers' writes are made so a second run finds the first's.
    public static let attemptLimit: Duration = .seconds(5)

    public static func run<T: Sendable>(
        patience: Duration = patience, attemptLimit: Duration = attemptLimit, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let deadline = ContinuousClock.now + patience
        var pause = Duration.milliseconds(2)
        while true {
            do {
                return try await bounded(by: attemptLimit, operation)
            } catch  where passesWithAReset(error) && ContinuousClock.now + pause < deadline {
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(100))
            }
        }
    }

    /// What a reset does to a client for a moment: its connection terminated (57P01, or closed either end), the
    /// database not accepting connections during the swap (55000, 57P03), or renamed under a connection
    /// being opened (3D000); an abandoned attempt. Errors in a transaction arrive wrapped.
    public static func passesWithAReset(_ error: any Error) -> Bool {
        if error is AbandonedAttempt { return true }
        if let transaction = error as? PostgresTransactionError {
            return [transaction.beginError, transaction.closureError, transaction.commitError].contains { $0.map(passesWithAReset) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .serverClosedConnection, .connectionError, .clientClosedConnection: return true
        default: break
        }
        switch error.serverInfo?[.sqlState] {
        case "57P01", "57P03", "3D000": return true
        case "55000": return error.serverInfo?[.message]?.contains("not currently accepting connections") == true
        default: return false
        }
    }

    struct AbandonedAttempt: Error {}

    /// The operation's result, or `AbandonedAttempt` once `limit` passed. Not a task group: its end
    /// would wait for an operation that never ends.
    private static func bounded<T: Sendable>(by limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = Outcome<T>()
        return try await withCheckedThrowingContinuation { continuation in
            outcome.start(continuation)
            Task {
                do { outcome.finish(.success(try await operation())) } catch { outcome.finish(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: limit)
                outcome.finish(.failure(AbandonedAttempt()))
            }
        }
    }
}

/// The first of an operation and its timer to finish resumes the caller; the other is ignored.
private final class Outcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var early: Result<T, any Error>?

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let ready: Result<T, any Error>? = lock.withLock {
            if let early { return early }
            self.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    func finish(_ result: Result<T, any Error>) {
        let waiting: CheckedContinuation<T, any Error>? = lock.withLock {
            if let continuation {
                self.continuation = nil
                early = result
                return continuation
            }
            if early == nil { early = result }
            return nil
        }
        waiting?.resume(with: result)
    }
}
