import PostureModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a candidate policy would change before it is enforced: every device's inputs (newest report,
/// labels, signals, quarantine, waivers, previous verdict) evaluated under the policy in force and under the
/// candidate, at one moment, so the only difference is the policy. Nothing is stored, signed or sent.
/// `posture-collector policy diff` and `POST /v1/policy/preview` answer with it.
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
    }

    /// How many devices go from one status to another.
    public struct Transition: Sendable, Codable, Equatable {
        public var from: ComplianceStatus
        public var to: ComplianceStatus
        public var devices: Int
    }

    /// Per rule, how many devices it fails (and leaves unknown) under each policy; a rule only one policy
    /// has counts 0 under the other.
    public struct RuleCount: Sendable, Codable, Equatable {
        public var rule: String
        public var failingNow: Int
        public var failingCandidate: Int
        public var unknownNow: Int
        public var unknownCandidate: Int
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

    /// Evaluates both policies over every input, spread over the machine's cores.
    /// - Parameters:
    ///   - hostnames: shown next to each changed device.
    ///   - limit: how many changes to list (all are counted).
    public static func compare(
        current: Policy, candidate: Policy, inputs: [EvaluationInput], hostnames: [String: String] = [:],
        limit: Int = 100, now: Date
    ) async -> PolicyPreview {
        let width = max(1, min(16, ProcessInfo.processInfo.activeProcessorCount))
        let chunk = max(256, (inputs.count + width - 1) / width)
        let partials = await withTaskGroup(of: Tally.self) { group in
            for start in stride(from: 0, to: inputs.count, by: chunk) {
                let slice = inputs[start..<min(inputs.count, start + chunk)]
                group.addTask {
                    var tally = Tally()
                    for input in slice {
                        var input = input
                        input.now = now
                        tally.add(current: current.evaluate(input), candidate: candidate.evaluate(input))
                    }
                    return tally
                }
            }
            var all: [Tally] = []
            for await tally in group { all.append(tally) }
            return all
        }
        var tally = Tally()
        for partial in partials { tally.merge(partial) }
        // A rule that fails nowhere is still listed: a new rule that cuts nobody off says so.
        for rule in current.rules + candidate.rules where tally.rules[rule.name] == nil {
            tally.rules[rule.name] = [0, 0, 0, 0]
        }
        var changes = tally.changes.sorted { ($0.to.listOrder, $0.deviceID) < ($1.to.listOrder, $1.deviceID) }
        let changed = changes.count
        changes = Array(changes.prefix(max(0, limit)))
        for index in changes.indices { changes[index].hostname = hostnames[changes[index].deviceID] ?? "" }
        return PolicyPreview(
            currentPolicy: current.version, candidatePolicy: candidate.version, evaluatedAt: now, devices: inputs.count,
            changed: changed,
            transitions: tally.transitions.map { Transition(from: $0.key.from, to: $0.key.to, devices: $0.value) }
                .sorted { ($0.to.listOrder, $0.from.listOrder) < ($1.to.listOrder, $1.from.listOrder) },
            rules: tally.rules.map { name, counts in
                RuleCount(
                    rule: name, failingNow: counts[0], failingCandidate: counts[1], unknownNow: counts[2],
                    unknownCandidate: counts[3])
            }.sorted { $0.rule < $1.rule },
            changes: changes)
    }

    /// One core's share of the counting.
    private struct Tally: Sendable {
        struct Key: Hashable, Sendable {
            let from: ComplianceStatus
            let to: ComplianceStatus
        }
        var transitions: [Key: Int] = [:]
        /// failing now, failing candidate, unknown now, unknown candidate
        var rules: [String: [Int]] = [:]
        var changes: [Change] = []

        mutating func add(current: Verdict, candidate: Verdict) {
            count(current.failing, at: 0)
            count(candidate.failing, at: 1)
            count(current.unknown, at: 2)
            count(candidate.unknown, at: 3)
            guard current.status != candidate.status else { return }
            transitions[Key(from: current.status, to: candidate.status), default: 0] += 1
            let before = Set((current.failing + current.unknown).map(\.rule))
            let after = Set((candidate.failing + candidate.unknown).map(\.rule))
            changes.append(
                Change(
                    deviceID: current.deviceID, hostname: "", from: current.status, to: candidate.status,
                    newlyFailing: candidate.failing.filter { !before.contains($0.rule) },
                    newlyUnknown: candidate.unknown.filter { !before.contains($0.rule) },
                    cleared: before.subtracting(after).sorted()))
        }

        mutating func count(_ outcomes: [RuleOutcome], at slot: Int) {
            for outcome in outcomes { rules[outcome.rule, default: [0, 0, 0, 0]][slot] += 1 }
        }

        mutating func merge(_ other: Tally) {
            transitions.merge(other.transitions, uniquingKeysWith: +)
            rules.merge(other.rules) { zip($0, $1).map(+) }
            changes += other.changes
        }
    }
}

extension ComplianceStatus {
    /// Changes that cut access off are listed first.
    fileprivate var listOrder: Int {
        switch self {
        case .noncompliant: 0
        case .unknown: 1
        case .compliant: 2
        }
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
        lines.append("rules, devices failing (unknown) now → with the candidate:")
        let width = rules.map(\.rule.count).max() ?? 0
        for rule in rules {
            let name = rule.rule + String(repeating: " ", count: width - rule.rule.count)
            let mark =
                rule.failingNow == rule.failingCandidate && rule.unknownNow == rule.unknownCandidate ? "" : "  *"
            lines.append(
                "  \(name)  \(rule.failingNow) (\(rule.unknownNow)) → \(rule.failingCandidate) (\(rule.unknownCandidate))\(mark)"
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
