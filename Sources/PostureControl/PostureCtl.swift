import ArgumentParser
import PostureModel

/// `posturectl`: the command line for people on an endpoint and for operators. One command in both
/// packages (installed as a name of the `postured` and of the `posture-collector` binary, chosen by
/// `update-alternatives` when both are on a host), so it behaves the same wherever it is found.
public struct PostureCtl: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "posturectl",
        abstract: "Posture's command line: this device's posture state (operators' commands are added here).",
        discussion: "Exit codes: 0 success; 3 not enrolled (status); 64 bad usage; 1 any other failure.",
        version: postureVersion,
        subcommands: [AgentStatus.self, Version.self]
    )

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version (the Debian package's).")
        func run() { print(posturePackageVersion) }
    }
}

/// A multi-call binary's name as invoked (`/usr/bin/posturectl` → `posturectl`).
public func invokedName() -> String {
    let path = CommandLine.arguments.first ?? ""
    return String(path.split(separator: "/").last ?? Substring(path))
}
