import Crypto
import DevstackCore
import Foundation
import NIOConcurrencyHelpers

/// A fault injected through `POST /__devstack/faults`.
public struct FaultRule: Codable, Sendable {
    public var id: String
    public var status: Int?
    public var message: String?
    public var type: String?
    public var code: String?
    public var retryAfterMs: Int?
    public var fault: InferenceFixture.Fault?
    /// Applies to this many more requests, then is removed.
    public var count: Int?
    /// Applies to this share of matching requests, evenly spread (0.5: every second one).
    public var fraction: Double?
    public var scenario: String?
    /// `chat/completions`, `embeddings` or `models`.
    public var path: String?
    public var model: String?
    public var matched: Int?
    public var applied: Int?

    enum CodingKeys: String, CodingKey {
        case id, status, message, type, code, fault, count, fraction, scenario, path, model, matched, applied
        case retryAfterMs = "retry_after_ms"
    }

    var failure: InferenceFixture.Failure? {
        status.map { InferenceFixture.Failure(status: $0, message: message, type: type, code: code, retryAfterMs: retryAfterMs) }
    }

    /// What is wrong with a rule a client sent, in words for the 400 answer.
    var problem: (message: String, param: String)? {
        if (status == nil) == (fault == nil) { return ("give exactly one of 'status' or 'fault'", "status") }
        if let status, !(400...599).contains(status) { return ("'status' must be from 400 to 599", "status") }
        if let count, count < 1 { return ("'count' must be at least 1", "count") }
        if let fraction, !(fraction > 0 && fraction <= 1) { return ("'fraction' must be more than 0 and at most 1", "fraction") }
        if let path, !["chat/completions", "embeddings", "models"].contains(path) {
            return ("'path' must be chat/completions, embeddings or models", "path")
        }
        return nil
    }
}

/// One request as the journal keeps it.
public struct JournalEntry: Sendable {
    public var id: Int
    public var time: Date
    public var method: String
    public var path: String
    public var status: Int
    public var model: String?
    public var scenario: String?
    public var stream: Bool?
    public var fixture: String?
    public var fault: String?
    public var durationMs: Double
    public var headers: [String: String]
    /// The body as kept: whole up to the journal's per-body limit, its beginning past it.
    public var body: Data
    /// The body's full size, and its SHA-256 (hex) when only its beginning is kept.
    public var bodyBytes: Int
    public var bodySHA256: String?

    /// This entry with at most `limit` bytes of its body kept.
    func keeping(atMost limit: Int) -> JournalEntry {
        guard body.count > limit else { return self }
        var entry = self
        entry.bodySHA256 = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        entry.body = body.prefix(limit)
        return entry
    }

    /// What the journal holds for it, roughly: a request costs its body plus a little.
    var cost: Int { body.count + 512 }
}

/// What a running mock keeps between requests: the journal and the injected faults. Every API request
/// touches it twice (numbering and fault lookup, then the journal entry), so it is a lock around plain
/// data rather than an actor: measured under wrk on 2 cores, the two actor hops per request cost ~8 %
/// of the throughput (0.41–0.42× nginx against 0.44–0.46×); the lock is held for microseconds.
public final class InferenceState: Sendable {
    private struct Storage {
        var journal: [JournalEntry] = []
        var journalBytes = 0
        var nextRequest = 1
        var faults: [FaultRule] = []
        var nextFault = 1

        /// The oldest `count` entries go.
        mutating func drop(_ count: Int) {
            journalBytes -= journal.prefix(count).reduce(0) { $0 + $1.cost }
            journal.removeFirst(count)
        }
    }

    private let capacity: Int
    private let byteCapacity: Int
    private let bodyLimit: Int
    private let storage = NIOLockedValueBox(Storage())

    /// At most `capacity` requests and about `byteCapacity` bytes, each body kept up to `bodyLimit` bytes:
    /// the journal lives in the supervisor, so large requests must not grow it without bound.
    public init(capacity: Int, byteCapacity: Int = 16 << 20, bodyLimit: Int = 64 << 10) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        self.bodyLimit = bodyLimit
    }

    /// Numbers the request and hands out the injected fault that applies to it, if any.
    func begin(path: String, model: String?, scenario: String?) -> (number: Int, fault: FaultRule?) {
        storage.withLockedValue { storage in
            let number = storage.nextRequest
            storage.nextRequest += 1
            for index in storage.faults.indices {
                let rule = storage.faults[index]
                if let wanted = rule.path, wanted != path { continue }
                if let wanted = rule.model, wanted != model { continue }
                if let wanted = rule.scenario, wanted != scenario { continue }
                let matched = (rule.matched ?? 0) + 1
                storage.faults[index].matched = matched
                if let fraction = rule.fraction,
                    (Double(matched) * fraction).rounded(.down) == (Double(matched - 1) * fraction).rounded(.down)
                {
                    continue
                }
                storage.faults[index].applied = (rule.applied ?? 0) + 1
                if let count = rule.count {
                    if count <= 1 { storage.faults.remove(at: index) } else { storage.faults[index].count = count - 1 }
                }
                return (number, rule)
            }
            return (number, nil)
        }
    }

    func record(_ entry: JournalEntry) {
        // Hashing and copying a large body happen outside the lock.
        let entry = entry.keeping(atMost: bodyLimit)
        storage.withLockedValue { storage in
            var entry = entry
            if entry.id == 0 {
                // Refused before it was numbered (bad key, bad body).
                entry.id = storage.nextRequest
                storage.nextRequest += 1
            }
            storage.journal.append(entry)
            storage.journalBytes += entry.cost
            // Drop a batch at once so the bounds cost nothing per request.
            if storage.journal.count > capacity {
                storage.drop(max(storage.journal.count - capacity, capacity / 10))
            }
            if storage.journalBytes > byteCapacity {
                var excess = storage.journalBytes - byteCapacity * 9 / 10
                var count = 0
                while excess > 0, count < storage.journal.count - 1 {
                    excess -= storage.journal[count].cost
                    count += 1
                }
                storage.drop(count)
            }
        }
    }

    public func entries() -> [JournalEntry] { storage.withLockedValue(\.journal) }

    @discardableResult
    public func clearJournal() -> Int {
        storage.withLockedValue { storage in
            defer {
                storage.journal = []
                storage.journalBytes = 0
            }
            return storage.journal.count
        }
    }

    func addFault(_ rule: FaultRule) -> FaultRule {
        storage.withLockedValue { storage in
            var rule = rule
            rule.id = "fault_\(storage.nextFault)"
            rule.matched = 0
            rule.applied = 0
            storage.nextFault += 1
            storage.faults.append(rule)
            return rule
        }
    }

    public func activeFaults() -> [FaultRule] { storage.withLockedValue(\.faults) }

    func removeFault(_ id: String) -> Bool {
        storage.withLockedValue { storage in
            guard let index = storage.faults.firstIndex(where: { $0.id == id }) else { return false }
            storage.faults.remove(at: index)
            return true
        }
    }

    @discardableResult
    public func clearFaults() -> Int {
        storage.withLockedValue { storage in
            defer { storage.faults = [] }
            return storage.faults.count
        }
    }

    /// `devstack reset`: journal and faults gone, both at once.
    public func reset() -> (requests: Int, faults: Int) {
        storage.withLockedValue { storage in
            defer {
                storage.journal = []
                storage.journalBytes = 0
                storage.faults = []
            }
            return (storage.journal.count, storage.faults.count)
        }
    }
}
