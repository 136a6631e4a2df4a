import PostureModel

/// Runs every probe once and assembles the report.
public struct ReportCollector: Sendable {
    public init() {}

    public func collect(in context: ProbeContext) -> PostureReport {
        PostureReport(
            collectedAt: context.now,
            agentVersion: postureVersion,
            os: OSProbe().collect(in: context),
            diskEncryption: DiskEncryptionProbe().collect(in: context),
            firewall: FirewallProbe().collect(in: context),
            journal: JournalProbe().collect(in: context),
            secureBoot: SecureBootProbe().collect(in: context),
            kernelLockdown: KernelLockdownProbe().collect(in: context),
            securityModules: SecurityModulesProbe().collect(in: context),
            sshd: SSHDProbe().collect(in: context),
            sudo: SudoProbe().collect(in: context),
            patches: PatchProbe().collect(in: context),
            sessions: SessionProbe().collect(in: context)
        )
    }
}
