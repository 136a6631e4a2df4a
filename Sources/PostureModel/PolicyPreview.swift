#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a candidate policy would change before it is enforced: every device's inputs (newest report,
/// labels, signals, quarantine, waivers, previous verdict) evaluated under the policy in force and under the
/// candidate, at one moment, so the only difference is the policy. Nothing is stored, signed or sent.
/// `posture-collector policy diff` and `POST /v1/policy/preview` answer with it; `PolicyPreview.compare`
/// (PostureVerdict) makes it.
public struct PolicyPreview: Sendable, Codable, Equatable {
    /// A device whose verdict status would change, and the rules that make the difference.
    public struct Change: Sendable, Codable, Equatable {
        public var deviceID: String
        public var hostname: String
        public var from: ComplianceStatus
        public var to: ComplianceStatus
        /// Rules that would fail (or be unknown) under the candidate and do not now, with what was observed.
        public var newlyFailing: [RuleOutcome]
        public var newlyUnknown: [RuleOutcome]
        /// Rules that fail or are unknown now and would not under the candidate.
        public var cleared: [String]

        public init(
            deviceID: String, hostname: String, from: ComplianceStatus, to: ComplianceStatus,
            newlyFailing: [RuleOutcome], newlyUnknown: [RuleOutcome], cleared: [String]
        ) {
            self.deviceID = deviceID
            self.hostname = hostname
            self.from = from
            self.to = to
            self.newlyFailing = newlyFailing
            self.newlyUnknown = newlyUnknown
            self.cleared = cleared
        }
    }

    /// How many devices go from one status to another.
    public struct Transition: Sendable, Codable, Equatable {
        public var from: ComplianceStatus
        public var to: ComplianceStatus
        public var devices: Int

        public init(from: ComplianceStatus, to: ComplianceStatus, devices: Int) {
            self.from = from
            self.to = to
            self.devices = devices
        }
    }

    /// Per rule, how many devices it fails, leaves unknown, and excuses (in a grace period or waived: they
    /// fail once that ends) under each policy; a rule only one policy has counts 0 under the other.
    public struct RuleCount: Sendable, Codable, Equatable {
        public var rule: String
        public var failingNow: Int
        public var failingCandidate: Int
        public var unknownNow: Int
        public var unknownCandidate: Int
        public var excusedNow: Int
        public var excusedCandidate: Int

        public init(
            rule: String, failingNow: Int, failingCandidate: Int, unknownNow: Int, unknownCandidate: Int,
            excusedNow: Int = 0, excusedCandidate: Int = 0
        ) {
            self.rule = rule
            self.failingNow = failingNow
            self.failingCandidate = failingCandidate
            self.unknownNow = unknownNow
            self.unknownCandidate = unknownCandidate
            self.excusedNow = excusedNow
            self.excusedCandidate = excusedCandidate
        }
    }

    public var currentPolicy: String
    public var candidatePolicy: String
    public var evaluatedAt: Date
    public var devices: Int
    /// Devices whose status would change.
    public var changed: Int
    public var transitions: [Transition]
    public var rules: [RuleCount]
    /// The changes, towards noncompliant first, then unknown, then compliant; at most the limit asked for.
    public var changes: [Change]

    public init(
        currentPolicy: String, candidatePolicy: String, evaluatedAt: Date, devices: Int, changed: Int,
        transitions: [Transition], rules: [RuleCount], changes: [Change]
    ) {
        self.currentPolicy = currentPolicy
        self.candidatePolicy = candidatePolicy
        self.evaluatedAt = evaluatedAt
        self.devices = devices
        self.changed = changed
        self.transitions = transitions
        self.rules = rules
        self.changes = changes
    }
}

extension PolicyPreview {
    /// For people: counts first, then per rule, then the changes listed.
    public var lines: [String] {
        var lines = [
            "candidate policy \(candidatePolicy) against \(currentPolicy) in force, \(devices) devices:",
            "  \(changed) would change verdict",
        ]
        for transition in transitions {
            lines.append("    \(transition.from.rawValue) → \(transition.to.rawValue): \(transition.devices)")
        }
        lines.append("rules, devices failing (unknown) [in grace or waived] now → with the candidate:")
        let width = rules.map(\.rule.count).max() ?? 0
        for rule in rules {
            let name = rule.rule + String(repeating: " ", count: width - rule.rule.count)
            let same =
                rule.failingNow == rule.failingCandidate && rule.unknownNow == rule.unknownCandidate
                && rule.excusedNow == rule.excusedCandidate
            func counts(_ failing: Int, _ unknown: Int, _ excused: Int) -> String {
                "\(failing) (\(unknown))" + (excused > 0 ? " [\(excused)]" : "")
            }
            lines.append(
                "  \(name)  \(counts(rule.failingNow, rule.unknownNow, rule.excusedNow)) → \(counts(rule.failingCandidate, rule.unknownCandidate, rule.excusedCandidate))\(same ? "" : "  *")"
            )
        }
        if !changes.isEmpty {
            lines.append(changes.count < changed ? "the first \(changes.count) changes:" : "changes:")
        }
        for change in changes {
            var why = change.newlyFailing.map { "\($0.rule) fails (\($0.observed); wants \($0.expected))" }
            why += change.newlyUnknown.map { "\($0.rule) unknown (\($0.observed))" }
            why += change.cleared.map { "\($0) no longer counts" }
            if why.isEmpty { why = ["the same rules; the settings differ (report.whenStale, whenUnavailable, grace)"] }
            lines.append(
                "  \(change.deviceID) \(change.hostname): \(change.from.rawValue) → \(change.to.rawValue): \(why.joined(separator: "; "))"
            )
        }
        return lines
    }
}

extension ComplianceStatus {
    /// Changes that cut access off are listed first.
    public var listOrder: Int {
        switch self {
        case .noncompliant: 0
        case .unknown: 1
        case .compliant: 2
        }
    }
}
