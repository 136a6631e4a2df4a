// swift-tools-version:6.1
// 6.1 for package traits: swift-openapi-runtime without FullFoundation keeps Foundation out of postured.
import PackageDescription

let package = Package(
    name: "posture",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "postured", targets: ["postured"]),
        .executable(name: "posture-collector", targets: ["posture-collector"]),
        .executable(name: "posture-bench", targets: ["posture-bench"]),
        .executable(name: "posture-collector-bench", targets: ["posture-collector-bench"]),
        .executable(name: "posture-verdict-bench", targets: ["posture-verdict-bench"]),
        .executable(name: "posture-fleet-bench", targets: ["posture-fleet-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4", traits: []),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
    ],
    targets: [
        // C: libsystemd (sd-journal, sd-bus, sd-login, sd-daemon).
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // C: libnftables, to read the ruleset as JSON in-process.
        .systemLibrary(
            name: "CNftables",
            pkgConfig: "libnftables",
            providers: [.apt(["libnftables-dev"])]
        ),
        // C: a few lines over the kernel's x_tables getsockopt ABI (iptables-legacy), whose structs
        // are easier to read with the kernel's own headers than to re-declare in Swift.
        .target(name: "CNetfilter"),

        // sd_notify for Type=notify units: readiness, status line, watchdog. Linked by both daemons.
        .target(name: "SystemdNotify", dependencies: ["CSystemd"]),
        // The journal, natively: structured entries, swift-log's handler with PRIORITY and MESSAGE_ID, and
        // the catalog of every MESSAGE_ID (packaging/systemd/posture.catalog). Linked by both daemons.
        .target(
            name: "SystemdJournal",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]
        ),

        // Pure value types: facts, report, attestations (JWS), device identity. No I/O, no clock.
        .target(
            name: "PostureModel",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            exclude: ["SCHEMA.md"],
            plugins: ["VersionFromChangelog"]
        ),
        // Writes PostureVersion.swift from packaging/debian/changelog: the version's one home.
        .plugin(name: "VersionFromChangelog", capability: .buildTool(), path: "Sources/VersionFromChangelog"),

        // Files that survive a crash, this process's arguments, and the error of a failed system call: what
        // every binary needs of libc, without the host's facts.
        .target(name: "PostureSystem"),
        // The only module that touches /proc, /sys, sd-journal and netfilter (and libc, through PostureSystem).
        .target(
            name: "PostureLinux",
            dependencies: [
                "CSystemd", "CNftables", "CNetfilter", "CLZ4", "CZlib", "CLZMA", "CZstd", "CSQLiteReader",
                "CZchunkReader", "PostureModel", "PostureSystem",
            ]
        ),

        // One folder per probe; each reads through PostureLinux below a configurable root.
        .target(
            name: "PostureProbes",
            dependencies: ["PostureLinux", "PostureModel"],
            exclude: [
                "OS/README.md", "DiskEncryption/README.md", "Firewall/README.md", "Journal/README.md",
                "SecureBoot/README.md", "KernelLockdown/README.md", "SecurityModules/README.md", "SSHD/README.md",
                "Packages/README.md", "Sessions/README.md",
            ]
        ),

        // The agent's state on disk: its directory and keys, the spool, what enforcement put in place. What
        // posturectl's endpoint half reads, without the agent's probes, client or enforcement.
        .target(
            name: "PostureAgentState",
            dependencies: [
                "PostureModel", "PostureSystem", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),

        // C: a thin layer over tpm2-tss's ESAPI (dlopen'd: the agent runs without libtss2 or a TPM).
        .target(name: "CTPM", linkerSettings: [.linkedLibrary("dl")]),
        // The TPM 2.0: the device key made and used inside it, its blob in the state directory.
        .target(
            name: "PostureTPM",
            dependencies: [
                "CTPM", "PostureModel", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),

        // The agent: device key, enrollment, signed attestations over mTLS, on-disk spool.
        .target(
            name: "PostureAgent",
            dependencies: [
                "PostureAgentState", "PostureProbes", "PostureLinux", "PostureModel", "PostureClient", "SystemdNotify",
                "SystemdJournal", "PostureAccess", "PostureSystem", "PostureTPM",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"]
        ),

        // The collector's API as Sources/PostureAPI/openapi.yaml says it: types, the server's handler protocol
        // and the client, generated by packaging/dev/openapi.sh (swift-openapi-generator) and committed.
        .target(
            name: "PostureAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            exclude: ["openapi.yaml", "openapi-generator-config.yaml"]
        ),

        // The Shared Signals transmitter's endpoints of the same openapi.yaml: types and the server's handler
        // protocol, generated by packaging/dev/openapi.sh and committed.
        .target(
            name: "PostureSSFAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            exclude: ["openapi-generator-config.yaml"]
        ),

        // HTTPS to the collector (mutual TLS for devices, bearer tokens for operators), with fail-over between
        // its URLs: what the agent and posturectl's operator commands share.
        .target(
            name: "PostureClient",
            dependencies: [
                "PostureModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),

        // Storage: narrow protocols per concern, the pure decisions, and every operation written once as a
        // script over SQL that both backends read. Links no database.
        .target(name: "PostureStore", dependencies: ["PostureModel", "PostureVerdict", "CZlib"]),
        // C: zlib, to store each distinct report body once, deflated.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // LZ4 frames: apt's lists as Debian's container images keep them (Acquire::GzipIndexes).
        .systemLibrary(name: "CLZ4", providers: [.apt(["liblz4-dev"])]),
        // xz and zstd: dnf's repository metadata (Fedora's is zstd) and apt lists kept compressed. dpkg itself
        // links liblzma5, libzstd1 and zlib1g, so the agent's package adds no dependency by them.
        .systemLibrary(name: "CLZMA", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
        // C: rpm's SQLite database read through libsqlite3, dlopen'd (only rpm systems have or need it).
        .target(name: "CSQLiteReader", linkerSettings: [.linkedLibrary("dl")]),
        // C: zchunk (Fedora's dnf metadata) through libzck, dlopen'd (only rpm systems have or need it).
        .target(name: "CZchunkReader", linkerSettings: [.linkedLibrary("dl")]),
        // The embedded backend: one SQLite file (GRDB, WAL), its schema history.
        .target(
            name: "PostureStoreSQLite",
            dependencies: ["PostureStore", "PostureModel", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The shared backend of several collectors: PostgreSQL through postgres-nio.
        .target(
            name: "PostureStorePostgres",
            dependencies: [
                "PostureStore", "PostureModel", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The compliance policy and its evaluation: pure, no clock, no store.
        .target(
            name: "PostureVerdict",
            dependencies: [
                "PostureModel", .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // OpenSSH's formats, written from their specifications: public keys, user certificates signed by an
        // Ed25519 CA, KRLs. Pure: the collector issues and revokes with it.
        .target(
            name: "PostureAccess",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),

        // The collector: CA and enrollment, ingest and verification over mTLS.
        .target(
            name: "PostureCollector",
            dependencies: [
                "PostureModel", "PostureStore", "PostureStoreSQLite", "PostureStorePostgres", "PostureVerdict",
                "PostureAccess", "SystemdNotify",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                "PostureAPI", "PostureSSFAPI", .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            ],
            exclude: ["README.md"]
        ),

        // posturectl: people on the endpoint and operators. Linked into both daemons' binaries (argv[0]).
        .target(
            name: "PostureControl",
            dependencies: [
                "PostureAgentState", "PostureOperator", "PostureSystem", "PostureModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // posturectl's operator half: the fleet through the collector's API. The collector's binary links
        // this, and neither the agent nor the probes.
        .target(
            name: "PostureOperator",
            dependencies: [
                "PostureClient", "PostureSystem", "PostureModel", "PostureAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "postured",
            dependencies: [
                "PostureProbes", "PostureAgent", "PostureControl", "PostureSystem", "SystemdJournal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "posture-collector",
            dependencies: [
                "PostureCollector", "PostureStore", "PostureStoreSQLite", "PostureModel", "PostureVerdict",
                "SystemdNotify", "PostureOperator", "PostureSystem",
                "SystemdJournal",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "BenchSupport"),
        .executableTarget(
            name: "posture-verdict-bench",
            dependencies: [
                "BenchSupport", "PostureAgent", "PostureClient", "PostureProbes", "PostureModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "posture-collector-bench",
            dependencies: [
                "BenchSupport", "PostureAgent", "PostureClient", "PostureProbes", "PostureModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "posture-fleet-bench",
            dependencies: [
                "BenchSupport", "PostureStore", "PostureStoreSQLite", "PostureStorePostgres", "PostureCollector",
                "PostureProbes", "PostureVerdict", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "posture-bench",
            dependencies: [
                "PostureProbes", "PostureLinux", "PostureTPM", .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // Helpers shared by the test targets: running real tools, network namespaces, paths.
        .target(
            name: "TestSupport", dependencies: ["CNetfilter", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "PostureModelTests",
            dependencies: ["PostureModel", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "PostureAccessTests", dependencies: ["PostureAccess", "TestSupport"]),
        .testTarget(
            name: "PostureVerdictTests", dependencies: ["PostureVerdict", "PostureModel", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "PostureCollectorTests",
            dependencies: [
                "PostureCollector", "PostureModel", "PostureStore", "PostureTPM", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(
            name: "PostureAgentTests",
            dependencies: ["PostureAgent", "PostureModel", "SystemdJournal", "TestSupport"]
        ),
        .testTarget(
            name: "PostureStoreTests",
            dependencies: [
                "PostureStore", "PostureStoreSQLite", "PostureStorePostgres", "PostureModel", "PostureVerdict",
                "TestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "PostureLinuxTests", dependencies: ["PostureLinux", "TestSupport"]),
        .testTarget(
            name: "PostureProbesTests",
            dependencies: ["PostureProbes", "PostureLinux", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["PostureModel", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // libFuzzer targets for the trust-boundary parsers (packaging/dev/fuzz.sh, Tests/Fuzz/).
        .executableTarget(
            name: "posture-fuzz",
            dependencies: [
                "PostureModel", "PostureVerdict", "PostureProbes", "PostureAgent", "PostureCollector", "PostureAPI",
                "PostureAccess",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The fuzz build (packaging/dev/fuzz.sh sets POSTURE_FUZZ_BUILD=1) instruments this package's Swift modules
// for libFuzzer and ASan, not its dependencies: they compile as in any debug build (a third of the fuzz
// build's time). Coverage then guides the fuzzer through our parsers, not inside Yams or swift-certificates.
if Context.environment["POSTURE_FUZZ_BUILD"] == "1" {
    let sanitize = ["-sanitize=fuzzer,address"]
    for target in package.targets
    where (target.type == .regular || target.type == .executable) && !target.name.hasPrefix("C") {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(sanitize)]
        if target.name == "posture-fuzz" {
            target.linkerSettings = (target.linkerSettings ?? []) + [.unsafeFlags(sanitize)]
        }
    }
}
