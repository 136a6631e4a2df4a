import ArgumentParser
import PostureModel
import PostureOperator

/// `posturectl` as the agent's package installs it (a name of the `postured` binary): this device's state
/// and the operator commands. The collector's package installs `OperatorCtl`, the operator commands alone;
/// `update-alternatives` prefers this one when both are on a host.
public struct PostureCtl: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "posturectl",
        abstract: "Posture's command line: this device's posture state, and the fleet through the collector's API.",
        discussion: OperatorCommands.discussion,
        version: postureVersion,
        subcommands: [AgentStatus.self, SSHCommands.self, AccessCommands.self] + OperatorCommands.subcommands + [
            VersionCommand.self
        ]
    )
}
