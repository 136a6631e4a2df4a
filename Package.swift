// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "posture",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "postured", targets: ["postured"]),
        .executable(name: "posture-bench", targets: ["posture-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
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

        // Pure value types: facts, report, (later) attestations and verdicts. No I/O.
        .target(name: "PostureModel", exclude: ["SCHEMA.md"]),

        // The only module that touches libc, /proc, /sys, sd-journal and netfilter.
        .target(
            name: "PostureLinux",
            dependencies: ["CSystemd", "CNftables", "CNetfilter", "PostureModel"]
        ),

        // One folder per probe; each reads through PostureLinux below a configurable root.
        .target(
            name: "PostureProbes",
            dependencies: ["PostureLinux", "PostureModel"],
            exclude: [
                "OS/README.md", "DiskEncryption/README.md", "Firewall/README.md", "Journal/README.md",
                "SecureBoot/README.md", "KernelLockdown/README.md", "SecurityModules/README.md", "SSHD/README.md",
            ]
        ),

        .executableTarget(
            name: "postured",
            dependencies: [
                "PostureProbes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "posture-bench",
            dependencies: ["PostureProbes", "PostureLinux"]
        ),

        // Helpers shared by the test targets: running real tools, network namespaces, paths.
        .target(name: "TestSupport", dependencies: ["CNetfilter"], path: "Tests/TestSupport"),
        .testTarget(name: "PostureModelTests", dependencies: ["PostureModel"]),
        .testTarget(name: "PostureLinuxTests", dependencies: ["PostureLinux", "TestSupport"]),
        .testTarget(
            name: "PostureProbesTests",
            dependencies: ["PostureProbes", "PostureLinux", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "EndToEndTests", dependencies: ["PostureModel", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
