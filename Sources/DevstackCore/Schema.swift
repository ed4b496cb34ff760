import Foundation

/// JSON Schema of both file kinds, built from the same tables validation uses, so editors and devstack agree.
public enum ConfigSchema {
    public enum Document: String, CaseIterable, Sendable {
        case stack, profile
    }

    public static func json(for document: Document) -> String {
        let value = document == .stack ? stackSchema : profileSchema
        return value.encoded() + "\n"
    }

    static let durationPattern = #"^[0-9]+(\.[0-9]+)?(ms|s|m|h)?$"#

    static var duration: JSONValue {
        .object([
            "type": .array([.string("string"), .string("number")]), "pattern": .string(durationPattern),
            "description": .string("500ms, 5s, 2m, 1h, or seconds"),
        ])
    }

    static var template: JSONValue {
        .object([
            "type": .array([.string("string"), .string("number"), .string("boolean")]),
            "description": .string("may hold ${...} references; $$ is a literal $"),
        ])
    }

    static func enumeration(_ values: [String], description: String? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["enum": .array(values.map(JSONValue.string))]
        if let description { object["description"] = .string(description) }
        return .object(object)
    }

    static func object(_ properties: [String: JSONValue], required: [String] = [], description: String? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["type": .string("object"), "additionalProperties": .bool(false), "properties": .object(properties)]
        if !required.isEmpty { object["required"] = .array(required.map(JSONValue.string)) }
        if let description { object["description"] = .string(description) }
        return .object(object)
    }

    static func map(of value: JSONValue, description: String? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["type": .string("object"), "additionalProperties": value]
        if let description { object["description"] = .string(description) }
        return .object(object)
    }

    static var stringList: JSONValue { .object(["type": .string("array"), "items": .object(["type": .string("string")])]) }

    static var command: JSONValue {
        .object([
            "oneOf": .array([
                .object([
                    "type": .string("array"), "items": .object(["type": .string("string")]), "minItems": .number(1),
                    "description": .string("exec'd as is"),
                ]),
                .object(["type": .string("string"), "description": .string("run by /bin/sh -c")]),
            ])
        ])
    }

    static var restart: JSONValue {
        let policies = RestartPolicy.allCases.map(\.rawValue)
        return .object([
            "oneOf": .array([
                enumeration(policies),
                object([
                    "policy": enumeration(policies), "backoff": duration, "max_backoff": duration,
                    "max_restarts": .object(["type": .string("integer"), "minimum": .number(1)]), "window": duration,
                ]),
            ])
        ])
    }

    static func settingSchema(_ key: SettingKey) -> JSONValue {
        let description = JSONValue.string(key.summary)
        switch key.type {
        case .string, .path: return .object(["type": .string("string"), "description": description])
        case .bool: return .object(["type": .string("boolean"), "description": description])
        case .duration:
            guard case .object(var object) = duration else { return duration }
            object["description"] = description
            return .object(object)
        case .list:
            return .object([
                "type": .array([.string("array"), .string("string")]), "items": .object(["type": .string("string")]), "description": description,
            ])
        case .int(let range):
            return .object([
                "type": .string("integer"), "minimum": .number(range.lowerBound), "maximum": .number(range.upperBound), "description": description,
            ])
        case .choice(let options): return enumeration(options, description: key.summary)
        }
    }

    static var stackSchema: JSONValue {
        let dependency = JSONValue.object([
            "oneOf": .array([
                stringList,
                map(
                    of: .object([
                        "oneOf": .array([
                            enumeration(DependencyCondition.allCases.map(\.rawValue)),
                            object(["condition": enumeration(DependencyCondition.allCases.map(\.rawValue))], required: ["condition"]),
                        ])
                    ])),
            ])
        ])
        let health = object([
            "tcp": .object(["type": .array([.string("string"), .string("boolean")])]),
            "http": .object(["type": .string("string"), "pattern": .string("^/")]),
            "exec": command, "port": .object(["type": .string("string")]),
            "interval": duration, "timeout": duration, "start_period": duration,
            "retries": .object(["type": .string("integer"), "minimum": .number(1)]),
        ])
        let common: [String: JSONValue] = [
            "description": .object(["type": .string("string")]),
            "depends_on": dependency,
            "ports": .object(["type": .string("array"), "items": .object(["type": .string("string")]), "uniqueItems": .bool(true)]),
            "env": map(of: template), "env_file": .object(["type": .string("string")]),
            "health": health, "restart": restart,
            "stop": object(["signal": enumeration(StopSignal.allCases.flatMap { [$0.rawValue, "SIG\($0.rawValue)"] }), "timeout": duration]),
            "working_dir": .object(["type": .string("string")]),
            "restart_after_reset": .object(["type": .string("boolean"), "description": .string("restart this service after devstack reset")]),
        ]
        let variants: [JSONValue] = ServiceKind.declarable.map { kind in
            var properties = common
            properties["kind"] = .object(["const": .string(kind.rawValue)])
            for key in kind.settingKeys { properties[key.name] = settingSchema(key) }
            var required = ["kind"] + kind.settingKeys.filter(\.required).map(\.name)
            if kind.descriptor.takesCommand {
                properties["command"] = command
                required.append("command")
            }
            return object(properties, required: required)
        }
        var root = object(
            [
                "name": .object(["type": .string("string")]), "description": .object(["type": .string("string")]),
                "env": map(of: template, description: "what devstack env and devstack exec give other tools"),
                "services": map(of: .object(["oneOf": .array(variants)])),
                "smoke": map(
                    of: object([
                        "url": template, "method": .object(["type": .string("string")]),
                        "status": .object(["type": .string("integer"), "minimum": .number(100), "maximum": .number(599)]),
                        "body": .object(["type": .string("string")]), "contains": .object(["type": .string("string")]),
                        "sql": .object(["type": .string("string")]), "database": .object(["type": .string("string")]),
                    ]), description: "what devstack smoke checks: an HTTP request or a SQL query each (production: reads only)"),
            ], required: ["services"], description: "devstack stack: stacks/<stack>/stack.yaml")
        if case .object(var object) = root {
            object["$schema"] = .string("http://json-schema.org/draft-07/schema#")
            object["title"] = .string("devstack stack")
            root = .object(object)
        }
        return root
    }

    static var profileSchema: JSONValue {
        let allSettings = Dictionary(
            ServiceKind.allCases.flatMap(\.settingKeys).map { ($0.name, settingSchema($0)) }, uniquingKeysWith: { first, _ in first })
        let override = object([
            "env": map(of: .object(["oneOf": .array([template, .object(["type": .string("null")])])]), description: "null removes a variable"),
            "settings": object(allSettings),
            "restart": restart,
            "ports": map(of: .object(["type": .string("integer"), "minimum": .number(1), "maximum": .number(65535)])),
            "url": .object(["type": .string("string"), "description": .string("remote profiles: where this service lives")]),
        ])
        var root = object(
            [
                "description": .object(["type": .string("string")]),
                "ports": .object([
                    "oneOf": .array([
                        .object(["const": .string("auto")]),
                        object(
                            ["base": .object(["type": .string("integer"), "minimum": .number(1024), "maximum": .number(65000)])], required: ["base"]),
                    ])
                ]),
                "host": .object([
                    "oneOf": .array([
                        .object(["type": .string("string"), "description": .string("the address services listen on here")]),
                        object(
                            [
                                "address": .object(["type": .string("string"), "description": .string("the machine's name or address")]),
                                "port": .object([
                                    "type": .string("integer"), "minimum": .number(1024), "maximum": .number(65535),
                                    "description": .string("its control port for other machines (default \(HostSpec.defaultPort))"),
                                ]),
                            ], required: ["address"], description: "the machine that runs this profile; elsewhere devstack is its client"),
                    ])
                ]),
                "data": enumeration(DataMode.allCases.map(\.rawValue)),
                "protected": .object(["type": .string("boolean")]),
                "remote": .object(["type": .string("boolean")]),
                "values": map(of: template), "secrets": map(of: template),
                "postgres": map(of: .object(["type": .array([.string("string"), .string("number"), .string("boolean")])])),
                "restart": restart,
                "env": map(of: .object(["oneOf": .array([template, .object(["type": .string("null")])])])),
                "services": map(of: override),
                "alerts": object(
                    ["webhook": .object(["type": .string("string"), "format": .string("uri")])],
                    description: "where devstack posts an event (crash loop, failed service, low disk)"),
                "disk": object(
                    [
                        "min_free": .object([
                            "type": .array([.string("string"), .string("integer")]), "description": .string("warn below this, e.g. 1GB"),
                        ])
                    ],
                    description: "the disk guard"),
                "environment": enumeration(EnvironmentKind.allCases.map(\.rawValue)),
                "metrics": object(
                    ["port": .object(["type": .string("integer"), "minimum": .number(1024), "maximum": .number(65535)])],
                    description: "also serve /metrics and /healthz on 127.0.0.1 at this port (for Prometheus)"),
                "expose": object(
                    [
                        "address": .object(["type": .string("string"), "description": .string("a LAN or Tailscale address of this machine")]),
                        "services": .object(["type": .string("array"), "items": .object(["type": .string("string")])]),
                    ], required: ["address"], description: "what other machines may reach, over TLS with the profile's certificate authority"),
                "backups": object(
                    [
                        "service": .object(["type": .string("string"), "description": .string("the postgres service (default: the only one)")]),
                        "full": .object(["type": .string("string"), "description": .string("weekly, daily, hourly, or a duration such as 3d")]),
                        "diff": .object(["type": .string("string"), "description": .string("as full, or off")]),
                        "retention": .object(["type": .string("integer"), "minimum": .number(1), "description": .string("full backups kept")]),
                        "repository": .object(["type": .string("string"), "description": .string("folder (default: beside the data)")]),
                        "encrypt": .object(["type": .string("boolean"), "description": .string("with the profile's generated backup_key")]),
                    ], description: "pgBackRest: WAL archiving, scheduled and verified backups"),
                "keep_awake": .object([
                    "type": .string("boolean"), "description": .string("hold off sleep while the stack runs (default: true on protected profiles)"),
                ]),
                "logs": object(
                    [
                        "max_size": .object([
                            "type": .array([.string("string"), .string("integer")]), "description": .string("rotate past this size, e.g. 10MB"),
                        ]),
                        "keep": .object(["type": .string("integer"), "minimum": .number(0), "maximum": .number(1000)]),
                    ], description: "how each service's log file rotates"),
                "audit": object(
                    Dictionary(
                        uniqueKeysWithValues: ManualCheck.allCases.map { check in
                            (
                                check.rawValue,
                                object(
                                    [
                                        "by": .object(["type": .string("string")]), "on": .object(["type": .string("string")]),
                                        "link": .object(["type": .string("string")]),
                                    ], required: ["by", "on"])
                            )
                        }), description: "what devstack audit cannot check, recorded as done"),
            ], description: "devstack profile: profiles/<profile>.yaml")
        if case .object(var object) = root {
            object["$schema"] = .string("http://json-schema.org/draft-07/schema#")
            object["title"] = .string("devstack profile")
            root = .object(object)
        }
        return root
    }
}

/// A JSON value with sorted keys, for output that diffs cleanly.
public indirect enum JSONValue: Sendable, Encodable, Hashable {
    case string(String)
    case number(Int)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let values): try container.encode(values)
        }
    }

    public func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
