import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The device stages of CISA's Zero Trust Maturity Model (v2.0, Devices pillar, "Policy Enforcement &
/// Compliance Monitoring"), each reached when the one before is and its own evidence holds. README
/// "Maturity stages" gives the model's words each rests on.
public enum MaturityStage: String, Sendable, Codable, CaseIterable, Comparable {
    case traditional
    case initial
    case advanced
    case optimal

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }

    public var next: MaturityStage? {
        let index = Self.allCases.firstIndex(of: self) ?? 0
        return index + 1 < Self.allCases.count ? Self.allCases[index + 1] : nil
    }
}

/// What the collector holds about one device that the stages ask about.
public struct MaturityEvidence: Sendable {
    /// When the device signed its newest accepted report.
    public var reportIssuedAt: Date?
    /// The policy's `report.maxAge`: a report older than this no longer counts.
    public var maxReportAge: Duration
    /// The agent's settings as its newest report states them.
    public var agent: AgentFacts?
    /// As enrollment proved it.
    public var keyProtection: KeyProtection
    /// Users with standing sudo, from the newest report; nil when not reported or unreadable.
    public var standingSudo: [String]?
    /// When a policy engine last pulled this device's verdict (`GET /v1/devices/ID/verdict`).
    public var verdictPulledAt: Date?
    /// An enabled Shared Signals stream delivers compliance changes (every device's).
    public var signalStream: Bool
    public var now: Date

    public init(
        reportIssuedAt: Date?, maxReportAge: Duration, agent: AgentFacts?, keyProtection: KeyProtection,
        standingSudo: [String]?, verdictPulledAt: Date?, signalStream: Bool, now: Date
    ) {
        self.reportIssuedAt = reportIssuedAt
        self.maxReportAge = maxReportAge
        self.agent = agent
        self.keyProtection = keyProtection
        self.standingSudo = standingSudo
        self.verdictPulledAt = verdictPulledAt
        self.signalStream = signalStream
        self.now = now
    }
}

/// A device's stage and what it lacks for the next one, each item with its fix.
public struct MaturityAssessment: Sendable, Codable, Equatable {
    public var stage: MaturityStage
    /// Nil at `optimal`.
    public var next: MaturityStage?
    /// What `next` needs that the device does not show, in the order of the stages' criteria.
    public var missing: [String]

    public init(stage: MaturityStage, next: MaturityStage?, missing: [String]) {
        self.stage = stage
        self.next = next
        self.missing = missing
    }

    /// Reports at least this often for `optimal` ("continuously").
    public static let continuousInterval = 300
    /// A policy engine's pull counts for this long.
    public static let pullWindow: Double = 86400

    public init(_ evidence: MaturityEvidence) {
        self.init(evidence, describe: true)
    }

    /// The stage alone, no words built: what a fleet summary counts, 100,000 devices at a time.
    public static func stage(_ evidence: MaturityEvidence) -> MaturityStage {
        MaturityAssessment(evidence, describe: false).stage
    }

    private init(_ evidence: MaturityEvidence, describe: Bool) {
        var stage = MaturityStage.traditional
        var missing: [String] = []
        for candidate in MaturityStage.allCases.dropFirst() {
            let lacking = Self.lacking(for: candidate, evidence, describe: describe)
            if lacking.isEmpty {
                stage = candidate
            } else {
                missing = lacking
                break
            }
        }
        self.stage = stage
        self.next = stage.next
        self.missing = missing
    }

    /// The criteria `stage` adds to the one before that `evidence` does not meet.
    static func lacking(for stage: MaturityStage, _ evidence: MaturityEvidence, describe: Bool = true) -> [String] {
        var lacking: [String] = []
        // The words are built only when asked for (an autoclosure), so counting stages costs comparisons.
        func lack(_ text: @autoclosure () -> String) { lacking.append(describe ? text() : "") }
        switch stage {
        case .traditional:
            break
        case .initial:
            // "receives self-reported device characteristics"
            if let issued = evidence.reportIssuedAt {
                let age = evidence.now.timeIntervalSince(issued)
                if age >= evidence.maxReportAge.seconds {
                    lack(
                        "a report within report.maxAge (\(Policy.age(evidence.maxReportAge.seconds))): the newest is \(RuleCheck.roughAge(age)) old (is postured running and reaching the collector?)"
                    )
                }
            } else {
                lack("a report (enroll the device and start postured)")
            }
        case .advanced:
            // "verified insights ... and enforces compliance"
            if evidence.keyProtection != .tpm {
                lack(
                    "a device key in a TPM, proven at enrollment (a TPM at /dev/tpmrm0 whose maker's CA is in the collector's tpm.endorsementRoots; then postured enroll --force --tpm device:/dev/tpmrm0 with the collector, a token and its CA)"
                )
            }
            switch evidence.agent?.enforcement {
            case "enforce": break
            case let mode?:
                lack(
                    "enforcement: the agent runs with enforcement.mode \(mode) (set enforce in agent.yaml, or --enforce enforce in POSTURED_OPTIONS of /etc/default/postured)"
                )
            case nil:
                lack("enforcement: the agent does not say its mode (upgrade posture-agent)")
            }
        case .optimal:
            // "continuously verifies insights and enforces compliance throughout the lifetime". What booted is
            // quoted with every report of a TPM device (ingest refuses one without), which advanced requires.
            if let interval = evidence.agent?.intervalSeconds, interval > Self.continuousInterval {
                lack(
                    "continuous attestation: a report every \(Policy.age(Double(interval))) (set interval to \(Policy.age(Double(Self.continuousInterval))) or less in agent.yaml)"
                )
            }
            switch evidence.standingSudo {
            case nil:
                lack(
                    "no standing privileges: standing sudo is not reported (upgrade posture-agent; it reads /etc/sudoers as root)"
                )
            case let users? where !users.isEmpty:
                lack(
                    "no standing privileges: \(users.prefix(5).joined(separator: ", ")) hold sudo by a sudoers rule (remove it and grant sudo just in time: access.grants in the policy)"
                )
            default: break
            }
            let pulled = evidence.verdictPulledAt.map { evidence.now.timeIntervalSince($0) <= Self.pullWindow } ?? false
            if !pulled && !evidence.signalStream {
                lack(
                    "verdicts reaching a policy engine: none pulled this device's verdict in the last 24h (GET /v1/devices/ID/verdict with a verdict:read token) and no Shared Signals stream is enabled"
                )
            }
        }
        return lacking
    }
}
