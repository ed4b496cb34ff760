import Foundation

/// `kind: inference`: an OpenAI/OpenRouter-compatible mock hosted inside devstack.
struct InferenceKind: KindDescriptor {
    let kind = ServiceKind.inference
    let defaultPorts = ["http"]
    let settingKeys = [
        SettingKey("model", .choice(["instant", "thinking"]), "personality: answers at once, or reasons first", required: true),
        SettingKey("models", .list, "model ids listed by GET /models (default: the service name)"),
        SettingKey("fixtures", .path, "folder of *.yaml fixtures with deterministic answers"),
        SettingKey("time_to_first_token", .duration, "delay before the first token"),
        SettingKey("token_delay", .duration, "delay between streamed tokens"),
        SettingKey("jitter", .duration, "random extra delay added to each wait, at most this much"),
        SettingKey("api_key", .string, "when set, requests must carry it as a Bearer token"),
        SettingKey("embedding_dimensions", .int(1...8192), "length of embedding vectors"),
        SettingKey("keep_alive", .bool, "send OpenRouter's ': OPENROUTER PROCESSING' comment lines"),
    ]
    let attributeNames = ["url", "openrouter_url"]

    func attributes(_ service: KindAttributeInputs) -> [String: String] {
        guard let base = service.baseURL else { return [:] }
        return ["url": base + "/v1", "openrouter_url": base + "/api/v1"]
    }

    func remoteAttributes(_ url: URLComponents, secrets: [String: String]) -> [String: String] {
        url.string.map { ["openrouter_url": $0] } ?? [:]
    }
}
