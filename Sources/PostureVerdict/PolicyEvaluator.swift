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
    /// When the device's signal history began (enrollment), for the risk baseline.
    public var historySince: Date?
    /// Events per hour the fleet's devices with the device's labels usually have (`RiskBaseline`): what a
    /// device with little history of its own is judged against.
    public var fleetRates: [JournalEventCategory: Double] = [:]
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

        /// Files one rule's result: unknown, failing, or excused by a waiver or its grace period.
        func judge(_ rule: Rule, _ result: RuleCheck.Result) {
            switch result {
            case .pass:
                return
            case .unavailable(let reason):
                switch rule.whenUnavailable ?? whenUnavailable {
                case .pass: return
                case .unknown:
                    unknown.append(
                        RuleOutcome(
                            rule: rule.name, severity: rule.severity, state: .unavailable, observed: reason,
                            expected: RuleCheck.expectation(rule.check)))
                    return
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
            case .pass: return
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

        let applicable = rules.filter { $0.applies(to: input.labels) }
        if let report = input.report {
            for rule in applicable {
                if case .maxRisk = rule.check { continue }
                judge(
                    rule,
                    RuleCheck.run(
                        rule.check, report: report, signals: input.signals, keyProtection: input.keyProtection,
                        boot: input.boot, now: now))
            }
        }

        let (risk, reasons) = riskScore(failing: failing, input: input)
        // A risk bound is judged on the score the other rules and the signals make (its own weight does not
        // add to what it measures).
        if input.report != nil {
            for rule in applicable {
                guard case .maxRisk(let max) = rule.check else { continue }
                judge(rule, risk > max ? .fail("risk \(risk): \(reasons.joined(separator: "; "))") : .pass)
            }
        }
        // Signals age out of each window they count in: the score may drop by itself then.
        for window in countingWindows {
            let since = now.addingTimeInterval(-window.seconds)
            if let oldest = input.signals.lazy.filter({ $0.at > since && !$0.counts.isEmpty }).map(\.at).min() {
                deadlines.append(oldest.addingTimeInterval(window.seconds))
            }
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

    func riskScore(failing: [RuleOutcome], input: EvaluationInput) -> (Int, [String]) {
        let (signals, now) = (input.signals, input.now)
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
        if let baseline = risk.baseline {
            let hours = risk.window.seconds / 3600
            let usual = baseline.usualRates(
                signals, since: input.historySince, windowStart: since, fleet: input.fleetRates, now: now)
            for category in JournalEventCategory.allCases {
                guard let count = counts[category], count > 0, hours > 0 else { continue }
                let rate = Double(count) / hours
                let expected = usual[category] ?? 0
                guard rate > Swift.max(baseline.margin * expected, baseline.floorPerHour) else { continue }
                score = score.saturatingAdd(baseline.points)
                reasons.append(
                    "+\(baseline.points) \(category.rawValue) \(Self.rate(rate))/h, baseline \(Self.rate(expected))/h")
            }
        }
        return (Swift.min(100, score), reasons)
    }

    /// `40`, `2.5`, `0.04`: a rate a person compares, not its digits.
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "?" }
        if value >= 10 { return String(value.rounded().saturatingInt) }
        if value >= 0.1 { return String(format: "%.1f", value) }
        return value == 0 ? "0" : String(format: "%.2g", value)
    }

    static func age(_ seconds: Double) -> String {
        let s = seconds.rounded().saturatingInt
        if s % 86400 == 0 && s >= 86400 { return "\(s / 86400)d" }
        if s % 3600 == 0 && s >= 3600 { return "\(s / 3600)h" }
        if s % 60 == 0 && s >= 60 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
