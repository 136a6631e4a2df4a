// swift-tools-version:6.2
// Builds apple/swift-openapi-generator at the version the committed code in Sources/PostureAPI/Generated
// came from. packaging/dev/openapi.sh runs it; the main package does not depend on this one.
import PackageDescription

let package = Package(
    name: "posture-openapi-generator",
    dependencies: [.package(url: "https://github.com/apple/swift-openapi-generator", exact: "1.14.3")],
    targets: []
)
