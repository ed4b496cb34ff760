// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "devstack",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "devstack", targets: ["devstack"]),
        .executable(name: "ExampleGateway", targets: ["ExampleGateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        .executableTarget(
            name: "devstack",
            dependencies: ["DevstackCLI"],
            linkerSettings: [
                // Two ways the release build starts ~2.5 ms sooner on Linux, at every devstack command. Position-dependent:
                // the loader has no 150,000 relocations to apply (the price, as with Go's binaries: no address
                // randomisation of devstack's own code). No exported symbols (the static runtime's link arguments
                // export all 54,000): the runtime's start-up `dladdr` walks that table, as does every symbol lookup.
                .unsafeFlags(
                    ["-Xclang-linker", "-no-pie", "-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux], configuration: .release))
            ]
        ),
        // The command line: one file per subcommand, wiring the layers below together.
        .target(
            name: "DevstackCLI",
            dependencies: [
                "DevstackCore", "DevstackSystem", "DevstackProject", "DevstackSupervisor", "DevstackDriverKit", "DevstackDrivers",
                "DevstackPostgres", "AuthEmulator", "DevstackAudit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // `devstack audit`: the before-production checks, reading the plan and probing the running stack.
        .target(
            name: "DevstackAudit",
            dependencies: [
                "DevstackCore", "DevstackSystem", "DevstackProject", "DevstackPostgres", "DevstackSupervisor", "AuthEmulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The runtime: runs a plan (runners, ordering, resets, shutdown, guardian, logs, control API).
        .target(
            name: "DevstackSupervisor",
            dependencies: [
                "DevstackCore", "DevstackSystem", "DevstackProject", "DevstackDriverKit", "DevstackHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Files and machine state to a plan: the project, secrets, ports, scaffold, validation, state files.
        .target(
            name: "DevstackProject",
            dependencies: [
                "DevstackCore", "DevstackSystem",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The adapters that plug each kind's server into the runtime.
        .target(
            name: "DevstackDrivers",
            dependencies: [
                "DevstackCore", "DevstackSystem", "DevstackDriverKit", "DevstackPostgres", "AuthEmulator", "MockInference",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The driver contract: what a driver is given and returns.
        .target(
            name: "DevstackDriverKit",
            dependencies: [
                "DevstackCore", "DevstackSystem",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Postgres control: installation, sessions, Supabase bootstrap, migrations, seed, reset, snapshots.
        .target(
            name: "DevstackPostgres",
            dependencies: [
                "DevstackCore", "DevstackSystem",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "MockInference",
            dependencies: [
                "DevstackCore", "DevstackHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "AuthEmulator",
            dependencies: [
                "DevstackCore", "DevstackSystem", "DevstackHTTP", "PostgresRetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // The connection discipline all of devstack's HTTP servers share.
        .target(
            name: "DevstackHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Riding over `devstack reset` with postgres-nio's pool.
        .target(
            name: "PostgresRetry",
            dependencies: [.product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        // The machine: processes, signals, folders, files, ports; one file per platform concern.
        .target(
            name: "DevstackSystem",
            dependencies: ["DevstackCore"]
        ),
        // Pure: files to plan.
        .target(
            name: "DevstackCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "ExampleGateway",
            dependencies: [
                "DevstackHTTP",
                "PostgresRetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "DevstackTestSupport",
            dependencies: ["DevstackCore", "DevstackSystem", "DevstackProject", "DevstackSupervisor", "DevstackPostgres", "DevstackDriverKit"]
        ),
        .testTarget(
            name: "DevstackCoreTests",
            dependencies: ["DevstackCore", "DevstackTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "DevstackProjectTests",
            dependencies: [
                "DevstackCore", "DevstackProject", "DevstackSystem", "DevstackDriverKit", "DevstackTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .testTarget(
            name: "DevstackSupervisorTests",
            dependencies: ["DevstackSupervisor", "DevstackCore", "DevstackDriverKit", "DevstackProject", "DevstackSystem", "DevstackTestSupport"]
        ),
        .testTarget(
            name: "DevstackPostgresTests",
            dependencies: ["DevstackPostgres", "DevstackDrivers", "DevstackTestSupport"]
        ),
        .testTarget(
            name: "MockInferenceTests",
            dependencies: [
                "MockInference", "DevstackCore", "DevstackTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "AuthEmulatorTests",
            dependencies: [
                "AuthEmulator", "DevstackTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "DevstackCore", "DevstackSystem", "DevstackProject", "DevstackDriverKit", "DevstackSupervisor", "DevstackPostgres", "DevstackAudit",
                "DevstackTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
