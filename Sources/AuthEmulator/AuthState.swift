import Foundation

/// A message the emulator "sent": e-mails and SMS land here instead of leaving the machine.
public struct InboxMessage: Codable, Sendable {
    public var id: Int
    public var channel: String
    public var to: String
    /// signup, magiclink, recovery, invite, email_change, otp, sms
    public var type: String
    public var subject: String
    public var token: String?
    public var tokenHash: String?
    public var link: String?
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, channel, to, type, subject, token, link
        case tokenHash = "token_hash"
        case createdAt = "created_at"
    }
}

/// What the emulator keeps in memory: the inbox and the rate-limit windows. `devstack reset` clears both.
actor AuthState {
    private var inbox: [InboxMessage] = []
    private var nextMessage = 1
    private var windows: [String: [ContinuousClock.Instant]] = [:]
    static let inboxCapacity = 1000

    func deliver(channel: String, to: String, type: String, subject: String, token: String?, tokenHash: String?, link: String?) -> InboxMessage {
        let message = InboxMessage(
            id: nextMessage, channel: channel, to: to, type: type, subject: subject, token: token, tokenHash: tokenHash, link: link,
            createdAt: Date())
        inbox.append(message)
        nextMessage += 1
        if inbox.count > Self.inboxCapacity { inbox.removeFirst(inbox.count - Self.inboxCapacity) }
        return message
    }

    func messages(to recipient: String?) -> [InboxMessage] {
        guard let recipient else { return inbox }
        return inbox.filter { $0.to.lowercased() == recipient.lowercased() }
    }

    @discardableResult
    func clearInbox() -> Int {
        defer { inbox = [] }
        return inbox.count
    }

    /// True when one more event fits in the window; records it if so.
    func allow(_ key: String, limit: Int, per window: Duration) -> Bool {
        let now = ContinuousClock.now
        var events = (windows[key] ?? []).filter { now - $0 < window }
        guard events.count < limit else {
            windows[key] = events
            return false
        }
        events.append(now)
        windows[key] = events
        return true
    }

    func reset() -> (messages: Int, limits: Int) {
        defer { windows = [:] }
        return (clearInbox(), windows.count)
    }
}
