import Foundation

/// Everything generic code knows about one kind of service, in one place: the parser, the planner,
/// the schema and the runtime ask the kind's descriptor and never switch on the kind themselves.
/// Adding a kind is a descriptor here and a driver in DevstackDrivers.
public protocol KindDescriptor: Sendable {
    var kind: ServiceKind { get }
    /// Ports every service of this kind listens on when the stack names none.
    var defaultPorts: [String] { get }
    /// Keys of this kind besides the common ones, with their types and meanings.
    var settingKeys: [SettingKey] { get }
    /// Whether a `command:` is required (and allowed): devstack runs the other kinds itself.
    var takesCommand: Bool { get }
    /// `${service.ATTRIBUTE}` names besides `host`, `port` and `name`.
    var attributeNames: [String] { get }
    /// The stack secret an attribute is made from, for `devstack config`'s explanations.
    func secret(behind attribute: String) -> String?
    /// Attributes a remote profile never hands out (staging-by-default, rule 2).
    var productionOnlyAttributes: Set<String> { get }
    /// The stop signal when the stack names none, and the one that follows if it does not stop in time.
    var defaultStop: (signal: StopSignal, escalation: StopSignal?) { get }
    /// Whether devstack can probe it without a `health:` block.
    var hasBuiltInProbe: Bool { get }
    /// Whether it keeps a database that `reset`, `migrate` and `psql` work on (started for them when the stack is down).
    var keepsDatabase: Bool { get }
    /// The attributes of a service this devstack runs.
    func attributes(_ service: KindAttributeInputs) -> [String: String]
    /// Whether a stack file may name this kind (or only devstack adds services of it).
    var declarable: Bool { get }
    /// The ports a service of this kind listens on.
    func portNames(for spec: ServiceSpec) -> [String]
    /// Services devstack adds beside this one, run and stopped with it.
    func companions(of spec: ServiceSpec) -> [ServiceSpec]
    /// For a companion: the port of the service it is part of that it listens on.
    var parentPort: String? { get }
    /// What a remote service's URL tells besides `url`, `host` and `port`.
    func remoteAttributes(_ url: URLComponents, secrets: [String: String]) -> [String: String]
    /// How a profile's `expose:` makes it reachable from other machines.
    var exposure: ExposureMode { get }
    /// The ports other machines reach when it is exposed.
    func exposedPorts(for spec: ServiceSpec) -> [String]
}

/// A kind whose services must agree with the rest of the stack (checked once every service is parsed).
protocol CrossServiceCheck {
    func validate(_ spec: ServiceSpec, settings: [String: PlannedSetting], in planner: Planner)
}

/// What a descriptor works out a service's attributes from.
public struct KindAttributeInputs: Sendable {
    public var name: String
    public var host: String
    public var ports: [PlannedPort]
    /// `http://host:port` of the first port, when there is one.
    public var baseURL: String?
    public var secrets: [String: String]
    /// The folder of the service's private sockets.
    public var socketDirectory: String
    /// Set when a client machine reaches the service over TLS: the certificate authority to check it against.
    public var authorityFile: String?
    /// A setting's value from the stack, or else the profile.
    public var setting: @Sendable (String) -> String?
}

extension KindDescriptor {
    public var takesCommand: Bool { false }
    public func secret(behind attribute: String) -> String? { nil }
    public var productionOnlyAttributes: Set<String> { [] }
    public var defaultStop: (signal: StopSignal, escalation: StopSignal?) { (.term, nil) }
    public var hasBuiltInProbe: Bool { true }
    public var keepsDatabase: Bool { false }
    public var declarable: Bool { true }
    public func portNames(for spec: ServiceSpec) -> [String] { spec.ports.isEmpty ? defaultPorts : spec.ports.map(\.value) }
    public func companions(of spec: ServiceSpec) -> [ServiceSpec] { [] }
    public var parentPort: String? { nil }
    public func remoteAttributes(_ url: URLComponents, secrets: [String: String]) -> [String: String] { [:] }
    public var exposure: ExposureMode { .tlsProxy }
    public func exposedPorts(for spec: ServiceSpec) -> [String] { portNames(for: spec) }

    /// "a" or "an", for messages.
    var article: String { "aeiou".contains(kind.rawValue.first ?? "x") ? "an" : "a" }
}

extension ServiceKind {
    /// The one place a kind is looked up.
    public var descriptor: any KindDescriptor {
        switch self {
        case .postgres: return PostgresKind()
        case .auth: return AuthKind()
        case .inference: return InferenceKind()
        case .process: return ProcessKind()
        case .pgbouncer: return PgBouncerKind()
        }
    }
}
