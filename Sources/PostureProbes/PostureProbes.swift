import PostureModel

/// The agent's version, reported in every report.
public let postureAgentVersion = "0.1.0"

/// Runs every probe once and assembles the report.
public struct ReportCollector: Sendable {
    public init() {}

    public func collect(in context: ProbeContext) -> PostureReport {
        PostureReport(
            collectedAt: context.now,
            agentVersion: postureAgentVersion,
            os: OSProbe().collect(in: context),
            diskEncryption: DiskEncryptionProbe().collect(in: context),
            firewall: FirewallProbe().collect(in: context),
            journal: JournalProbe().collect(in: context),
            secureBoot: SecureBootProbe().collect(in: context),
            kernelLockdown: KernelLockdownProbe().collect(in: context),
            securityModules: SecurityModulesProbe().collect(in: context),
            sshd: SSHDProbe().collect(in: context)
        )
    }
}
