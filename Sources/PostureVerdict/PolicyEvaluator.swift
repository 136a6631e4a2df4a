import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything a verdict depends on, gathered by the caller; evaluation itself reads no clock and no store.
public struct EvaluationInput: Sendable {
    public var deviceID: String
    public var labels: [String: String]
    /// Where the device key lives, as enrollment proved it.
    public var keyProtection: KeyProtection
    /// A TPM device's verified boot and its baseline (nil for a software key).
    public var boot: BootEvidence?
    /// The newest accepted report and its issue time; nil when the device never reported.
    public var report: PostureReport?
    public var reportIssuedAt: Date?
    /// Journal counts of the reports within the policy's signal window.
    public var signals: [SignalSample]
    public var quarantine: Quarantine?
    public var waivers: [Waiver]
    /// The previous verdict: when its failing rules started failing (grace periods run from there).
    public var previous: Verdict?
    public var now: Date

    public init(
        deviceID: String, labels: [String: String], report: PostureReport?, reportIssuedAt: Date?,
        signals: [SignalSample] = [], quarantine: Quarantine? = nil, waivers: [Waiver] = [], previous: Verdict? = nil,
        keyProtection: KeyProtection = .software, boot: BootEvidence? = nil, now: Date
    ) {
        self.boot = boot
        self.deviceID = deviceID
        self.labels = labels
        self.keyProtection = keyProtection
        self.report = report
        self.reportIssuedAt = reportIssuedAt
        self.signals = signals
        self.quarantine = quarantine
        self.waivers = waivers
        self.previous = previous
        self.now = now
    }
}

/// What the collector verified of a TPM device's boot, and what it expects.
public struct BootEvidence: Sendable, Equatable {
    /// From the newest report's quote, once verified; nil before the first.
    public var measured: MeasuredBoot?
    /// PCR values recorded at enrollment or by an operator's accept; nil when none was.
    public var baseline: [Int: String]?

    public init(measured: MeasuredBoot?, baseline: [Int: String]?) {
        self.measured = measured
        self.baseline = baseline
    }
}

extension Policy {
    public func evaluate(_ input: EvaluationInput) -> Verdict {
        let now = input.now
        var failing: [RuleOutcome] = []
        var unknown: [RuleOutcome] = []
        var excused: [RuleOutcome] = []
        var deadlines: [Date] = []
        let previousSince = input.previous?.failingSince ?? [:]

        var stale = false
        if let issuedAt = input.reportIssuedAt {
            let staleAt = issuedAt.addingTimeInterval(maxReportAge.seconds)
            if now >= staleAt {
                stale = true
                unknown.append(
                    RuleOutcome(
                        rule: "report-age", severity: .high, state: .stale,
                        observed: "newest report issued \(Self.age(now.timeIntervalSince(issuedAt))) ago",
                        expected: "a report at most \(Self.age(maxReportAge.seconds)) old", since: staleAt))
            } else {
                deadlines.append(staleAt)
            }
        } else {
            stale = true
            unknown.append(
                RuleOutcome(
                    rule: "report-age", severity: .high, state: .stale, observed: "no accepted report",
                    expected: "a report at most \(Self.age(maxReportAge.seconds)) old"))
        }

        if let report = input.report {
            for rule in rules where rule.applies(to: input.labels) {
                let result = RuleCheck.run(
                    rule.check, report: report, signals: input.signals, keyProtection: input.keyProtection,
                    boot: input.boot, now: now)
                switch result {
                case .pass:
                    continue
                case .unavailable(let reason):
                    switch rule.whenUnavailable ?? whenUnavailable {
                    case .pass: continue
                    case .unknown:
                        unknown.append(
                            RuleOutcome(
                                rule: rule.name, severity: rule.severity, state: .unavailable, observed: reason,
                                expected: RuleCheck.expectation(rule.check)))
                        continue
                    case .fail:
                        break
                    }
                case .fail:
                    break
                }
                let observed: String
                switch result {
                case .fail(let text): observed = text
                case .unavailable(let reason): observed = "unavailable: \(reason)"
                case .pass: continue
                }
                let since = previousSince[rule.name] ?? now
                var outcome = RuleOutcome(
                    rule: rule.name, severity: rule.severity, state: .failing, observed: observed,
                    expected: RuleCheck.expectation(rule.check), since: since)
                if let waiver = input.waivers.first(where: {
                    $0.covers(rule: rule.name, deviceID: input.deviceID, labels: input.labels, at: now)
                }) {
                    outcome.state = .waived
                    outcome.until = waiver.expiresAt
                    outcome.waiver = waiver.id
                    excused.append(outcome)
                    deadlines.append(waiver.expiresAt)
                } else if let grace = rule.grace, now < since.addingTimeInterval(grace.seconds) {
                    let end = since.addingTimeInterval(grace.seconds)
                    outcome.state = .grace
                    outcome.until = end
                    excused.append(outcome)
                    deadlines.append(end)
                } else {
                    failing.append(outcome)
                }
            }
        }

        let (risk, reasons) = riskScore(failing: failing, signals: input.signals, now: now)
        // Signals age out of the window: the score may drop by itself then.
        if let oldest = input.signals.filter({ !$0.counts.isEmpty }).map(\.at).min() {
            let expiry = oldest.addingTimeInterval(signalWindow.seconds)
            if expiry > now { deadlines.append(expiry) }
        }

        let status: ComplianceStatus
        if input.quarantine != nil || !failing.isEmpty {
            status = .noncompliant
        } else if stale && whenStale == .noncompliant {
            status = .noncompliant
        } else if !unknown.isEmpty {
            status = .unknown
        } else {
            status = .compliant
        }
        let reevaluateAt = deadlines.filter { $0 > now }.min()
        var validUntil = now.addingTimeInterval(verdictLifetime.seconds)
        if let reevaluateAt, reevaluateAt < validUntil { validUntil = reevaluateAt }
        return Verdict(
            deviceID: input.deviceID, status: status, failing: failing, unknown: unknown, excused: excused,
            risk: risk, riskReasons: reasons, quarantine: input.quarantine, reportIssuedAt: input.reportIssuedAt,
            evaluatedAt: now, validUntil: validUntil, policyVersion: version, reevaluateAt: reevaluateAt)
    }

    func riskScore(failing: [RuleOutcome], signals: [SignalSample], now: Date) -> (Int, [String]) {
        var score = 0
        var reasons: [String] = []
        for outcome in failing {
            let weight = risk.severityWeights[outcome.severity] ?? 0
            score = score.saturatingAdd(weight)
            reasons.append("+\(weight) rule \(outcome.rule) fails (\(outcome.severity.rawValue))")
        }
        let since = now.addingTimeInterval(-risk.window.seconds)
        // One pass over the window's samples. Counts are the devices' own numbers: sums and products
        // saturate instead of trapping.
        var counts: [JournalEventCategory: Int] = [:]
        for sample in signals where sample.at > since {
            for (category, count) in sample.counts {
                counts[category, default: 0] = counts[category, default: 0].saturatingAdd(count)
            }
        }
        for category in JournalEventCategory.allCases {
            guard let weight = risk.signals[category], let count = counts[category], count > 0 else { continue }
            let points = Swift.min(weight.max, count.saturatingMultiply(weight.perEvent))
            score = score.saturatingAdd(points)
            reasons.append("+\(points) \(count) \(category.rawValue) in \(Self.age(risk.window.seconds))")
        }
        return (Swift.min(100, score), reasons)
    }

    static func age(_ seconds: Double) -> String {
        let s = seconds.rounded().saturatingInt
        if s % 86400 == 0 && s >= 86400 { return "\(s / 86400)d" }
        if s % 3600 == 0 && s >= 3600 { return "\(s / 3600)h" }
        if s % 60 == 0 && s >= 60 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
