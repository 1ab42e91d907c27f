// swift-tools-version:6.1
import PackageDescription

/// One settings list for every target (as hummingbird and postgres-nio do).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "cashpoint",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "atm-switch", targets: ["atm-switch"]),
        .executable(name: "atm-terminal", targets: ["atm-terminal"]),
        .executable(name: "atm-harness", targets: ["atm-harness"]),
        .library(name: "ATM87", targets: ["ATM87"]),
        .library(name: "CashpointSecurity", targets: ["CashpointSecurity"]),
        .library(name: "CashpointSwitch", targets: ["CashpointSwitch"]),
        .library(name: "CashpointMetrics", targets: ["CashpointMetrics"]),
        .library(name: "CashpointCompliance", targets: ["CashpointCompliance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // MARK: The wire protocol: pure codec, spec tables, rules, masking printer, NIO framing.
        .target(
            name: "ATM87",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: libcrypt (libxcrypt) for bcrypt, and the security helpers over it.
        .systemLibrary(
            name: "CCrypt",
            pkgConfig: "libxcrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        // MARK: libqrencode, for the QR code a staff member scans into an authenticator app.
        .systemLibrary(
            name: "CQRencode",
            pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev"])]
        ),
        .target(
            name: "CashpointSecurity",
            dependencies: [
                "ATM87",
                "CCrypt",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: The bank: one API for cards and staff (who may do what, the card and staff rules, the
        // permission table, response codes, idempotency, the audit chain) over `BankRecords`, the store's
        // interface. No PostgreSQL: the store implements the interface.
        .target(
            name: "CashpointBank",
            dependencies: [
                "ATM87",
                "CashpointSecurity",
                // Only for `DatabaseUnavailable`, the one "no database now" error: no file here imports
                // PostgresNIO.
                "CashpointDatabase",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // Transaction monitoring's rule files (MonitoringRules).
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Compliance: sanctions list parsers (OFAC SDN CSV, EU consolidated CSV), name normalisation,
        // Jaro-Winkler (as jellyfish computes it), the screening index and scorer. Pure: Foundation only.
        .target(
            name: "CashpointCompliance",
            swiftSettings: swiftSettings
        ),
        // MARK: The private PostgreSQL used by the tools and the integration tests, and `DatabaseUnavailable`.
        .target(
            name: "CashpointDatabase",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: The bank's PostgreSQL store: migrations, posting, verification, the audit sealer, seeding.
        .target(
            name: "CashpointStore",
            dependencies: [
                "ATM87",
                "CashpointCompliance",
                "CashpointBank",
                "CashpointSecurity",
                "CashpointDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // schema.sql is generated by scripts/schema for people to read: not a resource of the module.
            exclude: ["schema.sql"],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        // MARK: The terminal: the ATM session state machine, store-and-forward, their shells (screen,
        // controller, the SQLite electronic journal), the teller desk, the terminal's protocol session.
        .target(
            name: "CashpointTerminal",
            dependencies: [
                "ATM87",
                "CashpointSecurity",
                "CQRencode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Metrics: swift-prometheus as the swift-metrics backend, and its HTTP endpoint as a service.
        .target(
            name: "CashpointMetrics",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: The network service: sessions, keys, MACs, tokens, the request router, the NIO server.
        .target(
            name: "CashpointSwitch",
            dependencies: [
                "ATM87",
                "CashpointCompliance",
                "CashpointBank",
                "CashpointSecurity",
                "CashpointStore",
                "CashpointDatabase",
                "CashpointMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: The harness: protocol examples and (later) scripted sequences, load and invariant runs.
        .target(
            name: "CashpointHarness",
            dependencies: [
                "ATM87",
                "CashpointTerminal",
                "CashpointSecurity",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                "CashpointBank",
                "CashpointStore",
                "CashpointDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Executables: thin command lines over the libraries (each command parses its options and
        // calls one library function; scripts/test keeps them under 600 lines together).
        .executableTarget(
            name: "atm-switch",
            dependencies: ["CashpointSwitch", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "atm-terminal",
            dependencies: ["CashpointTerminal", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "atm-harness",
            dependencies: ["CashpointHarness", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        // MARK: Tests. PostgreSQL tests live in their own target (CashpointDatabaseTests).
        .testTarget(
            name: "ATM87Tests",
            dependencies: [
                "ATM87",
                "CashpointTerminal",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            exclude: ["Regressions"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointHarnessTests",
            dependencies: [
                "ATM87",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "CashpointHarness",
                "CashpointSecurity",
                "CashpointStore",
                "CashpointTerminal",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointTerminalTests",
            dependencies: [
                "ATM87",
                "ATMTestSupport",
                "CashpointSecurity",
                "CashpointTerminal",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Test support: a manual clock, and an ATM controller run with a recording front end.
        .target(
            name: "ATMTestSupport",
            dependencies: ["CashpointTerminal", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/ATMTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointSecurityTests",
            dependencies: [
                "ATM87",
                "CashpointSecurity",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointBankTests",
            dependencies: ["CashpointBank", "CashpointSecurity", "CashpointStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointStoreTests",
            dependencies: [
                "CashpointTestSupport",
                "CashpointCompliance",
                "CashpointBank",
                "CashpointSecurity",
                "CashpointStore",
                "CashpointDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MARK: Test support: a fresh, migrated (and seeded) bank database per test.
        .target(
            name: "CashpointTestSupport",
            dependencies: [
                "CashpointBank",
                "CashpointSecurity",
                "CashpointStore",
                "CashpointDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CashpointTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointMetricsTests",
            dependencies: [
                "CashpointMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointSwitchTests",
            dependencies: [
                "ATMTestSupport",
                "CashpointTestSupport",
                "CashpointHarness",
                "ATM87",
                "CashpointBank",
                "CashpointCompliance",
                "CashpointSecurity",
                "CashpointStore",
                "CashpointDatabase",
                "CashpointSwitch",
                "CashpointTerminal",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointComplianceTests",
            // ATM87 only for its seeded generator, SplitMix64 (the one definition).
            dependencies: ["CashpointCompliance", "ATM87"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CashpointDatabaseTests",
            dependencies: [
                "CashpointDatabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
