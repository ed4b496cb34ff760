import DevstackCore
import Foundation

/// How one mock inference service behaves, from its planned settings.
public struct InferenceSettings: Sendable {
    public enum Personality: String, Sendable {
        /// Answers at once.
        case instant
        /// Reasons first (`reasoning`, `reasoning_details`, `reasoning_content`), then answers.
        case thinking
    }

    public var name: String
    public var personality: Personality
    /// Model ids it answers for; anything else is a 404 as OpenAI gives it.
    public var models: [String]
    public var fixtures: [InferenceFixture]
    public var timeToFirstToken: Duration
    public var tokenDelay: Duration
    public var jitter: Duration
    public var apiKey: String?
    public var embeddingDimensions: Int
    public var keepAlive: Bool
    public var journalCapacity: Int
    public var maxBodyBytes: Int
    /// How long a `hang` fault holds a request before giving up with a 504.
    public var hangLimit: Duration

    public init(
        name: String, personality: Personality, models: [String]? = nil, fixtures: [InferenceFixture] = [],
        timeToFirstToken: Duration = .zero, tokenDelay: Duration = .zero, jitter: Duration = .zero, apiKey: String? = nil,
        embeddingDimensions: Int = 1536, keepAlive: Bool = false, journalCapacity: Int = 1000, maxBodyBytes: Int = 4 << 20,
        hangLimit: Duration = .seconds(600)
    ) {
        self.name = name
        self.personality = personality
        self.models = models ?? [name]
        self.fixtures = fixtures
        self.timeToFirstToken = timeToFirstToken
        self.tokenDelay = tokenDelay
        self.jitter = jitter
        self.apiKey = apiKey
        self.embeddingDimensions = embeddingDimensions
        self.keepAlive = keepAlive
        self.journalCapacity = journalCapacity
        self.maxBodyBytes = maxBodyBytes
        self.hangLimit = hangLimit
    }

    public init(service: PlannedService) {
        func duration(_ key: String) -> Duration {
            if case .duration(let value)? = service.setting(key) { return value }
            return .zero
        }
        let models: [String]? = {
            if case .list(let values)? = service.setting("models"), !values.isEmpty { return values }
            return nil
        }()
        var dimensions = 1536
        if case .int(let value)? = service.setting("embedding_dimensions") { dimensions = value }
        var keepAlive = false
        if case .bool(let value)? = service.setting("keep_alive") { keepAlive = value }
        let apiKey = service.setting("api_key").map(\.description).flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            name: service.name, personality: Personality(rawValue: service.setting("model")?.description ?? "") ?? .instant, models: models,
            fixtures: service.fixtures, timeToFirstToken: duration("time_to_first_token"), tokenDelay: duration("token_delay"),
            jitter: duration("jitter"), apiKey: apiKey, embeddingDimensions: dimensions, keepAlive: keepAlive)
    }
}
