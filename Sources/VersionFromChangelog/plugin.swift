import Foundation
import PackagePlugin

/// The version has one home, `packaging/debian/changelog` (Debian's own place for it): this build tool
/// writes `PostureVersion.swift` from its first line, so the binaries, the reports' `agentVersion` and
/// the `.deb` always agree. Bump it with `dch -v X.Y.Z-1` (or by editing the changelog).
@main
struct VersionFromChangelog: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let changelog = context.package.directoryURL.appending(path: "packaging/debian/changelog")
        let output = context.pluginWorkDirectoryURL.appending(path: "PostureVersion.swift")
        let script = """
            v=$(sed -n '1s/^[^ ]* (\\([^)]*\\)).*/\\1/p' "$1")
            [ -n "$v" ] || { echo "$1: first line is not 'posture (VERSION) ...'" >&2; exit 1; }
            printf '%s\\n' '/// Generated from packaging/debian/changelog by the VersionFromChangelog plugin.' \
                "public let posturePackageVersion = \\"$v\\"" "public let postureVersion = \\"${v%-*}\\"" > "$2"
            """
        return [
            .buildCommand(
                displayName: "Version from packaging/debian/changelog",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "version", changelog.path, output.path],
                inputFiles: [changelog],
                outputFiles: [output])
        ]
    }
}
