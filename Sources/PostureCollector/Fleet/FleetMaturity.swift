import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Each device's maturity stage (`MaturityAssessment`) from what the running collector holds in memory (its
/// newest report, key, quote) and what every collector shares in the store (verdict pulls, streams). The
/// offline tool has no stages: they rest on the running collector's evaluation.
extension FleetOperations {
    func maturity(_ id: String, now: Date) async throws -> MaturityAssessment? {
        guard let running else { return nil }
        let (policy, entry) = await running.verdicts.accessInputs(id)
        guard let entry, entry.revoked == nil else { return nil }
        let pulls = try await store.verdictPulls(since: now - MaturityAssessment.pullWindow, deviceID: id)
        let stream = await Self.signalStream(running)
        return MaturityAssessment(Self.evidence(entry, policy: policy, pulledAt: pulls[id], stream: stream, now: now))
    }

    /// Active devices per stage, every stage present, as counted at most a minute ago (`StageCounts`).
    func stageCounts(now: Date) async throws -> [String: Int]? {
        guard let running else { return nil }
        return try await running.stageCounts.counts(now: now) {
            let (policy, entries) = await running.verdicts.entriesWithoutSignals()
            let pulls = try await store.verdictPulls(since: now - MaturityAssessment.pullWindow, deviceID: nil)
            return Self.stageCounts(
                entries, policy: policy, pulls: pulls, stream: await Self.signalStream(running), now: now)
        }
    }

    static func stageCounts(
        _ entries: [String: VerdictService.Entry], policy: Policy, pulls: [String: Date], stream: Bool, now: Date
    ) -> [String: Int] {
        var counts = Dictionary(uniqueKeysWithValues: MaturityStage.allCases.map { ($0.rawValue, 0) })
        for (id, entry) in entries {
            let stage = MaturityAssessment.stage(
                evidence(entry, policy: policy, pulledAt: pulls[id], stream: stream, now: now))
            counts[stage.rawValue, default: 0] += 1
        }
        return counts
    }

    /// An enabled Shared Signals stream that asked for compliance changes: every device's reach a receiver.
    static func signalStream(_ running: CollectorCore) async -> Bool {
        await running.transmitter.allStreams().contains {
            $0.status == "enabled" && $0.eventsRequested.contains(SecurityEvents.complianceChange)
        }
    }

    static func evidence(
        _ entry: VerdictService.Entry, policy: Policy, pulledAt: Date?, stream: Bool, now: Date
    ) -> MaturityEvidence {
        MaturityEvidence(
            reportIssuedAt: entry.issuedAt, maxReportAge: policy.maxReportAge, agent: entry.report?.agent,
            keyProtection: entry.keyProtection,
            standingSudo: entry.report?.sudo?.value?.standingUsers,
            verdictPulledAt: pulledAt, signalStream: stream, now: now)
    }
}

/// The fleet summary's devices per maturity stage, counted at most once a minute: over 100,000 devices the
/// count takes about a quarter of a second (posture-fleet-bench), and a dashboard overview asks for it at
/// every load.
actor StageCounts {
    static let lifetime: Double = 60

    private var counted: (at: Date, counts: [String: Int])?

    func counts(now: Date, count: () async throws -> [String: Int]) async rethrows -> [String: Int] {
        if let counted, now >= counted.at, now.timeIntervalSince(counted.at) < Self.lifetime { return counted.counts }
        let counts = try await count()
        counted = (now, counts)
        return counts
    }
}

extension FleetState {
    /// Devices per maturity stage under `policy` (the fleet benchmark's measure of the summary's cost).
    public func stageCounts(policy: Policy, now: Date) -> [String: Int] {
        FleetOperations.stageCounts(entries, policy: policy, pulls: [:], stream: false, now: now)
    }
}
