import Dispatch
import PostureModel
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PolicyPreview {
    /// Evaluates both policies over every input on `width` threads of their own, outside Swift's cooperative
    /// pool: a running collector's preview takes seconds of CPU on a large fleet, and the tasks that serve
    /// attestations must not wait behind it (it asks for one thread; the offline diff for every core).
    /// - Parameters:
    ///   - limit: how many changes to list (all are counted).
    public static func compare(
        current: Policy, candidate: Policy, inputs: [EvaluationInput],
        limit: Int = 100, width: Int = ProcessInfo.processInfo.activeProcessorCount, now: Date
    ) async -> PolicyPreview {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(
                    returning: compareNow(
                        current: current, candidate: candidate, inputs: inputs, limit: limit,
                        width: width, now: now))
            }
        }
    }

    private static func compareNow(
        current: Policy, candidate: Policy, inputs: [EvaluationInput], limit: Int,
        width: Int, now: Date
    ) -> PolicyPreview {
        let width = max(1, min(16, width))
        let chunk = max(256, (inputs.count + width - 1) / width)
        let chunks = (inputs.count + chunk - 1) / chunk
        let results = Mutex<[Tally]>([])
        DispatchQueue.concurrentPerform(iterations: chunks) { index in
            var tally = Tally()
            for input in inputs[index * chunk..<min(inputs.count, (index + 1) * chunk)] {
                var input = input
                input.now = now
                tally.add(current: current.evaluate(input), candidate: candidate.evaluate(input))
            }
            results.withLock { $0.append(tally) }
        }
        let partials = results.withLock { $0 }
        var tally = Tally()
        for partial in partials { tally.merge(partial) }
        // A rule that fails nowhere is still listed: a new rule that cuts nobody off says so.
        for name in current.rules.map(\.name) + candidate.rules.map(\.name) + ["report-age"]
        where tally.rules[name] == nil {
            tally.rules[name] = [0, 0, 0, 0, 0, 0]
        }
        var changes = tally.changes.sorted { ($0.to.listOrder, $0.deviceID) < ($1.to.listOrder, $1.deviceID) }
        let changed = changes.count
        changes = Array(changes.prefix(max(0, limit)))
        return PolicyPreview(
            currentPolicy: current.version, candidatePolicy: candidate.version, evaluatedAt: now, devices: inputs.count,
            changed: changed,
            transitions: tally.transitions.map { Transition(from: $0.key.from, to: $0.key.to, devices: $0.value) }
                .sorted { ($0.to.listOrder, $0.from.listOrder) < ($1.to.listOrder, $1.from.listOrder) },
            rules: tally.rules.map { name, counts in
                RuleCount(
                    rule: name, failingNow: counts[0], failingCandidate: counts[1], unknownNow: counts[2],
                    unknownCandidate: counts[3], excusedNow: counts[4], excusedCandidate: counts[5])
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
        /// failing now, failing candidate, unknown now, unknown candidate, excused now, excused candidate
        var rules: [String: [Int]] = [:]
        var changes: [Change] = []

        mutating func add(current: Verdict, candidate: Verdict) {
            count(current.failing, at: 0)
            count(candidate.failing, at: 1)
            count(current.unknown, at: 2)
            count(candidate.unknown, at: 3)
            count(current.excused, at: 4)
            count(candidate.excused, at: 5)
            guard current.status != candidate.status else { return }
            transitions[Key(from: current.status, to: candidate.status), default: 0] += 1
            let before = Set((current.failing + current.unknown).map(\.rule))
            let after = Set((candidate.failing + candidate.unknown).map(\.rule))
            // A rule unknown now that would fail (whenUnavailable: fail) is newly failing too.
            let failingBefore = Set(current.failing.map(\.rule))
            changes.append(
                Change(
                    deviceID: current.deviceID, hostname: "", from: current.status, to: candidate.status,
                    newlyFailing: candidate.failing.filter { !failingBefore.contains($0.rule) },
                    newlyUnknown: candidate.unknown.filter { !before.contains($0.rule) },
                    cleared: before.subtracting(after).sorted()))
        }

        mutating func count(_ outcomes: [RuleOutcome], at slot: Int) {
            for outcome in outcomes { rules[outcome.rule, default: [0, 0, 0, 0, 0, 0]][slot] += 1 }
        }

        mutating func merge(_ other: Tally) {
            transitions.merge(other.transitions, uniquingKeysWith: +)
            rules.merge(other.rules) { zip($0, $1).map(+) }
            changes += other.changes
        }
    }
}
