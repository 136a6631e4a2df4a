/// Every target, in the order packaging/dev/fuzz.sh runs them. The targets reach internal API through
/// `@testable import`, which only debug builds allow: a release build of the package has no targets.
enum FuzzTargets {
    #if DEBUG
        static let all: [FuzzTarget] = [
            FuzzTarget(
                name: "jws", maxLength: 16384, summary: "CompactJWS parse + verify, the collector's attestation check",
                run: JWSTarget.run),
            FuzzTarget(
                name: "attestation", maxLength: 16384,
                summary: "AttestationPayload decode, then limits, table, policy evaluation", run: AttestationTarget.run),
            FuzzTarget(name: "policy", maxLength: 16384, summary: "PolicyParser over YAML text", run: PolicyTarget.run),
            FuzzTarget(
                name: "evaluate", maxLength: 128, summary: "extreme values written into a real report, then evaluated",
                run: EvaluateTarget.run),
            FuzzTarget(
                name: "enroll", maxLength: 8192,
                summary: "EnrollmentRequest decode, machine-id/hostname/CSR checks, issuance",
                run: EnrollTarget.run),
            FuzzTarget(
                name: "verdict-jwt", maxLength: 8192, summary: "the agent's VerdictVerifier (JWT [NUL JWKS])",
                run: VerdictJWTTarget.run),
            FuzzTarget(
                name: "nftables", maxLength: 32768, summary: "libnftables JSON analysis and firewall facts",
                run: NftablesTarget.run),
            FuzzTarget(
                name: "journal", maxLength: 4096, summary: "journal export entries through the classifier",
                run: JournalTarget.run),
            FuzzTarget(
                name: "mountinfo", maxLength: 8192, summary: "/proc/self/mountinfo and /proc/swaps parsers",
                run: MountinfoTarget.run),
            FuzzTarget(
                name: "sysfs", maxLength: 4096, summary: "dm/uuid, dm/name, dev, mountinfo in a sysfs tree, disk probe",
                run: SysfsTarget.run),
            FuzzTarget(name: "os-release", maxLength: 4096, summary: "os-release(5) parser", run: OSReleaseTarget.run),
            FuzzTarget(
                name: "packages", maxLength: 16384,
                summary: "dpkg status, apt Packages and Release parsers, apt's candidate, Debian version order",
                run: PackagesTarget.run),
            FuzzTarget(
                name: "rpm", maxLength: 16384,
                summary:
                    "rpm header blobs, repository XML (primary, updateinfo) whole and in chunks, gz/xz/zstd, rpm version order",
                run: RpmTarget.run),
            FuzzTarget(
                name: "dashboard", maxLength: 16384, summary: "a report rendered as the dashboard's device page",
                run: DashboardTarget.run),
            FuzzTarget(
                name: "access", maxLength: 16384,
                summary: "LocalSSHRequest and its proof, SSHCertificateRequest, SSH key lines/blobs and SSHSIG",
                run: AccessTarget.run),
            FuzzTarget(
                name: "tpm", maxLength: 4096,
                summary: "TPM2B_PUBLIC/TPMT_PUBLIC, TPMS_ATTEST and its signature, MakeCredential, TPMKeyEvidence",
                run: TPMTarget.run),
        ]
    #else
        static let all: [FuzzTarget] = []
    #endif
}
