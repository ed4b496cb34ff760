import DevstackDriverKit
import DevstackSystem
import Foundation

/// One lease as `devstack db leases` and the lease API show it.
public struct LeaseRecord: Codable, Sendable {
    public var name: String
    public var service: String
    public var url: String
    /// The process the lease lives with; nil when it lives until released or too old.
    public var holderPid: Int32?
    public var holder: String?
    public var leasedAt: Date
    public var expiresAt: Date
    public var milliseconds: Double
    public var fromPool: Bool
}

/// Who holds which lease, and the sweep that takes back leases whose holder is gone or which
/// outlived the profile's maximum age. The databases themselves are the drivers' business.
actor LeaseDesk {
    enum State: Equatable {
        case open
        /// Shutting down: no new leases.
        case closed
    }

    private struct Entry {
        var record: LeaseRecord
        var holderStartTime: UInt64?
        var provider: any DatabaseLeasing
    }

    private var state = State.open
    private var entries: [String: Entry] = [:]
    private var sweeper: Task<Void, Never>?
    private let sweepInterval: Duration
    private let note: @Sendable (String, String) -> Void

    /// `note(service, line)` tells the service's log what was taken back and why.
    init(sweepInterval: Duration = .seconds(1), note: @escaping @Sendable (String, String) -> Void) {
        self.sweepInterval = sweepInterval
        self.note = note
    }

    func lease(service: String, from provider: any DatabaseLeasing, holder pid: Int32?) async throws -> LeaseRecord {
        guard state == .open else { throw SupervisorError(.refused, "the stack is stopping; no database was leased") }
        if let pid, !ProcessTable.isAlive(pid) {
            throw SupervisorError(.refused, "process \(pid), named as the lease's holder, is not running", fix: "give the pid of the test process")
        }
        let leased = try await provider.lease()
        let now = Date()
        let record = LeaseRecord(
            name: leased.name, service: service, url: leased.url, holderPid: pid,
            holder: pid.flatMap { ProcessTable.commandLine(of: $0).map(ProcessTable.shortened) }, leasedAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(provider.maximumAge.milliseconds) / 1000), milliseconds: leased.milliseconds,
            fromPool: leased.fromPool)
        // Stopped while the copy was made: it goes with the rest.
        guard state == .open else {
            try? await provider.release(leased.name)
            throw SupervisorError(.refused, "the stack is stopping; no database was leased")
        }
        entries[leased.name] = Entry(record: record, holderStartTime: pid.flatMap(ProcessTable.startTime(of:)), provider: provider)
        startSweeping()
        return record
    }

    func release(_ name: String) async throws {
        guard let entry = entries.removeValue(forKey: name) else {
            throw SupervisorError(.unknownLease, "no lease named '\(name)'", fix: "see `devstack db leases`; reset, down and expiry end leases too")
        }
        try await entry.provider.release(name)
    }

    var records: [LeaseRecord] { entries.values.map(\.record).sorted { $0.leasedAt < $1.leasedAt } }

    /// Ends every lease (of one service, or all): a reset or `down`.
    func releaseAll(service: String? = nil, because reason: String) async {
        let ending = entries.values.filter { service == nil || $0.record.service == service }
        for entry in ending {
            entries.removeValue(forKey: entry.record.name)
            do {
                try await entry.provider.release(entry.record.name)
                note(entry.record.service, "lease \(entry.record.name) ended: \(reason)")
            } catch {
                note(entry.record.service, "lease \(entry.record.name) ended (\(reason)), but dropping it failed: \(error)")
            }
        }
    }

    /// No more leases; what is out is dropped.
    func close() async {
        state = .closed
        sweeper?.cancel()
        sweeper = nil
        await releaseAll(because: "the stack is stopping")
    }

    /// Takes back leases whose holder exited or that are past their age.
    func sweep(now: Date = Date()) async {
        for entry in entries.values {
            let reason: String
            if let pid = entry.record.holderPid, !ProcessTable.isSameProcess(pid, startTime: entry.holderStartTime) {
                reason = "its holder, process \(pid), exited"
            } else if entry.record.expiresAt <= now {
                reason = "it reached the maximum age the profile sets (lease_max_age)"
            } else {
                continue
            }
            guard entries.removeValue(forKey: entry.record.name) != nil else { continue }
            do {
                try await entry.provider.release(entry.record.name)
                note(entry.record.service, "lease \(entry.record.name) taken back: \(reason)")
            } catch {
                note(entry.record.service, "lease \(entry.record.name) taken back (\(reason)), but dropping it failed: \(error)")
            }
        }
    }

    private func startSweeping() {
        guard sweeper == nil else { return }
        let interval = sweepInterval
        sweeper = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self.sweep()
                if await self.idle() { return }
            }
        }
    }

    /// Stops the sweep when nothing is out; the next lease starts it again.
    private func idle() -> Bool {
        guard entries.isEmpty else { return false }
        sweeper = nil
        return true
    }
}
