#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything the agent knows about its host at one moment. Schema: `Sources/PostureModel/SCHEMA.md`.
public struct PostureReport: Sendable, Codable, Equatable {
    /// Bumped on any incompatible change to this structure; the collector refuses unknown versions.
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    public var collectedAt: Date
    public var agentVersion: String
    public var os: OSFacts
    public var diskEncryption: Fact<DiskEncryptionFacts>
    public var firewall: FirewallFacts
    public var journal: Fact<JournalFacts>
    public var secureBoot: Fact<SecureBootFacts>
    public var kernelLockdown: Fact<KernelLockdownFacts>
    public var securityModules: Fact<SecurityModuleFacts>
    public var sshd: Fact<SSHDFacts>
    /// Standing sudo (absent from agents that predate it: optional, so their reports still verify and decode).
    public var sudo: Fact<SudoFacts>?
    /// The TPM and where the signing key lives (absent from agents that predate it, and from `postured probe`).
    public var tpm: Fact<TPMFacts>?
    /// Patch level (absent from agents that predate it).
    public var patches: PatchFacts?
    /// Login sessions and screen lock (absent from agents that predate it).
    public var sessions: Fact<SessionFacts>?
    /// The agent's own settings (absent from agents that predate it, and from `postured probe`).
    public var agent: AgentFacts?

    public init(
        collectedAt: Date,
        agentVersion: String,
        os: OSFacts,
        diskEncryption: Fact<DiskEncryptionFacts>,
        firewall: FirewallFacts,
        journal: Fact<JournalFacts>,
        secureBoot: Fact<SecureBootFacts>,
        kernelLockdown: Fact<KernelLockdownFacts>,
        securityModules: Fact<SecurityModuleFacts>,
        sshd: Fact<SSHDFacts>,
        sudo: Fact<SudoFacts>? = nil,
        tpm: Fact<TPMFacts>? = nil,
        patches: PatchFacts? = nil,
        sessions: Fact<SessionFacts>? = nil
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.collectedAt = collectedAt
        self.agentVersion = agentVersion
        self.os = os
        self.diskEncryption = diskEncryption
        self.firewall = firewall
        self.journal = journal
        self.secureBoot = secureBoot
        self.kernelLockdown = kernelLockdown
        self.securityModules = securityModules
        self.sshd = sshd
        self.sudo = sudo
        self.tpm = tpm
        self.patches = patches
        self.sessions = sessions
    }
}

extension PostureReport {
    /// The canonical JSON encoding: sorted keys, ISO 8601 dates, so equal reports encode to equal bytes.
    public static func makeEncoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension PostureReport {
    /// `value` as another type with the same JSON: between the API's generated types and these.
    public static func reencode<Target: Decodable>(_ value: some Encodable, as target: Target.Type = Target.self)
        throws -> Target
    {
        try wireDecoder().decode(Target.self, from: try wireEncoder().encode(value))
    }
}
