/// `kind: process`: the user's own command, run as given.
struct ProcessKind: KindDescriptor {
    let kind = ServiceKind.process
    let defaultPorts: [String] = []
    let settingKeys = [
        SettingKey("auth", .choice(["jwt"]), "the service checks the stack's access tokens: `devstack audit` tries to get past it"),
        SettingKey("auth_probe", .string, "with auth: jwt, a route a signed-in user may call, as 'GET /path' (default 'GET /')"),
        SettingKey("rate_limit_probe", .string, "a route the service rate-limits per user, as 'POST /path', which `devstack audit` bursts"),
    ]
    let takesCommand = true
    let attributeNames = ["url"]
    let hasBuiltInProbe = false

    func attributes(_ service: KindAttributeInputs) -> [String: String] {
        service.baseURL.map { ["url": $0] } ?? [:]
    }
}
