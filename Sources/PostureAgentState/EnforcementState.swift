import PostureModel
import PostureSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the agent has put in place, persisted so a restart can still undo it.
public struct EnforcementState: Codable, Sendable, Equatable {
    public var enforcing = false
    public var since: Date?
    public var reason: String?
    /// The exact nologin text the agent wrote: only a file with this content is removed.
    public var nologinWritten: String?
    public var terminatedSessions: [String] = []
    /// Accounts whose password the agent locked (and only these are unlocked).
    public var lockedAccounts: [String] = []
    public var lastVerdictAt: Date?
    public var lastDecision: String?
    /// The boot this state is about: `/run/nologin` and logind session IDs do not outlive it.
    public var bootID: String?
    /// The newest verified verdict acted on: an older one is a replay, also after a restart.
    public var verdictMark: VerdictMark?
    /// A release was decided and is under way: a restart finishes it rather than re-block.
    public var releasing: Bool?

    public init() {}

    /// The record at `path`; nil when there is none or it cannot be read (enforcement starts afresh).
    public static func load(from path: String) -> EnforcementState? {
        (try? DurableFile.read(path)).flatMap { bytes in
            try? PostureReport.wireDecoder().decode(EnforcementState.self, from: Data(bytes))
        }
    }
}

/// The newest verified verdicts acted on: the highest revision and the latest issue time seen (each kept
/// apart). A verdict is newer when its revision is not below the highest, or, for a collector restored from
/// a backup (revisions back) or one without revisions, when it was issued after the latest yet no more than
/// the leeway ahead of the device's clock. A captured verdict is older by both and refused; one signed while
/// the collector's clock ran ahead counts at most the leeway ahead, so it cannot make later ones look old.
public struct VerdictMark: Sendable, Equatable, Codable {
    public var revision: UInt64?
    public var issuedAt: Date
    /// The device the verdict was about: a re-enrolled device (new ID, revisions from 1) starts afresh.
    public var deviceID: String?

    public init(revision: UInt64?, issuedAt: Date, deviceID: String? = nil) {
        self.revision = revision
        self.issuedAt = issuedAt
        self.deviceID = deviceID
    }

    /// This mark and `newer` together: the higher revision, the later time.
    public func merged(with newer: VerdictMark) -> VerdictMark {
        guard deviceID == newer.deviceID else { return newer }
        let revision = [self.revision, newer.revision].compactMap { $0 }.max()
        return VerdictMark(revision: revision, issuedAt: max(issuedAt, newer.issuedAt), deviceID: deviceID)
    }
}
