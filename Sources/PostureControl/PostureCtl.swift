import ArgumentParser
import PostureLinux
import PostureModel

/// `posturectl`: the command line for people on an endpoint and for operators. One command in both
/// packages (installed as a name of the `postured` and of the `posture-collector` binary, chosen by
/// `update-alternatives` when both are on a host), so it behaves the same wherever it is found.
public struct PostureCtl: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "posturectl",
        abstract: "Posture's command line: this device's posture state, and the fleet through the collector's API.",
        discussion: """
            Operator commands (devices, fleet, waivers, tokens, audit, events) talk to the collector's API \
            listener over HTTPS with an API token. They read --collector, --token-file and --ca, else \
            POSTURE_COLLECTOR, POSTURE_TOKEN_FILE (or POSTURE_TOKEN) and POSTURE_CA, else \
            ~/.config/posture/posturectl.conf (lines `collector = https://HOST:8445`, \
            `token-file = ~/.config/posture/token`, `ca = FILE`); a file holding a token must be mode 0600.

            Exit codes: 0 success; 1 failure (collector unreachable, or a failure it reports); 3 not enrolled \
            (status); 4 refused: the token is unknown or lacks the scope; 5 no such device or waiver; 6 the \
            action does not apply (already quarantined, not quarantined, already revoked); 7 the audit trail \
            is not intact; 64 bad usage or settings.
            """,
        version: postureVersion,
        subcommands: [
            AgentStatus.self, DevicesCommand.self, FleetCommand.self, WaiversCommand.self, TokensCommand.self,
            AuditCommand.self, EventsCommand.self, Version.self,
        ]
    )

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version (the Debian package's).")
        func run() { print(posturePackageVersion) }
    }
}

/// A multi-call binary's name as invoked (`/usr/bin/posturectl` → `posturectl`).
/// The command line this process was started with (program name first), robust to preloaded libraries.
public func invokedArguments() -> [String] { ProcessArguments.current }

public func invokedName() -> String {
    let path = ProcessArguments.current.first ?? ""
    return String(path.split(separator: "/").last ?? Substring(path))
}
