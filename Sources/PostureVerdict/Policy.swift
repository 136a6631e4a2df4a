import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A compliance policy: named rules over posture facts, and what staleness and unavailable facts mean.
/// Parsed by `PolicyParser`; every key is documented in `etc/posture/policy.yaml`.
public struct Policy: Sendable, Equatable {
    /// How old the newest accepted report may be before the device's posture is not known any more.
    public var maxReportAge: Duration = .seconds(900)
    /// What a device without a fresh report is: `unknown` (the default) or `noncompliant`.
    public var whenStale: ComplianceStatus = .unknown
    /// What a rule whose fact is unavailable does, unless the rule says otherwise.
    public var whenUnavailable: UnavailableEffect = .unknown
    /// How long a policy engine may rely on a verdict (the JWT's `exp`), at most.
    public var verdictLifetime: Duration = .seconds(300)
    public var rules: [Rule] = []
    public var risk = RiskModel()
    /// Just-in-time access the collector may grant (`access.grants`); none by default.
    public var grants: [AccessGrant] = []
    /// SHA-256 of the policy file's bytes (first 16 hex digits): names the policy in verdicts.
    public var version: String = "builtin"

    public init() {}
}

public enum UnavailableEffect: String, Sendable, Codable, Equatable {
    /// The verdict is `unknown` (unless another rule fails).
    case unknown
    /// The rule fails: deny on doubt.
    case fail
    /// The rule is skipped.
    case pass
}

public struct Rule: Sendable, Equatable {
    public var name: String
    public var check: Check
    public var severity: Severity = .medium
    /// A failing rule counts only once it has failed for this long (time to remediate).
    public var grace: Duration?
    /// The rule applies only to devices carrying all these labels.
    public var labels: [String: String] = [:]
    public var whenUnavailable: UnavailableEffect?
    public var description: String?
    /// The policy file's line the rule starts on, for messages.
    public var line: Int = 0

    public init(name: String, check: Check) {
        self.name = name
        self.check = check
    }

    public func applies(to deviceLabels: [String: String]) -> Bool { Self.labels(labels, match: deviceLabels) }

    /// A device carries every required label: with that value, or with any value for `*`.
    static func labels(_ required: [String: String], match deviceLabels: [String: String]) -> Bool {
        required.allSatisfy { key, value in value == "*" ? deviceLabels[key] != nil : deviceLabels[key] == value }
    }
}

/// What a rule checks. Each kind is documented in `etc/posture/policy.yaml`.
public enum Check: Sendable, Equatable {
    /// os-release `VERSION_ID` at least the given version for its `ID`; other distributions per `otherDistributions`.
    case osVersion(minimum: [String: String], allowOthers: Bool)
    /// The running kernel's release at least this version (e.g. `6.1`).
    case kernelVersion(minimum: String)
    case rootEncrypted
    case swapEncrypted
    /// Inbound traffic filtered for each of these families (`ipv4`, `ipv6`).
    case inboundFiltered(families: [String])
    /// At most `max` journal events of these categories within `window`.
    case journalEvents(categories: [JournalEventCategory], max: Int, window: Duration)
    case secureBoot
    /// Kernel lockdown at least `integrity` (or `confidentiality`).
    case kernelLockdown(minimum: String)
    /// At least one of these Linux security modules active (e.g. apparmor, selinux).
    case securityModule(anyOf: [String])
    /// sshd, when installed, with these settings.
    case sshd(permitRootLogin: [String]?, passwordAuthentication: Bool?, permitEmptyPasswords: Bool?)
    /// No reboot pending (e.g. after a kernel update).
    case noPendingReboot
    /// Nobody but `allowed` has sudo by a rule Posture did not write (time-bound grants do not count).
    case standingSudo(allowed: [String])
    /// Pending security updates: at most `maxPending`, none waiting longer than `maxPendingAge`, and
    /// package lists refreshed within `maxListsAge` (else "nothing pending" means nothing).
    case securityUpdates(maxPending: Int?, maxPendingAge: Duration?, maxListsAge: Duration?)
    /// The running kernel is the newest installed.
    case runningKernelCurrent
    /// The risk score (failing rules, journal signals, departures from the device's usual rates) at most
    /// `max`: access shrinks when behaviour turns anomalous.
    case maxRisk(max: Int)
    /// Every graphical session idle longer than `maxIdle` is locked; a lock state the desktop does not
    /// report counts as unlocked unless `allowUnknown`.
    case screenLock(maxIdle: Duration, allowUnknown: Bool)
    /// The device key lives at least this well, as enrollment proved it (a TPM: `tpm`).
    case keyProtection(minimum: KeyProtection)
    /// A TPM quote shows `pcrs` as recorded for the device (at enrollment, or an operator's accept), or,
    /// for a PCR in `reference`, one of those values.
    case measuredBoot(pcrs: [Int], reference: [Int: [String]])

    public var kind: String {
        switch self {
        case .osVersion: "osVersion"
        case .kernelVersion: "kernelVersion"
        case .rootEncrypted: "rootEncrypted"
        case .swapEncrypted: "swapEncrypted"
        case .inboundFiltered: "inboundFiltered"
        case .journalEvents: "journalEvents"
        case .secureBoot: "secureBoot"
        case .kernelLockdown: "kernelLockdown"
        case .securityModule: "securityModule"
        case .sshd: "sshd"
        case .noPendingReboot: "noPendingReboot"
        case .standingSudo: "standingSudo"
        case .securityUpdates: "securityUpdates"
        case .runningKernelCurrent: "runningKernelCurrent"
        case .screenLock: "screenLock"
        case .maxRisk: "maxRisk"
        case .keyProtection: "keyProtection"
        case .measuredBoot: "measuredBoot"
        }
    }

    /// The longest journal window any rule needs: how much signal history the collector keeps at hand.
    var window: Duration? {
        if case .journalEvents(_, _, let window) = self { return window }
        return nil
    }
}

/// The risk score: 0–100, the sum of failing rules' weights and live journal signals, capped at 100.
public struct RiskModel: Sendable, Equatable {
    public var window: Duration = .seconds(3600)
    public var severityWeights: [Severity: Int] = [.critical: 40, .high: 25, .medium: 10, .low: 5]
    /// Points per journal event of a category within the window, and the most that category adds.
    public var signals: [JournalEventCategory: SignalWeight] = [
        .sshAuthFailure: SignalWeight(perEvent: 1, max: 20),
        .sshInvalidUser: SignalWeight(perEvent: 2, max: 20),
        .sudoAuthFailure: SignalWeight(perEvent: 2, max: 10),
        .sudoDenied: SignalWeight(perEvent: 5, max: 15),
        .usbDeviceAdded: SignalWeight(perEvent: 5, max: 15),
        .securityUnitStopped: SignalWeight(perEvent: 20, max: 40),
        .securityUnitFailed: SignalWeight(perEvent: 20, max: 40),
        .kernelOops: SignalWeight(perEvent: 5, max: 10),
    ]
    /// Risk that adapts to each device's own usual rates (`risk.baseline`); nil: fixed weights only.
    public var baseline: RiskBaseline?

    public init() {}
}

public struct SignalWeight: Sendable, Equatable {
    public var perEvent: Int
    public var max: Int

    public init(perEvent: Int, max: Int) {
        self.perEvent = perEvent
        self.max = max
    }
}

extension Policy {
    /// How far back journal signals matter: the longest rule window, the risk window, or the risk
    /// baseline's span. The collector keeps and its retention leaves this much signal history.
    public var signalWindow: Duration {
        risk.baseline.map { Swift.max(longestCountingWindow, $0.span) } ?? longestCountingWindow
    }

    /// The windows an event counts in (a rule's, the risk score's): when one leaves a window, the
    /// verdict may change by itself.
    public var countingWindows: [Duration] { [risk.window] + rules.compactMap(\.check.window) }

    /// How far back signals are kept one by one; older ones only feed the risk baseline.
    public var longestCountingWindow: Duration { countingWindows.reduce(risk.window) { Swift.max($0, $1) } }
}
