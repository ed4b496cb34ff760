/// `kind: process`: the user's own command, run as given.
struct ProcessKind: KindDescriptor {
    let kind = ServiceKind.process
    let defaultPorts: [String] = []
    let settingKeys: [SettingKey] = []
    let takesCommand = true
    let attributeNames = ["url"]
    let hasBuiltInProbe = false

    func attributes(_ service: KindAttributeInputs) -> [String: String] {
        service.baseURL.map { ["url": $0] } ?? [:]
    }
}
