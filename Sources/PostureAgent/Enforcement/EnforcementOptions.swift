#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How the agent takes local access away when its device is not compliant, and gives it back.
public struct EnforcementOptions: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Verdicts are only recorded (the default for `postured run` by hand).
        case off
        /// Every decision is made and audited, nothing is done.
        case dryRun = "dry-run"
        case enforce
    }

    public enum Offline: String, Sendable, CaseIterable {
        /// After `keepLastVerdictFor` without a verified verdict: take access away.
        case closed
        /// After `keepLastVerdictFor` without a verified verdict: give access back.
        case open
    }

    public var mode: Mode = .off
    /// Never touched: these users and the members of these groups (root always).
    public var exemptUsers: [String] = ["root"]
    public var exemptGroups: [String] = []
    /// Time between telling users (wall) and ending their sessions; zero acts at once.
    public var notifyFor: Duration = .zero
    /// During the notice, lock the screens of the sessions that will end (logind LockSession).
    public var lockDuringNotice = false
    /// Also end sessions, not only block new logins.
    public var terminateSessions = true
    /// Also lock the passwords of non-exempt human accounts (uid ≥ 1000) that have one, and unlock exactly
    /// those again (off by default: it reaches beyond this device's sessions into its accounts).
    public var disableAccounts = false
    /// Act on `unknown` verdicts too (deny on doubt). Off: an unknown verdict keeps the current state.
    public var enforceUnknown = false
    /// How long the last verified verdict stands when the collector cannot be reached.
    public var keepLastVerdictFor: Duration = .seconds(4 * 3600)
    public var offline: Offline = .closed
    public var nologinPath = "/run/nologin"

    public init() {}
}
