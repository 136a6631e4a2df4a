import Logging
import PostureModel
import PostureStore
import PostureVerdict

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every active device's evaluation inputs as the verdict service holds them: loaded from the store when a
/// collector starts, and by the offline what-if (`posture-collector policy diff`) the same way, so both
/// evaluate exactly what the running collector would.
public struct FleetState: Sendable {
    var entries: [String: VerdictService.Entry]
    var quarantines: [String: Quarantine]
    var waivers: [Waiver]

    /// Devices, their newest reports (replayed boot evidence included), signals within the window, their
    /// stored verdicts (where grace periods run from), quarantines and waivers.
    public static func load(
        from store: any PostureStore, signalWindow: Duration, exactWindow: Duration? = nil, now: Date, logger: Logger
    )
        async throws -> FleetState
    {
        let decoder = PostureReport.wireDecoder()
        var stored: [String: Verdict] = [:]
        for row in try await store.verdicts() {
            stored[row.deviceID] = try? decoder.decode(Verdict.self, from: Data(row.verdict.utf8))
        }
        var entries: [String: VerdictService.Entry] = [:]
        for device in try await store.activeDevices() {
            var entry = VerdictService.Entry(device)
            entry.verdict = stored[device.id]
            entries[device.id] = entry
        }
        for latest in try await store.latestReports() where entries[latest.deviceID] != nil {
            // A report stored before its ranges were checked must not take the verdict service down at
            // every start: out of range, it counts as no report (unknown) until the device sends again.
            do {
                try PayloadLimits.check(latest.attestation)
                entries[latest.deviceID]?.take(latest.attestation.report, boot: nil)
                entries[latest.deviceID]?.issuedAt = latest.attestation.issuedAt
            } catch {
                logger.warning(
                    "stored report out of range, ignoring it until the device reports again: \(error.message)",
                    metadata: [
                        "posture.event": "stored-report-ignored", "posture.device": "\(latest.deviceID)",
                        "posture.code": "\(error.code)",
                    ])
            }
        }
        var state = FleetState(
            entries: entries, quarantines: try await store.quarantines(), waivers: try await store.waivers())
        try await state.loadSignals(
            from: store, since: now.addingTimeInterval(-signalWindow.seconds),
            exactSince: now.addingTimeInterval(-(exactWindow ?? signalWindow).seconds))
        return state
    }

    /// Every device's journal signals since `since`, read again from the store (a candidate policy may look
    /// further back than the running collector keeps).
    /// The history `policy` looks at: its signal window, one by one within its counting windows.
    mutating func loadSignals(from store: any PostureStore, for policy: Policy, now: Date) async throws {
        try await loadSignals(
            from: store, since: now.addingTimeInterval(-policy.signalWindow.seconds),
            exactSince: now.addingTimeInterval(-policy.longestCountingWindow.seconds))
    }

    /// Read six hours at a time, samples older than `exactSince` merged by the hour as they come: weeks of a
    /// noisy fleet's history never sit in memory row by row.
    mutating func loadSignals(from store: any PostureStore, since: Date, exactSince: Date? = nil) async throws {
        let decoder = PostureReport.wireDecoder()
        for id in entries.keys { entries[id]?.signals = [] }
        let exactSince = exactSince ?? since
        var start = since
        while start < .distantFuture {
            let end = start < exactSince ? min(start.addingTimeInterval(6 * 3600), exactSince) : .distantFuture
            for row in try await store.signals(after: start, through: end) {
                guard let counts = try? decoder.decode([JournalEventCategory: Int].self, from: Data(row.counts.utf8))
                else { continue }
                entries[row.deviceID]?.signals.append(SignalSample(at: row.issuedAt, counts: counts))
            }
            if end <= exactSince {
                for id in entries.keys { entries[id]?.coalesceSignals(before: exactSince) }
            }
            start = end
        }
    }

    public var deviceCount: Int { entries.count }

    /// The fleet's usual rates per label set under `baseline`, from the devices' signal histories.
    static func fleetRates(_ entries: [VerdictService.Entry], _ baseline: RiskBaseline?, now: Date) -> FleetRates {
        guard let baseline else { return FleetRates() }
        return baseline.fleetRates(
            entries.compactMap { entry in entry.enrolledAt.map { (entry.labels, entry.signals, $0) } }, now: now)
    }

    /// The waivers that count at `now`.
    static func inForce(_ waivers: [Waiver], at now: Date) -> [Waiver] {
        waivers.filter { $0.revokedAt == nil && $0.expiresAt > now }
    }

    /// What a candidate policy would change for these devices (`PolicyPreview`), on `width` threads.
    public func preview(
        current: Policy, candidate: Policy, limit: Int, width: Int = ProcessInfo.processInfo.activeProcessorCount,
        now: Date
    ) async -> PolicyPreview {
        let waivers = Self.inForce(waivers, at: now)
        // The candidate's baseline when it has one: the what-if is about it.
        let rates = Self.fleetRates(
            Array(entries.values), candidate.risk.baseline ?? current.risk.baseline, now: now)
        let inputs = entries.map { id, entry in
            entry.input(id, quarantine: quarantines[id], waivers: waivers, fleetRates: rates, now: now)
        }
        var preview = await PolicyPreview.compare(
            current: current, candidate: candidate, inputs: inputs, limit: limit, width: width, now: now)
        // Only the devices listed are named.
        for index in preview.changes.indices {
            preview.changes[index].hostname = entries[preview.changes[index].deviceID]?.hostname ?? ""
        }
        return preview
    }
}
