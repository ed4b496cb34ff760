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

/// What the emulator keeps in memory: the inbox, the rate-limit windows and PKCE flows between link
/// and exchange. `devstack reset` clears them.
actor AuthState {
    private var inbox: [InboxMessage] = []
    /// By the token hash of the message that started them, until the link is followed.
    private var pendingFlows: [String: FlowState] = [:]
    /// By auth code, until exchanged once.
    private var flows: [String: FlowState] = [:]
    /// OAuth sign-ins waiting on the fake provider's page, by state.
    private var oauthRequests: [String: OAuthRequest] = [:]
    /// The last TOTP step each factor accepted: a code works once.
    private var usedSteps: [String: Int64] = [:]
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

    func startFlow(_ flow: FlowState, tokenHash: String) {
        let now = ContinuousClock.now
        pendingFlows = pendingFlows.filter { now - $0.value.created < FlowState.lifetime }
        pendingFlows[tokenHash] = flow
    }

    /// The link was followed: the flow now waits for its code to be exchanged.
    func openFlow(tokenHash: String) -> FlowState? {
        guard let flow = pendingFlows.removeValue(forKey: tokenHash) else { return nil }
        flows[flow.authCode] = flow
        return flow
    }

    func flow(authCode: String) -> FlowState? { flows[authCode] }

    /// A flow whose code is handed out at once (an OAuth callback rather than an e-mail link).
    func openFlow(_ flow: FlowState) {
        flows[flow.authCode] = flow
    }

    /// A code is exchanged once.
    func takeFlow(authCode: String) -> FlowState? {
        flows.removeValue(forKey: authCode)
    }

    func startOAuth(_ request: OAuthRequest, state: String) {
        let now = ContinuousClock.now
        oauthRequests = oauthRequests.filter { now - $0.value.created < FlowState.lifetime }
        oauthRequests[state] = request
    }

    func oauthRequest(_ state: String) -> OAuthRequest? { oauthRequests[state] }

    func takeOAuthRequest(_ state: String) -> OAuthRequest? { oauthRequests.removeValue(forKey: state) }

    /// Records the step as used; false when it (or a later one) already was.
    func useStep(_ step: Int64, factor: String) -> Bool {
        if let used = usedSteps[factor], step <= used { return false }
        usedSteps[factor] = step
        return true
    }

    func reset() -> (messages: Int, limits: Int) {
        defer {
            usedSteps = [:]
            oauthRequests = [:]
            windows = [:]
            pendingFlows = [:]
            flows = [:]
        }
        return (clearInbox(), windows.count)
    }
}
