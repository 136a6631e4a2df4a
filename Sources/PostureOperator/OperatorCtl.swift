import ArgumentParser
import PostureModel

/// What posturectl's operator commands are, in both binaries that carry them.
public enum OperatorCommands {
    public static let subcommands: [any ParsableCommand.Type] = [
        DevicesCommand.self, FleetCommand.self, WaiversCommand.self, TokensCommand.self, AuditCommand.self,
        EventsCommand.self, PolicyCommand.self,
    ]

    public static let discussion = """
        Operator commands (devices, fleet, waivers, tokens, audit, events, policy preview, access grants|approve|deny|revoke) talk to the collector's API \
        listener over HTTPS with an API token. They read --collector, --token-file and --ca, else \
        POSTURE_COLLECTOR, POSTURE_TOKEN_FILE (or POSTURE_TOKEN) and POSTURE_CA, else \
        ~/.config/posture/posturectl.conf (lines `collector = https://HOST:8445`, \
        `token-file = ~/.config/posture/token`, `ca = FILE`); a file holding a token must be mode 0600.

        Exit codes: 0 success; 1 failure (collector unreachable, or a failure it reports); 3 not enrolled \
        (status); 4 refused: the token is unknown or lacks the scope; 5 no such device or waiver; 6 the \
        action does not apply (already quarantined, not quarantined, already revoked); 7 the audit trail \
        is not intact; 64 bad usage or settings.
        """
}

/// `posturectl` as the collector's package installs it (a name of the `posture-collector` binary): the
/// operator commands, without the agent's. The agent's package installs `PostureCtl`, which adds `status`.
public struct OperatorCtl: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "posturectl",
        abstract: "Posture's command line for operators: the fleet through the collector's API.",
        discussion: OperatorCommands.discussion,
        version: postureVersion,
        subcommands: OperatorCommands.subcommands + [
            OperatorAccessCommand.self, StatusElsewhere.self, VersionCommand.self,
        ]
    )
}

/// `posturectl version`: the Debian package's version.
public struct VersionCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version (the Debian package's).")
    public func run() { print(posturePackageVersion) }
}

/// `status` where only the collector's posturectl is installed: it reads an agent's state, which is not here.
struct StatusElsewhere: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "This device's posture state: needs the posture-agent package.")

    @Option(help: ArgumentHelp("State directory.", valueName: "dir")) var stateDir: String?
    @Option(help: ArgumentHelp("table or json.", valueName: "format")) var format: String?

    func run() throws {
        FleetAPI.printError(
            "this posturectl comes with posture-collector and has the operator commands only; `status` reads the agent's state: install posture-agent, whose posturectl takes precedence (update-alternatives --display posturectl)"
        )
        throw ExitCode(FleetAPI.Exit.usage)
    }
}
